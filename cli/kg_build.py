"""`kg-build`: build the knowledge bundle the model trains on (see docs/cli/kg-build.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cli._common import FriendlyGroup, RegistryChoice, data_options, load_data


@click.group(cls=FriendlyGroup)
@click.version_option(package_name="biodsnn")
def main() -> None:
    """Build knowledge bundles: GO graph, co-expression graph, Reactome attention mask."""


def _data_options(f: Callable[..., Any], *, required: bool = True) -> Callable[..., Any]:
    """The shared data options plus --map-genes (kg_build can map Ensembl ids and aliases to symbols)."""
    help_text = ("Perturb-seq AnnData (.h5ad or .zarr)." if required
                 else "Optional .h5ad: its perturbed genes are always GO-graph nodes.")
    f = click.option("--map-genes", is_flag=True, help="Map Ensembl ids / aliases to symbols (GeneMapper).")(f)
    return data_options(f, required=required, help=help_text)


def _split_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--split",
        "split_path",
        default=None,
        type=click.Path(dir_okay=False),
        help="split.json (biodsnn data split); required: only training cells feed co-expression.",
    )(f)


def _go_options(f: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option(
            "--go-table",
            default=None,
            type=click.Path(dir_okay=False),
            help="gene→GO TSV/CSV or GAF file (default: bundled org.Hs.eg.db 3.16.0).",
        ),
        click.option(
            "--ontology",
            "ontologies",
            multiple=True,
            type=RegistryChoice("kg_build.go:ONTOLOGIES", what="ontology"),
            help="Keep this ontology (repeatable; default all three).",
        ),
        click.option("--drop-evidence", multiple=True, help="Drop this evidence code, e.g. IEA (repeatable)."),
        click.option("--propagate/--no-propagate", default=False, help="Annotate ancestors of each term too."),
        click.option(
            "--relation",
            "relations",
            multiple=True,
            type=RegistryChoice("kg_build.go:ALL_RELATIONS", what="GO relation"),
            help="DAG relation followed by --propagate (repeatable; default is_a and part_of).",
        ),
        click.option(
            "--perturbable",
            default=None,
            type=click.Path(dir_okay=False),
            help="File with one gene per line: the genes that can be perturbed (default: all annotated).",
        ),
        click.option("--go-top-k", default=20, show_default=True, type=click.IntRange(1)),
        click.option("--go-min-similarity", default=0.1, show_default=True, type=float),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _load(kw: dict[str, Any]) -> Any:
    return load_data(kw["data_path"], kw)


def _check_out_file(kw: dict[str, Any]) -> None:
    """An output Parquet file must not replace an input (data, split, GO table, gene list)."""
    from reactomenet.io import check_output_file

    names = ("data_path", "split_path", "go_table", "perturbable")
    check_output_file(kw["out"], [kw.get(k) for k in names])


def _split(path: str | None) -> Any:
    from biodsnn.data import Split  # the split file is biodsnn's; kg_build only reads the loaded object
    from reactomenet.errors import InputError

    if path is None:
        raise InputError("no split given: the co-expression graph and the mask use training cells only; pass "
                         "--split split.json (make one with `biodsnn data split`)")
    return Split.load(path)


def _gene_list(path: str | None) -> list[str] | None:
    if path is None:
        return None
    from reactomenet.errors import InputError, NotFoundError

    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"gene list {p} not found; give a file with one gene per line")
    genes = [ln.strip() for ln in p.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    if not genes:
        raise InputError(f"gene list {p} is empty; give one gene symbol per line")
    return genes


def _annotations(kw: dict[str, Any]) -> Any:
    from kg_build.go import DEFAULT_RELATIONS, ONTOLOGIES, load_go_annotations

    return load_go_annotations(
        kw["go_table"],
        ontologies=kw["ontologies"] or ONTOLOGIES,
        drop_evidence=kw["drop_evidence"],
        propagate=kw["propagate"],
        relations=kw["relations"] or DEFAULT_RELATIONS,
    )


@main.command()
@_data_options
@_split_option
@_go_options
@click.option("--level", default=3, show_default=True, type=click.IntRange(1), help="Reactome pathway level.")
@click.option("--coexpr-top-k", default=20, show_default=True, type=click.IntRange(1))
@click.option("--coexpr-threshold", default=0.4, show_default=True, type=float, help="Minimum |r| (strict).")
@click.option("--coexpr-cells", default=None, type=click.IntRange(2),
              help="Correlate at most N training cells, drawn with the split's seed (default: all; for huge screens).")
@click.option("--mask-top-k", default=20, show_default=True, type=click.IntRange(1))
@click.option("--mask-threshold", default=0.4, show_default=True, type=float, help="Minimum |r| of the fallback.")
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False), help="Bundle folder to write.")
@click.option("--overwrite", is_flag=True, help="Write into a folder holding other files (only the bundle's replaced).")
def bundle(**kw: Any) -> None:
    """Build the whole knowledge bundle into a folder (replaced atomically)."""
    from kg_build.bundle import OWN_FILES, build_bundle
    from kg_build.go import DEFAULT_RELATIONS, ONTOLOGIES
    from reactomenet.io import check_output_folder

    inputs = [kw["data_path"], kw["split_path"], kw["go_table"], kw["perturbable"]]
    check_output_folder(kw["out"], own=OWN_FILES, inputs=inputs, overwrite=kw["overwrite"], what="bundle folder")
    split = _split(kw["split_path"])
    data = _load(kw)
    out = build_bundle(
        data,
        split,
        kw["out"],
        split_path=kw["split_path"],
        level=kw["level"],
        go_top_k=kw["go_top_k"],
        go_min_similarity=kw["go_min_similarity"],
        coexpr_top_k=kw["coexpr_top_k"],
        coexpr_threshold=kw["coexpr_threshold"],
        coexpr_cells=kw["coexpr_cells"],
        mask_top_k=kw["mask_top_k"],
        mask_threshold=kw["mask_threshold"],
        go_table=kw["go_table"],
        ontologies=kw["ontologies"] or ONTOLOGIES,
        drop_evidence=kw["drop_evidence"],
        propagate=kw["propagate"],
        relations=kw["relations"] or DEFAULT_RELATIONS,
        perturbable=_gene_list(kw["perturbable"]),
        map_genes=kw["map_genes"],
        data_path=kw["data_path"],
        progress=True,
        overwrite=kw["overwrite"],
        inputs=inputs,
    )
    import json

    manifest = json.loads((Path(out) / "manifest.json").read_text())
    c, m = manifest["counts"], manifest["mask"]
    click.echo(
        f"{out}: {c['measured_genes']} genes, {c['perturbable_genes']} perturbable, {c['go_edges']} GO edges, "
        f"{c['coexpression_edges']} co-expression edges, mask {c['mask_pairs']} pairs (density {m['density']:.4f}; "
        f"rows covered: reactome {m['genes_covered']['reactome']}, coexpression {m['genes_covered']['coexpression']})"
    )
    outside = c.get("perturbed_without_go") or []
    if outside:
        shown = ", ".join(outside[:10]) + (" …" if len(outside) > 10 else "")
        click.echo(f"note: {len(outside)} perturbed gene(s) outside the GO graph (no GO neighbours; those perturbed "
                   f"in training still get a learned embedding): {shown}", err=True)


@main.command()
@_go_options
@lambda f: _data_options(f, required=False)
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="Parquet file to write.")
def go(**kw: Any) -> None:
    """Build only the GO perturbation graph (Jaccard top-k) as a Parquet edge list."""
    from kg_build.go import go_graph, perturbable_genes
    from reactomenet.io import write_parquet

    _check_out_file(kw)
    ann = _annotations(kw)
    perturbed: list[str] = []
    if kw["data_path"]:
        data = _load(kw)
        perturbed = sorted({g for c in data.conditions for g in data.condition_genes(c)})
        if kw["map_genes"]:
            from reactomenet import GeneMapper

            perturbed = sorted({s for s in GeneMapper.load().map(perturbed).symbols if s})
    nodes = perturbable_genes(ann, _gene_list(kw["perturbable"]), perturbed=perturbed)
    if not nodes:
        from reactomenet.errors import InputError

        raise InputError("none of the requested genes has a GO annotation; check the gene list and the filters")
    graph = go_graph(ann, nodes, top_k=kw["go_top_k"], min_similarity=kw["go_min_similarity"], progress=True)
    meta = {
        "kind": "go_graph",
        "go_table": ann.source,
        "go_sha256": ann.sha256,
        **ann.options,
        "top_k": kw["go_top_k"],
        "min_similarity": kw["go_min_similarity"],
        "genes": len(nodes),
    }
    write_parquet(graph.to_frame(), kw["out"], meta)
    click.echo(f"{kw['out']}: {graph.n_edges} edges over {len(nodes)} genes")


@main.command()
@_data_options
@_split_option
@click.option("--top-k", default=20, show_default=True, type=click.IntRange(1))
@click.option("--threshold", default=0.4, show_default=True, type=float, help="Minimum |r| (strict).")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="Parquet file to write.")
def coexpression(**kw: Any) -> None:
    """Build only the co-expression graph (Pearson over training cells) as a Parquet edge list."""
    from kg_build.coexpression import coexpression_graph, pearson_matrix, training_cells
    from reactomenet.io import write_parquet

    _check_out_file(kw)
    split = _split(kw["split_path"])
    data = _load(kw)
    rows = training_cells(data, split)
    corr = pearson_matrix(data.X, rows, progress=True)
    graph = coexpression_graph(corr, data.genes, top_k=kw["top_k"], threshold=kw["threshold"])
    meta = {
        "kind": "coexpression",
        "data_fingerprint": data.fingerprint,
        "split_fingerprint": split.fingerprint,
        "top_k": kw["top_k"],
        "threshold": kw["threshold"],
        "training_cells": int(rows.size),
    }
    write_parquet(graph.to_frame(), kw["out"], meta)
    click.echo(f"{kw['out']}: {graph.n_edges} edges over {len(data.genes)} genes ({rows.size} training cells)")


@main.command()
@_data_options
@_split_option
@click.option("--level", default=3, show_default=True, type=click.IntRange(1), help="Reactome pathway level.")
@click.option("--top-k", default=20, show_default=True, type=click.IntRange(1), help="Fallback partners per gene.")
@click.option("--threshold", default=0.4, show_default=True, type=float, help="Minimum |r| of the fallback.")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="Parquet file to write.")
def mask(**kw: Any) -> None:
    """Build only the attention mask (Reactome + co-expression fallback + diagonal) as Parquet."""
    from kg_build.bundle import data_symbols
    from kg_build.coexpression import pearson_matrix, training_cells
    from kg_build.go import load_go_annotations
    from kg_build.mask import mask_from_reactome
    from reactomenet import ReactomeGraph
    from reactomenet.io import write_parquet

    _check_out_file(kw)
    split = _split(kw["split_path"])
    data = _load(kw)
    symbols = data_symbols(data.genes, load_go_annotations().genes, map_genes=kw["map_genes"])
    corr = pearson_matrix(data.X, training_cells(data, split), progress=True)
    m = mask_from_reactome(
        ReactomeGraph.load(),
        data.genes,
        corr,
        level=kw["level"],
        top_k=kw["top_k"],
        threshold=kw["threshold"],
        symbols=symbols,
    )
    report = m.report()
    meta = {
        "kind": "attention_mask",
        "data_fingerprint": data.fingerprint,
        "split_fingerprint": split.fingerprint,
        "level": kw["level"],
        "top_k": kw["top_k"],
        "threshold": kw["threshold"],
        **report,
    }
    write_parquet(m.to_frame(), kw["out"], meta)
    click.echo(
        f"{kw['out']}: {report['pairs']} pairs over {report['genes']} genes, density {report['density']:.4f}; "
        f"rows covered: {report['genes_covered']}"
    )


if __name__ == "__main__":
    main()
