"""Graph exports (nodes, edges, gene→pathway tables) and the backend switch."""

from __future__ import annotations

import pandas as pd
import pytest

from reactomenet.backends import open_backend
from reactomenet.errors import InputError
from reactomenet.export import export_graph, gene_pathways_frame
from reactomenet.io import read_parquet_metadata


def test_export_files_tables_and_metadata(tiny, tmp_path):
    out = tmp_path / "graph"
    paths = export_graph(tiny, out, levels=[1, 2, 3])
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths)
    nodes = pd.read_parquet(out / "nodes.parquet")
    assert set(nodes.loc[nodes.kind == "pathway", "id"]) == {p.id for p in tiny.pathways()}
    assert set(nodes.loc[nodes.kind == "gene", "id"]) == set(tiny.genes())
    assert nodes.set_index("id").loc["R-HSA-12", "level"] == 2
    edges = pd.read_parquet(out / "edges.parquet")
    parent_of = set(map(tuple, edges.loc[edges.kind == "parent_of", ["source", "target"]].values))
    assert parent_of == {(p.id, c) for p in tiny.pathways() for c in tiny.children(p.id)}
    has_gene = edges.loc[edges.kind == "has_gene"]
    assert len(has_gene) == sum(len(tiny.genes_of(p.id)) for p in tiny.pathways())
    l3 = pd.read_parquet(out / "gene_pathways_L3.parquet")
    got = {(g, p, bool(pad)) for g, p, pad in l3[["gene", "pathway_id", "padded"]].values}
    expected = set()
    for gene in tiny.genes():
        hits = tiny.pathways_of(gene, level=3)
        expected |= {(gene, pid, hits.padded) for pid in hits.ids}
    assert got == expected
    meta = read_parquet_metadata(out / "gene_pathways_L3.parquet")
    assert meta["level"] == 3 and meta["species"] == "R-HSA" and meta["gene_count"] == len(tiny.genes())
    assert meta["release_sha256"] == tiny.release.sha256 and meta["package_version"]
    assert read_parquet_metadata(out / "nodes.parquet")["kind"] == "reactome_nodes"


def test_gene_pathways_agree_with_pathways_of(graph):
    frame = gene_pathways_frame(graph, 3)
    for gene in ["TP53", "CASP3", *graph.genes()[::997]]:
        hits = graph.pathways_of(gene, level=3)
        rows = frame[frame.gene == gene]
        assert sorted(rows.pathway_id) == sorted(hits.ids)
        assert set(rows.padded) <= {hits.padded}


def test_export_refuses_foreign_folder_and_leaves_nothing_on_failure(tiny, tmp_path, monkeypatch):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="other files"):
        export_graph(tiny, foreign)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]

    import reactomenet.export as ex

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(ex, "gene_pathways_frame", broken)
    with pytest.raises(RuntimeError):
        export_graph(tiny, tmp_path / "graph")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "tiny"]  # no graph/, no temporary folder


def test_open_backend(graph, monkeypatch):
    assert open_backend("networkx") is graph
    with pytest.raises(InputError, match="unknown backend"):
        open_backend("sqlite")
    with pytest.raises(InputError, match="--release"):
        open_backend("neo4j", release="somewhere")
