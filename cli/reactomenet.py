"""`reactomenet`: query the Reactome pathway hierarchy (see docs/cli/reactomenet.md).

Every query goes through :func:`reactomenet.backends.open_backend`, so each command answers from the release
files (``--backend networkx``, the default) or from a loaded Bolt server (``--backend neo4j``). Results go to
stdout (a rich table on a terminal, plain tab-separated text when piped); notes and summaries go to stderr.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from cli import _reactomenet_neo4j
from cli._common import FriendlyGroup
from reactomenet.backends import BACKENDS
from reactomenet.errors import InputError

FORMATS = ("auto", "table", "tsv", "json")


@click.group(cls=FriendlyGroup)
@click.version_option(package_name="biodsnn")
def main() -> None:
    """Query the Reactome pathway hierarchy: genes, pathways, levels, masks, exports."""


# ---------------------------------------------------------------------------------------------- options
def release_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--release and --species."""
    func = click.option(
        "--species",
        default="R-HSA",
        show_default=True,
        help="Reactome species id prefix (R-HSA human, R-MMU mouse, …).",
    )(func)
    func = click.option(
        "--release",
        default=None,
        metavar="DIR",
        help="Release folder with the three Reactome files, plain or .gz (default: $REACTOMENET_RELEASE, "
        "else the bundled copy).",
    )(func)
    return func


def backend_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--release, --species, --backend, --uri, --user, --password-env (see docs/architecture.md)."""
    func = _reactomenet_neo4j.server_options(func, help_prefix="neo4j: ")
    func = click.option(
        "--backend",
        type=click.Choice(BACKENDS),
        default="networkx",
        show_default=True,
        help="Answer from the release files in memory, or from a Bolt server loaded with `reactomenet neo4j load`.",
    )(func)
    return release_options(func)


def format_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """--format auto|table|tsv|json."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="auto",
        show_default=True,
        help="auto: a table on a terminal, tsv when piped.",
    )(func)


def _open(opts: dict[str, Any]) -> Any:
    from reactomenet.backends import open_backend

    backend = opts.pop("backend")
    uri, user, password_env = opts.pop("uri"), opts.pop("user"), opts.pop("password_env")
    release, species = opts.pop("release"), opts.pop("species")
    if backend == "neo4j":
        if release is not None:
            # open_backend refuses it with the way out; do it before asking for a password.
            return open_backend("neo4j", release=release, species=species)
        password = _reactomenet_neo4j.read_password(password_env, user=user)
        return open_backend("neo4j", species=species, uri=uri, user=user, password=password)
    return open_backend("networkx", release=release, species=species)


# ---------------------------------------------------------------------------------------------- output
def _resolve_format(fmt: str) -> str:
    if fmt == "auto":
        return "table" if sys.stdout.isatty() else "tsv"
    return fmt


def _emit(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, *, title: str | None = None) -> None:
    """Print rows as a rich table, tab-separated text with a header, or JSON records."""
    fmt = _resolve_format(fmt)
    if fmt == "json":
        click.echo(json.dumps([dict(zip(columns, row, strict=True)) for row in rows], indent=2))
    elif fmt == "tsv":
        lines = ["\t".join(columns)] + ["\t".join("" if v is None else str(v) for v in row) for row in rows]
        click.echo("\n".join(lines))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        for col in columns:
            table.add_column(col, overflow="fold")
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        Console().print(table)


def _note(message: str) -> None:
    click.echo(message, err=True)


def _pathway_rows(backend: Any, ids: Sequence[str]) -> list[tuple[str, str, int]]:
    rows = []
    for pid in ids:
        p = backend.pathway(pid)
        rows.append((p.id, p.name, p.level))
    return rows


# ---------------------------------------------------------------------------------------------- queries
@main.command("genes-of")
@click.argument("pathway")
@click.option("--inclusive", is_flag=True, help="Union of the pathway's set and the sets of all its descendants.")
@format_option
@backend_options
def genes_of_command(pathway: str, inclusive: bool, fmt: str, **opts: Any) -> None:
    """Genes of PATHWAY (a stable id such as R-HSA-109581), one symbol per line."""
    backend = _open(opts)
    genes = backend.genes_of(pathway, inclusive=inclusive)
    fmt = _resolve_format(fmt)
    if fmt == "json":
        click.echo(json.dumps(genes))
    elif fmt == "tsv":
        if genes:
            click.echo("\n".join(genes))
    else:
        _emit(["gene"], [(g,) for g in genes], "table", title=f"{pathway}: {len(genes)} genes")
    if not genes:
        _note(f"note: {pathway} has no gene set in this release")


def _level_value(text: str) -> int | str:
    if str(text).strip().lower() == "all":
        return "all"
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"--level {text!r} is not a level; use 1, 2, 3, … or all") from None
    if value < 1:
        raise InputError(f"--level {value} is below 1; levels start at 1 (top-level pathways)")
    return value


@main.command("pathways-of")
@click.argument("gene")
@click.option("--level", "level_text", default="all", show_default=True, help="1, 2, 3, … or all.")
@click.option("--inclusive", is_flag=True, help="Use union-over-descendants gene sets.")
@format_option
@backend_options
def pathways_of_command(gene: str, level_text: str, inclusive: bool, fmt: str, **opts: Any) -> None:
    """Pathways holding GENE at a level (id, name, level); says so when the gene is padded."""
    level = _level_value(level_text)
    backend = _open(opts)
    hits = backend.pathways_of(gene, level=level, inclusive=inclusive)
    if hits.padded:
        _note(
            f"note: {gene} has no pathway at level {level}; padded with its deepest pathways "
            f"(level {hits.deepest_level})"
        )
    if _resolve_format(fmt) == "json":
        click.echo(
            json.dumps(
                {
                    "gene": gene,
                    "level": level,
                    "padded": hits.padded,
                    "deepest_level": hits.deepest_level,
                    "pathways": [{"id": p.id, "name": p.name, "level": p.level} for p in hits.pathways],
                },
                indent=2,
            )
        )
        return
    title = f"{gene} at level {level}" + (" (padded)" if hits.padded else "")
    _emit(["id", "name", "level"], [(p.id, p.name, p.level) for p in hits.pathways], fmt, title=title)


def _hierarchy_command(name: str, doc: str) -> click.Command:
    @click.argument("pathway")
    @format_option
    @backend_options
    def command(pathway: str, fmt: str, **opts: Any) -> None:
        backend = _open(opts)
        ids = getattr(backend, name)(pathway)
        _emit(["id", "name", "level"], _pathway_rows(backend, ids), fmt, title=f"{name} of {pathway}")

    command.__doc__ = doc
    return main.command(name)(command)


_hierarchy_command("children", "Direct sub-pathways of PATHWAY.")
_hierarchy_command("parents", "Direct super-pathways of PATHWAY (several for some pathways).")
_hierarchy_command("ancestors", "Every pathway above PATHWAY.")
_hierarchy_command("descendants", "Every pathway below PATHWAY.")


@main.command("level")
@click.argument("pathway")
@backend_options
def level_command(pathway: str, **opts: Any) -> None:
    """Level of PATHWAY (1 = top level; 1 + shortest distance from a top-level pathway)."""
    click.echo(str(_open(opts).level_of(pathway)))


@main.command("search")
@click.argument("text")
@click.option("--level", type=click.IntRange(min=1), default=None, help="Only pathways at this level.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many hits.")
@format_option
@backend_options
def search_command(text: str, level: int | None, limit: int | None, fmt: str, **opts: Any) -> None:
    """Pathways whose name contains TEXT (case-insensitive)."""
    hits = _open(opts).search(text)
    if level is not None:
        hits = [p for p in hits if p.level == level]
    if limit is not None:
        hits = hits[:limit]
    if not hits:
        _note(f"no pathway name contains {text!r}")
    _emit(["id", "name", "level"], [(p.id, p.name, p.level) for p in hits], fmt, title=f"search: {text}")


# ---------------------------------------------------------------------------------------------- mask
def read_gene_list(path: str | os.PathLike[str]) -> list[str]:
    """One symbol per line; blank lines and ``#`` comments skipped; empty or duplicated lists refused.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "g.txt"
        >>> _ = p.write_text("# mine\\nTP53\\n\\nMDM2  # comment\\n")
        >>> read_gene_list(p)
        ['TP53', 'MDM2']
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"gene list {file} does not exist; give a text file with one symbol per line") from None
    except (UnicodeDecodeError, IsADirectoryError) as exc:
        raise InputError(f"gene list {file} is not a text file ({exc.__class__.__name__})") from None
    genes: list[str] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if len(line.split()) > 1:
            raise InputError(f"{file} line {lineno}: {line!r} holds more than one name; give one symbol per line")
        if line in seen:
            raise InputError(
                f"{file} line {lineno}: {line} is listed twice (first on line {seen[line]}); list each gene once"
            )
        seen[line] = lineno
        genes.append(line)
    if not genes:
        raise InputError(f"gene list {file} is empty; give one symbol per line")
    return genes


@main.command("mask")
@click.option("--genes", "genes_path", required=True, metavar="FILE", help="One gene symbol per line.")
@click.option("--level", default=3, show_default=True, type=click.IntRange(min=1), help="Pathway level.")
@click.option("-o", "--output", required=True, metavar="FILE", help="Parquet file (i, j, gene_i, gene_j, source).")
@click.option("--inclusive", is_flag=True, help="Use union-over-descendants gene sets.")
@click.option("--map-names", is_flag=True, help="Map aliases and Ensembl ids to HGNC symbols first (reported).")
@backend_options
def mask_command(genes_path: str, level: int, output: str, inclusive: bool, map_names: bool, **opts: Any) -> None:
    """Gene × gene mask: pairs of genes sharing a level-N pathway, plus the diagonal, as Parquet."""
    from reactomenet.io import check_output_file

    check_output_file(output, [genes_path])
    genes = read_gene_list(genes_path)
    backend = _open(opts)
    if map_names:
        from reactomenet import GeneMapper

        result = GeneMapper.load().map(genes, universe=backend.genes())
        if result.collisions:
            first = next(iter(result.collisions.items()))
            raise InputError(f"{', '.join(first[1])} all map to {first[0]}; keep one of them in {genes_path}")
        for name, symbol in result.renamed.items():
            _note(f"renamed {name} -> {symbol}")
        for name, candidates in result.ambiguous.items():
            _note(f"ambiguous {name}: {', '.join(candidates)} (kept as given)")
        genes = [s if s is not None else n for n, s in zip(genes, result.symbols, strict=True)]
    mask = backend.mask(genes, level=level, inclusive=inclusive)
    mask.to_parquet(output)
    _note(
        f"wrote {output}: {len(mask.genes)} genes, {mask.n_pairs} pairs (diagonal included), "
        f"{len(mask.missing)} not in Reactome, {len(mask.padded)} padded"
    )
    if mask.missing:
        shown = ", ".join(mask.missing[:10]) + (" …" if len(mask.missing) > 10 else "")
        _note(f"not in Reactome: {shown}")


# ---------------------------------------------------------------------------------------------- release-level
@main.command("export")
@click.option("-o", "--output", required=True, metavar="DIR",
              help="New or empty folder, or an earlier export (replaced as a whole).")
@click.option("--levels", default="1,2,3", show_default=True, help="Levels of the gene_pathways_L*.parquet tables.")
@click.option("--inclusive", is_flag=True, help="Use union-over-descendants gene sets for the gene tables.")
@click.option("--overwrite", is_flag=True, help="Write into a folder holding other files (only the export's replaced).")
@release_options
def export_command(output: str, levels: str, inclusive: bool, overwrite: bool, release: str | None,
                   species: str) -> None:
    """Write nodes.parquet, edges.parquet and gene_pathways_L1..L3.parquet to DIR."""
    from reactomenet import ReactomeGraph
    from reactomenet.export import export_graph

    try:
        wanted = [int(x) for x in levels.replace(" ", "").split(",") if x]
    except ValueError:
        raise InputError(f"--levels {levels!r}: give whole numbers separated by commas, e.g. 1,2,3") from None
    from reactomenet.export import EXPORT_FILES
    from reactomenet.io import check_output_folder

    check_output_folder(output, own=EXPORT_FILES, overwrite=overwrite, what="export folder")  # before any work
    paths = export_graph(ReactomeGraph.load(release, species=species), output, levels=wanted, inclusive=inclusive,
                         overwrite=overwrite)
    _note(f"wrote {len(paths)} files to {output}: {', '.join(p.name for p in paths)}")


@main.command("info")
@format_option
@release_options
def info_command(fmt: str, release: str | None, species: str) -> None:
    """Release folder, file hashes, species, and pathway counts per level."""
    from reactomenet import ReactomeGraph, __version__

    graph = ReactomeGraph.load(release, species=species)
    rel = graph.release
    levels = graph.levels()
    facts: list[tuple[str, Any]] = [
        ("release", f"{rel.dir}" + (" (bundled)" if rel.bundled else "")),
        ("species", f"{rel.species} ({rel.species_name})"),
        ("pathways", sum(levels.values())),
        ("genes", len(graph.genes())),
        ("top-level pathways", levels.get(1, 0)),
        ("deepest level", max(levels)),
    ]
    facts += [(f"pathways at level {k}", v) for k, v in levels.items()]
    facts += [(f"sha256 {name}", digest) for name, digest in sorted(rel.sha256.items())]
    facts.append(("reactomenet", __version__))
    if _resolve_format(fmt) == "json":
        click.echo(
            json.dumps(
                {
                    **rel.provenance(),
                    "pathways": sum(levels.values()),
                    "genes": len(graph.genes()),
                    "levels": {str(k): v for k, v in levels.items()},
                    "package_version": __version__,
                },
                indent=2,
            )
        )
        return
    _emit(["field", "value"], facts, fmt, title="Reactome release")


@main.command("map")
@click.argument("names", nargs=-1)
@click.option("--genes", "genes_path", default=None, metavar="FILE", help="Read names from a file instead.")
@format_option
def map_command(names: tuple[str, ...], genes_path: str | None, fmt: str) -> None:
    """Map gene aliases and Ensembl ids to HGNC symbols; report what could not be mapped."""
    from reactomenet import GeneMapper

    items = list(names) + (read_gene_list(genes_path) if genes_path else [])
    if not items:
        raise InputError("no names given; pass names as arguments or --genes FILE")
    result = GeneMapper.load().map(items)
    rows = []
    for name, symbol in zip(result.names, result.symbols, strict=True):
        status = (
            "ambiguous"
            if name in result.ambiguous
            else "unmapped"
            if symbol is None
            else "renamed"
            if name in result.renamed
            else "ok"
        )
        rows.append((name, symbol, status, ", ".join(result.ambiguous.get(name, []))))
    _emit(["name", "symbol", "status", "candidates"], rows, fmt, title="gene names")
    if result.unmapped:
        _note(f"{len(result.unmapped)} name(s) could not be mapped: {', '.join(result.unmapped[:10])}")


for _command in _reactomenet_neo4j.COMMANDS:
    main.add_command(_command)

if __name__ == "__main__":
    main()
