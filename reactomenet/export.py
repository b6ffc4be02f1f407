"""Parquet exports of the graph and of gene → pathway tables, with provenance in the schema metadata.

Files written by :func:`export_graph` (see docs/reactomenet.md, "Export formats"):

- ``nodes.parquet``: ``id, kind, name, species, level`` — one row per pathway (``kind="pathway"``) and per gene
  (``kind="gene"``; name, species and level empty);
- ``edges.parquet``: ``source, target, kind`` — parent→child links (``kind="parent_of"``) and pathway→gene
  links as annotated in the GMT (``kind="has_gene"``);
- ``gene_pathways_L{k}.parquet``: ``gene, pathway_id, pathway_name, pathway_level, padded`` — each gene's
  level-k pathways, padded genes with their deepest pathways and ``padded=True``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reactomenet._graph import ReactomeGraph
from reactomenet.errors import InputError
from reactomenet.io import output_folder, write_parquet

NODES_FILE = "nodes.parquet"
EDGES_FILE = "edges.parquet"
#: The files an export writes (glob patterns): the only ones it replaces in an existing folder.
EXPORT_FILES = (NODES_FILE, EDGES_FILE, "gene_pathways_L*.parquet")


def gene_pathways_file(level: int) -> str:
    """File name of the level-``level`` gene → pathway table.

    Example:
        >>> gene_pathways_file(3)
        'gene_pathways_L3.parquet'
    """
    return f"gene_pathways_L{int(level)}.parquet"


def provenance(graph: ReactomeGraph, **extra: Any) -> dict[str, Any]:
    """The metadata every export carries: release hashes, species, package version, plus ``extra``.

    Example:
        >>> provenance(ReactomeGraph.load(), level=3)["level"]
        3
    """
    from reactomenet import __version__

    return {**graph.release.provenance(), "package": "reactomenet", "package_version": __version__, **extra}


def nodes_frame(graph: ReactomeGraph) -> pd.DataFrame:
    """One row per pathway and per gene.

    Example:
        >>> nodes_frame(ReactomeGraph.load()).columns.tolist()
        ['id', 'kind', 'name', 'species', 'level']
    """
    pathways = sorted(graph.pathways(), key=lambda p: p.id)
    genes = graph.genes()
    return pd.DataFrame(
        {
            "id": [p.id for p in pathways] + genes,
            "kind": ["pathway"] * len(pathways) + ["gene"] * len(genes),
            "name": [p.name for p in pathways] + [None] * len(genes),
            "species": [graph.release.species_name] * len(pathways) + [None] * len(genes),
            "level": pd.array([p.level for p in pathways] + [None] * len(genes), dtype="Int64"),
        }
    )


def edges_frame(graph: ReactomeGraph) -> pd.DataFrame:
    """Parent→child (``parent_of``) and pathway→gene (``has_gene``, GMT as annotated) edges.

    Example:
        >>> sorted(set(edges_frame(ReactomeGraph.load()).kind))
        ['has_gene', 'parent_of']
    """
    rows: list[tuple[str, str, str]] = []
    for p in sorted(graph.pathways(), key=lambda p: p.id):
        rows.extend((p.id, child, "parent_of") for child in graph.children(p.id))
    for p in sorted(graph.pathways(), key=lambda p: p.id):
        rows.extend((p.id, gene, "has_gene") for gene in graph.genes_of(p.id))
    return pd.DataFrame(rows, columns=["source", "target", "kind"])


def gene_pathways_frame(graph: ReactomeGraph, level: int, *, inclusive: bool = False) -> pd.DataFrame:
    """Every gene's level-``level`` pathways (padded genes: their deepest ones, flagged).

    Example:
        >>> df = gene_pathways_frame(ReactomeGraph.load(), 1)
        >>> df.columns.tolist()
        ['gene', 'pathway_id', 'pathway_name', 'pathway_level', 'padded']
    """
    eff, padded = graph.effective_matrix(level, inclusive=inclusive)
    _, genes, pids = graph.membership_matrix(inclusive=inclusive)
    coo = eff.tocoo()
    order = np.lexsort((coo.col, coo.row))
    rows, cols = coo.row[order], coo.col[order]
    gene_arr = np.asarray(genes, dtype=object)
    pid_arr = np.asarray(pids, dtype=object)
    return pd.DataFrame(
        {
            "gene": gene_arr[rows],
            "pathway_id": pid_arr[cols],
            "pathway_name": [graph.pathway(p).name for p in pid_arr[cols]],
            "pathway_level": np.asarray([graph.level_of(p) for p in pid_arr[cols]], dtype=np.int64),
            "padded": padded[rows],
        }
    )


def export_graph(
    graph: ReactomeGraph,
    out_dir: str | os.PathLike[str],
    *,
    levels: Iterable[int] = (1, 2, 3),
    inclusive: bool = False,
    overwrite: bool = False,
) -> list[Path]:
    """Write nodes, edges and gene→pathway tables to ``out_dir`` atomically (all files or none).

    ``out_dir`` must be new, empty, or an earlier export (it is replaced as a whole); with ``overwrite`` a folder
    holding other files keeps them and only the export's files are replaced
    (:func:`reactomenet.io.check_output_folder`).

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "graph"
        >>> [p.name for p in export_graph(ReactomeGraph.load(), out, levels=[1])]
        ['nodes.parquet', 'edges.parquet', 'gene_pathways_L1.parquet']
    """
    levels = sorted({int(k) for k in levels})
    if not levels or levels[0] < 1:
        raise InputError("export levels must be whole numbers ≥ 1, e.g. 1 2 3")
    target = Path(out_dir)
    base = provenance(graph, inclusive=bool(inclusive))
    names = [NODES_FILE, EDGES_FILE] + [gene_pathways_file(k) for k in levels]
    with output_folder(target, own=EXPORT_FILES, overwrite=overwrite, what="export folder") as tmp:
        nodes = nodes_frame(graph)
        write_parquet(
            nodes,
            tmp / NODES_FILE,
            {
                **base,
                "kind": "reactome_nodes",
                "level": None,
                "gene_count": len(graph.genes()),
                "pathway_count": int((nodes.kind == "pathway").sum()),
            },
        )
        edges = edges_frame(graph)
        write_parquet(
            edges,
            tmp / EDGES_FILE,
            {
                **base,
                "kind": "reactome_edges",
                "level": None,
                "gene_count": len(graph.genes()),
                "edge_counts": {k: int(v) for k, v in edges.kind.value_counts().sort_index().items()},
            },
        )
        for k in levels:
            table = gene_pathways_frame(graph, k, inclusive=inclusive)
            write_parquet(
                table,
                tmp / gene_pathways_file(k),
                {
                    **base,
                    "kind": "reactome_gene_pathways",
                    "level": k,
                    "gene_count": int(table.gene.nunique()),
                    "padded_gene_count": int(table.loc[table.padded, "gene"].nunique()),
                },
            )
    return [target / n for n in names]
