"""The knowledge bundle: a folder of Parquet files plus ``manifest.json``, written atomically, and its loader."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kg_build._topk import Graph
from kg_build.coexpression import coexpression_graph, pearson_matrix, training_cells
from kg_build.go import (
    BUNDLED_PARENTS,
    DEFAULT_RELATIONS,
    ONTOLOGIES,
    GoAnnotations,
    bundled_path,
    file_sha256,
    go_graph,
    load_go_annotations,
    perturbable_genes,
)
from kg_build.mask import mask_from_reactome
from kg_build.protocols import PerturbationData, TrainingSplit
from reactomenet.errors import InputError, NotFoundError

FORMAT = "biodsnn-knowledge-bundle"
FORMAT_VERSION = 1
FILES = ("go_graph.parquet", "coexpression.parquet", "attention_mask.parquet", "genes.parquet", "manifest.json")
#: What a bundle folder holds: FILES plus the split it was built with (the only files a rebuild replaces).
SPLIT_FILE = "split.json"
OWN_FILES = (*FILES, SPLIT_FILE)
_ENSEMBL = re.compile(r"^ENS[A-Z]*G\d{6,}(\.\d+)?$")


def _version() -> str:
    from reactomenet import __version__

    return __version__


def data_symbols(genes: Sequence[str], known: Iterable[str], *, map_genes: bool = False) -> list[str | None]:
    """The symbol used for knowledge look-ups of each measured gene; refuse names that are not symbols.

    With ``map_genes`` the names go through ``reactomenet.GeneMapper`` (Ensembl ids and aliases → HGNC symbols;
    None where unmapped). Without it, the names must already be symbols: if none is a known symbol, or most look
    like Ensembl ids, InputError suggests the mapping.

    Example:
        >>> data_symbols(["TP53", "MDM2"], {"TP53", "MDM2"})
        ['TP53', 'MDM2']
    """
    genes = list(genes)
    known = set(known)
    if map_genes:
        from reactomenet import GeneMapper

        result = GeneMapper.load().map(genes)
        symbols = list(result.symbols)
        if not any(s in known for s in symbols if s):
            raise InputError(
                f"none of the {len(genes)} measured genes maps to a known gene symbol (e.g. {', '.join(genes[:3])}); "
                "check the organism (human) and the gene column (--gene-name-key)"
            )
        return symbols
    ensembl = sum(bool(_ENSEMBL.match(g)) for g in genes)
    if ensembl > len(genes) / 2 or not any(g in known for g in genes):
        what = "look like Ensembl ids" if ensembl > len(genes) / 2 else "are not known gene symbols"
        raise InputError(
            f"the data's gene names {what} (e.g. {', '.join(genes[:3])}); pass --map-genes (map_genes=True) to map "
            "Ensembl ids and aliases to symbols with reactomenet.GeneMapper, or --gene-name-key with a symbol column"
        )
    return list(genes)


def _perturbed_genes(data: PerturbationData) -> list[str]:
    out: set[str] = set()
    for c in data.conditions:
        out.update(data.condition_genes(c))
    return sorted(out)


def _release_provenance(reactome: Any) -> dict[str, Any]:
    release = getattr(reactome, "release", None)
    if release is None:
        return {}
    if hasattr(release, "provenance"):
        return dict(release.provenance())
    return {"sha256": dict(getattr(release, "sha256", {})), "species": getattr(release, "species", None)}




def genes_frame(measured: Sequence[str], symbols: Sequence[str | None], perturbable: Sequence[str]) -> pd.DataFrame:
    """``genes.parquet``: one row per measured or perturbable gene, with its index in each list (−1: not in it).

    Measured genes come first, in data order; perturbable genes that are not measured follow, sorted. A perturbable
    gene (a symbol) shares the row of the measured gene with that symbol.

    Example:
        >>> genes_frame(["A", "B"], ["A", "B"], ["B", "C"]).to_dict("list")["perturbable_index"]
        [-1, 0, 1]
    """
    p_index = {g: k for k, g in enumerate(perturbable)}
    rows = []
    seen: set[str] = set()
    for k, (g, s) in enumerate(zip(measured, symbols, strict=True)):
        rows.append((g, s, k, p_index.get(s, -1) if s else -1))
        if s in p_index:
            seen.add(s)
    rows += [(g, g, -1, p_index[g]) for g in perturbable if g not in seen]
    frame = pd.DataFrame(rows, columns=["gene", "symbol", "measured_index", "perturbable_index"])
    return frame.astype({"measured_index": np.int64, "perturbable_index": np.int64})


def build_bundle(
    data: PerturbationData,
    split: TrainingSplit,
    out_dir: str | os.PathLike[str],
    *,
    split_path: str | os.PathLike[str] | None = None,
    level: int = 3,
    go_top_k: int = 20,
    go_min_similarity: float = 0.1,
    coexpr_top_k: int = 20,
    coexpr_threshold: float = 0.4,
    coexpr_cells: int | None = None,
    mask_top_k: int = 20,
    mask_threshold: float = 0.4,
    go_table: str | os.PathLike[str] | None = None,
    ontologies: Iterable[str] = ONTOLOGIES,
    drop_evidence: Iterable[str] = (),
    propagate: bool = False,
    relations: Iterable[str] = DEFAULT_RELATIONS,
    perturbable: Iterable[str] | None = None,
    map_genes: bool = False,
    reactome: Any = None,
    data_path: str | os.PathLike[str] | None = None,
    chunk_size: int = 4096,
    progress: bool = False,
    overwrite: bool = False,
    inputs: Iterable[str | os.PathLike[str] | None] = (),
) -> Path:
    """Build the knowledge bundle for ``data`` and ``split`` into the folder ``out_dir`` (atomically).

    Writes ``go_graph.parquet``, ``coexpression.parquet``, ``attention_mask.parquet``, ``genes.parquet``,
    ``split.json`` and ``manifest.json``. Co-expression and the mask's fallback use training cells only (control
    cells plus the split's training conditions).

    Args:
        data: a ``biodsnn.data.PerturbData`` (any :class:`kg_build.protocols.PerturbationData`).
        split: a ``biodsnn.data.Split`` (any :class:`kg_build.protocols.TrainingSplit`; required). A copy is kept
            in the bundle, so a fit without a split uses this one.
        out_dir: the bundle folder (replaced only when the new one is complete).
        split_path: the file the split was read from, recorded in the manifest (and never overwritten).
        level: Reactome pathway level of the mask.
        go_top_k, go_min_similarity: GO graph neighbours per gene and minimum Jaccard (strict).
        coexpr_top_k, coexpr_threshold: co-expression neighbours per gene and minimum ``|r|`` (strict).
        coexpr_cells: correlate at most this many training cells, drawn with the split's seed (default: all). For
            screens of millions of cells, where all of them cost minutes and add little precision.
        mask_top_k, mask_threshold: the mask's fallback partners per gene absent from Reactome, minimum ``|r|``.
        go_table: gene→GO table or GAF file (default: the bundled org.Hs.eg.db 3.16.0 table).
        ontologies, drop_evidence, propagate, relations: GO filters (see :func:`kg_build.load_go_annotations`).
        perturbable: genes that can be perturbed (default: all annotated genes); the data's perturbed genes that
            have a GO annotation are always added.
        map_genes: map the data's gene names (Ensembl ids, aliases) to symbols with ``reactomenet.GeneMapper``.
        reactome: a ``reactomenet.ReactomeGraph`` (default: ``ReactomeGraph.load()``).
        data_path: the data file's path, recorded in the manifest.
        chunk_size: cells per chunk when streaming the correlation.
        progress: show progress bars.
        overwrite: write into a folder holding other files (only the bundle's own files there are replaced).
        inputs: more input paths (a ``--perturbable`` list…) the folder must not hold, besides data, split, GO table.

    Example:
        >>> import tempfile
        >>> from biodsnn.data import load_perturb_data, make_split, simulate
        >>> data = load_perturb_data(simulate(preset="tiny", seed=0, progress=False))
        >>> perturbed = sorted({g for c in data.conditions for g in data.condition_genes(c)})
        >>> out = build_bundle(data, make_split(data.conditions, seed=1), f"{tempfile.mkdtemp()}/knowledge",
        ...                    perturbable=perturbed)  # perturbable: a small GO graph, for speed
        >>> kb = KnowledgeBundle.load(out)
        >>> kb.genes == data.genes, kb.perturbable_genes == perturbed
        (True, True)
    """
    from reactomenet.io import check_output_folder, output_folder, sha256_file, write_json, write_parquet

    if split is None:
        raise InputError(
            "no split given: the co-expression graph and the mask use training cells only; pass --split split.json "
            "(make one with `biodsnn data split`)"
        )
    split_path = str(split_path) if split_path is not None else None
    inputs = [*inputs, data_path, split_path, go_table, data.source]
    check_output_folder(out_dir, own=OWN_FILES, inputs=inputs, overwrite=overwrite, what="bundle folder")  # before work
    annotations = load_go_annotations(
        go_table, ontologies=ontologies, drop_evidence=drop_evidence, propagate=propagate, relations=relations
    )
    if reactome is None:
        from reactomenet import ReactomeGraph

        reactome = ReactomeGraph.load()
    genes = list(data.genes)
    symbols = data_symbols(genes, annotations.genes, map_genes=map_genes)
    perturbed = _perturbed_genes(data)
    if map_genes:
        from reactomenet import GeneMapper

        perturbed = sorted({s for s in GeneMapper.load().map(perturbed).symbols if s})
    nodes = perturbable_genes(annotations, perturbable, perturbed=perturbed)
    if not nodes:
        raise InputError("no perturbable gene has a GO annotation; give --perturbable genes that GO annotates")
    if perturbed and not set(perturbed) & set(annotations.genes):
        raise InputError(
            f"none of the {len(perturbed)} perturbed genes has a GO annotation (e.g. {', '.join(perturbed[:3])}); "
            "are the condition names gene symbols?"
        )
    rows = training_cells(data, split)
    if coexpr_cells is not None:
        if coexpr_cells < 2:
            raise InputError(f"coexpr_cells must be at least 2, got {coexpr_cells}")
        if rows.size > coexpr_cells:  # a seeded draw among training cells only: no leak, same seed same graph
            rows = np.sort(np.random.default_rng(int(getattr(split, "seed", 0) or 0)).choice(rows, coexpr_cells,
                                                                                          replace=False))
    corr = pearson_matrix(data.X, rows, chunk_size=chunk_size, progress=progress)
    mask = mask_from_reactome(
        reactome, genes, corr, level=level, top_k=mask_top_k, threshold=mask_threshold, symbols=symbols
    )
    coexpr = coexpression_graph(corr, genes, top_k=coexpr_top_k, threshold=coexpr_threshold)
    del corr
    go = go_graph(annotations, nodes, top_k=go_top_k, min_similarity=go_min_similarity, progress=progress)
    gframe = genes_frame(genes, symbols, nodes)
    parameters = {
        "level": level,
        "go_top_k": go_top_k,
        "go_min_similarity": go_min_similarity,
        "coexpr_top_k": coexpr_top_k,
        "coexpr_threshold": coexpr_threshold,
        "coexpr_cells": coexpr_cells,
        "mask_top_k": mask_top_k,
        "mask_threshold": mask_threshold,
        "go": annotations.options,
        "perturbable": "all annotated genes" if perturbable is None else "user list",
        "map_genes": bool(map_genes),
    }
    go_input = {"path": annotations.source, "sha256": annotations.sha256}
    if propagate:
        go_input["parents_sha256"] = file_sha256(bundled_path(BUNDLED_PARENTS))
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package": "kg_build",
        "package_version": _version(),
        "inputs": {
            "reactome": _release_provenance(reactome),
            "go": go_input,
            "data": {
                "path": str(data_path or data.source or ""),
                "fingerprint": data.fingerprint,
                "options": dict(data.options or {}),
            },
            "split": {
                "path": split_path,
                "fingerprint": split.fingerprint,
                "kind": split.kind,
                "seed": split.seed,
            },
        },
        "parameters": parameters,
        "counts": {
            "measured_genes": len(genes),
            "perturbable_genes": len(nodes),
            "training_cells": int(rows.size),
            "go_edges": go.n_edges,
            "coexpression_edges": coexpr.n_edges,
            "mask_pairs": int(mask.i.size),
            "perturbed_genes": len(perturbed),
            "perturbed_without_go": sorted(set(perturbed) - set(nodes)),
            "measured_without_symbol": sum(s is None for s in symbols),
        },
        "mask": mask.report(),
    }
    meta = {"bundle": FORMAT, "data_fingerprint": data.fingerprint, "split_fingerprint": split.fingerprint}
    target = Path(out_dir)
    with output_folder(target, own=OWN_FILES, inputs=inputs, overwrite=overwrite, what="bundle folder") as tmp:
        write_parquet(go.to_frame(), tmp / "go_graph.parquet", {**meta, "kind": "go_graph", **annotations.options})
        write_parquet(coexpr.to_frame(), tmp / "coexpression.parquet", {**meta, "kind": "coexpression"})
        write_parquet(mask.to_frame(), tmp / "attention_mask.parquet", {**meta, "kind": "attention_mask"})
        write_parquet(gframe, tmp / "genes.parquet", {**meta, "kind": "genes"})
        split.save(tmp / SPLIT_FILE)
        written = [p for p in sorted(tmp.iterdir()) if p.is_file()]
        manifest["files"] = {p.name: sha256_file(p) for p in written}
        manifest["file_sizes"] = {p.name: p.stat().st_size for p in written}
        write_json(manifest, tmp / "manifest.json")
    return target


@dataclass(frozen=True)
class EdgeSet:
    """Torch-geometric-ready edges: ``edge_index`` (np.int64 [2, E]), ``weight`` (np.float32 [E]) or ``source``.

    Example:
        >>> e = EdgeSet(np.zeros((2, 0), np.int64), np.zeros(0, np.float32))
        >>> e.num_edges
        0
    """

    edge_index: np.ndarray
    weight: np.ndarray | None = None
    source: np.ndarray | None = None

    @property
    def num_edges(self) -> int:
        """Number of edges."""
        return int(self.edge_index.shape[1])


def _verified_bytes(folder: Path, name: str, manifest: dict[str, Any]) -> bytes:
    """The bytes of one file of a bundle, refused unless its size and sha256 are the manifest's."""
    path = folder / name
    blob = path.read_bytes()
    size = (manifest.get("file_sizes") or {}).get(name)
    digest = (manifest.get("files") or {}).get(name)
    if size is not None and len(blob) != size:
        raise InputError(
            f"{path} has {len(blob)} bytes, the manifest says {size} (truncated or replaced); rebuild the bundle "
            "with `kg-build bundle`"
        )
    if digest is not None and hashlib.sha256(blob).hexdigest() != digest:
        raise InputError(
            f"{path} is not the file this bundle was built with (sha256 differs from manifest.json; copied from "
            "another bundle or corrupted); rebuild the bundle with `kg-build bundle`"
        )
    return blob


def _read_verified(folder: Path, name: str, manifest: dict[str, Any]) -> pd.DataFrame:
    """Read one Parquet file of a bundle, refusing it unless its size and sha256 are the manifest's.

    The bytes are hashed as they are read (one pass), so the check costs no second read.
    """
    import io

    path = folder / name
    blob = _verified_bytes(folder, name, manifest)
    try:
        return pd.read_parquet(io.BytesIO(blob))
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise InputError(f"{path} is not a readable Parquet file ({exc}); rebuild the bundle") from exc


def _edges(frame: pd.DataFrame, a: str, b: str) -> np.ndarray:
    return np.vstack([frame[a].to_numpy(np.int64), frame[b].to_numpy(np.int64)]).reshape(2, -1)


class KnowledgeBundle:
    """A knowledge bundle read back from its folder (see ``docs/knowledge-bundle.md``).

    Attributes:
        genes: measured genes (order = ``data.genes``).
        perturbable_genes: GO-graph nodes.
        coexpression: edges over ``genes`` with ``weight`` (|r|).
        go_graph: edges over ``perturbable_genes`` with ``weight`` (Jaccard).
        mask: pairs over ``genes`` (diagonal included) with ``source``.
        manifest: the parsed ``manifest.json``.
        split_file: ``split.json``, the split the bundle was built with (its sha256 checked on load).
        genes_table: ``genes.parquet`` as a DataFrame.

    Example:
        kb = KnowledgeBundle.load("knowledge/")
        kb.go_graph.edge_index.shape[0]
        # 2
    """

    def __init__(self, path: Path, manifest: dict[str, Any], genes_table: pd.DataFrame, frames: dict[str, Any]):
        self.path = path
        self.manifest = manifest
        self.genes_table = genes_table
        measured = genes_table[genes_table["measured_index"] >= 0].sort_values("measured_index")
        pert = genes_table[genes_table["perturbable_index"] >= 0].sort_values("perturbable_index")
        self.genes: list[str] = measured["gene"].astype(str).tolist()
        self.perturbable_genes: list[str] = pert["symbol"].astype(str).tolist()
        go, co, mk = frames["go_graph"], frames["coexpression"], frames["attention_mask"]
        self.go_graph = EdgeSet(_edges(go, "source", "target"), go["weight"].to_numpy(np.float32))
        self.coexpression = EdgeSet(_edges(co, "source", "target"), co["weight"].to_numpy(np.float32))
        self.mask = EdgeSet(_edges(mk, "i", "j"), source=mk["source"].to_numpy(dtype=str))
        # the split it was built with: a fit without a split uses it (bundles always keep one; checked by its hash)
        kept = path / SPLIT_FILE
        self.split_file: Path | None = kept if SPLIT_FILE in (manifest.get("files") or {}) and kept.is_file() else None

    def __repr__(self) -> str:
        return (
            f"KnowledgeBundle({self.path}: {len(self.genes)} genes, {len(self.perturbable_genes)} perturbable, "
            f"{self.go_graph.num_edges} GO edges, {self.coexpression.num_edges} co-expression edges, "
            f"{self.mask.num_edges} mask pairs)"
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> KnowledgeBundle:
        """Read a bundle folder written by :func:`build_bundle`; refuses a folder that is not one.

        Example:
            >>> KnowledgeBundle.load("no/such/folder")
            Traceback (most recent call last):
            ...
            reactomenet.errors.NotFoundError: knowledge bundle no/such/folder not found; build one with `kg-build ...
        """
        p = Path(path)
        if not p.is_dir():
            raise NotFoundError(f"knowledge bundle {p} not found; build one with `kg-build bundle`")
        absent = [f for f in FILES if not (p / f).is_file()]
        if absent:
            raise NotFoundError(f"{p} is not a complete knowledge bundle (no {', '.join(absent)}); rebuild it")
        try:
            manifest = json.loads((p / "manifest.json").read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            if isinstance(exc, UnicodeDecodeError):
                raise InputError(f"{p / 'manifest.json'} is not a text file; rebuild the bundle") from exc
            raise InputError(f"{p / 'manifest.json'} is not valid JSON ({exc.msg}); rebuild the bundle") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            got = manifest.get("format") if isinstance(manifest, dict) else None
            raise InputError(f"{p} is not a {FORMAT} (manifest format {got!r}); rebuild it")
        if manifest.get("format_version", 0) > FORMAT_VERSION:
            raise InputError(f"{p} was written by a newer kg_build (format {manifest['format_version']}); upgrade")
        names = ("go_graph", "coexpression", "attention_mask", "genes")
        frames = {name: _read_verified(p, f"{name}.parquet", manifest) for name in names}
        if SPLIT_FILE in (manifest.get("files") or {}) and (p / SPLIT_FILE).is_file():
            _verified_bytes(p, SPLIT_FILE, manifest)  # the kept split is the one it was built with
        try:
            return cls(p, manifest, frames.pop("genes"), frames)
        except (KeyError, ValueError, TypeError) as exc:  # a file with other columns than a bundle's
            detail = f"{exc.__class__.__name__}: {exc}"
            raise InputError(f"{p} is not a valid knowledge bundle ({detail}); rebuild it") from exc

    def check_compatible(self, data: PerturbationData, split: TrainingSplit, *, check_data: bool = True) -> None:
        """Raise InputError (one line naming what differs) unless the bundle was built for ``data`` and ``split``.

        Checks the measured genes (names and order), the split's fingerprint and, with ``check_data``, the data
        fingerprint (the co-expression graph depends on the cells).

        Example:
            kb.check_compatible(data, split)
        """
        genes = list(data.genes)
        if genes != self.genes:
            if len(genes) != len(self.genes):
                detail = f"{len(self.genes)} genes in the bundle vs {len(genes)} in the data"
            else:
                k = next(k for k, (a, b) in enumerate(zip(self.genes, genes, strict=True)) if a != b)
                detail = f"gene {k} is {self.genes[k]} in the bundle but {genes[k]} in the data"
            raise InputError(f"knowledge bundle {self.path} was built for other genes ({detail}); rebuild it")
        want = self.manifest["inputs"]["split"]["fingerprint"]
        if split.fingerprint != want:
            raise InputError(
                f"knowledge bundle {self.path} was built for another split (fingerprint {want[:12]}… vs "
                f"{split.fingerprint[:12]}…); rebuild it with this split"
            )
        have = self.manifest["inputs"]["data"]["fingerprint"]
        if check_data and data.fingerprint != have:
            raise InputError(
                f"knowledge bundle {self.path} was built from other data (fingerprint {have[:12]}… vs "
                f"{data.fingerprint[:12]}…); rebuild it for this data file"
            )


__all__ = [
    "EdgeSet",
    "GoAnnotations",
    "Graph",
    "KnowledgeBundle",
    "build_bundle",
    "data_symbols",
    "genes_frame",
]
