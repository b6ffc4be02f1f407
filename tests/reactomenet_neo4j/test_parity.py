"""Parity: the Neo4j backend, on a real server holding the bundled human release, answers exactly as NetworkX."""

from __future__ import annotations

import numpy as np
import pytest

from reactomenet.errors import InputError, NotFoundError

pytestmark = pytest.mark.server


def test_load_report_counts_match_the_release(human):
    graph, backend, report = human
    assert report.pathways == len(graph.pathways())
    assert report.genes == len(graph.genes())
    assert report.child_links == graph.hierarchy.number_of_edges()
    assert report.gene_links == sum(len(graph.genes_of(p.id)) for p in graph.pathways())
    assert backend.metadata["complete"] is True
    assert backend.release.sha256 == graph.release.sha256
    assert backend.release.provenance() == graph.release.provenance()


def test_every_pathway_in_batched_queries(human):
    """For every human pathway, in a few queries: properties (level), children, gene set, ancestors, descendants.

    This checks what is stored and what variable-length Cypher returns; the per-call API (same Cypher, one
    pathway at a time) is checked on a sample below, because 17,000 round trips would dominate the test time.
    """
    graph, backend, _ = human
    conn = backend._conn
    rows = conn.read("MATCH (p:Pathway) RETURN p.id AS id, p.name AS name, p.species AS species, p.level AS level")
    stored = {(r["id"], r["name"], r["species"], r["level"]) for r in rows}
    nodes = graph.hierarchy.nodes
    assert len(nodes) > 2000
    assert stored == {(pid, nodes[pid]["name"], nodes[pid]["species"], graph.level_of(pid)) for pid in nodes}
    edges = conn.read("MATCH (a:Pathway)-[:HAS_CHILD]->(b:Pathway) RETURN a.id AS a, b.id AS b")
    assert sorted((r["a"], r["b"]) for r in edges) == sorted(graph.hierarchy.edges())
    children: dict[str, list[str]] = {pid: [] for pid in nodes}
    for r in edges:
        children[r["a"]].append(r["b"])
    assert {pid: sorted(c) for pid, c in children.items()} == {pid: graph.children(pid) for pid in nodes}
    sets = conn.read("MATCH (p:Pathway)-[:HAS_GENE]->(g:Gene) RETURN p.id AS id, collect(g.symbol) AS genes")
    got = {r["id"]: r["genes"] for r in sets}
    assert all(len(genes) == len(set(genes)) for genes in got.values())  # no duplicated link
    assert {pid: sorted(got.get(pid, [])) for pid in nodes} == {pid: graph.genes_of(pid) for pid in nodes}
    for pattern, method in (
        ("(p)-[:HAS_CHILD*1..]->(q:Pathway)", "descendants"),
        ("(p)<-[:HAS_CHILD*1..]-(q:Pathway)", "ancestors"),
    ):
        found = conn.read(
            f"MATCH (p:Pathway) OPTIONAL MATCH {pattern} RETURN p.id AS id, collect(DISTINCT q.id) AS ids"
        )
        assert {r["id"]: sorted(r["ids"]) for r in found} == {pid: getattr(graph, method)(pid) for pid in nodes}


def _pathway_sample(graph, n: int = 400) -> list[str]:
    """Random pathways plus all top-level ones and all with several parents."""
    rng = np.random.default_rng(5)
    ids = [p.id for p in graph.pathways()]
    chosen = set(rng.choice(ids, size=n, replace=False).tolist())
    chosen |= {p.id for p in graph.pathways(level=1)}
    chosen |= {pid for pid in ids if len(graph.parents(pid)) > 1}
    return sorted(chosen)


def test_pathway_queries_per_call(human):
    """genes_of, children, parents, ancestors, descendants and level_of through the API, one call each."""
    graph, backend, _ = human
    sample = _pathway_sample(graph)
    assert any(len(graph.parents(pid)) > 1 for pid in sample)
    for pid in sample:
        assert backend.genes_of(pid) == graph.genes_of(pid), pid
        assert backend.children(pid) == graph.children(pid), pid
        assert backend.parents(pid) == graph.parents(pid), pid
        assert backend.ancestors(pid) == graph.ancestors(pid), pid
        assert backend.descendants(pid) == graph.descendants(pid), pid
        assert backend.level_of(pid) == graph.level_of(pid), pid


def test_inclusive_gene_sets_sample(human):
    graph, backend, _ = human
    rng = np.random.default_rng(3)
    ids = [p.id for p in graph.pathways()]
    sample = list(rng.choice(ids, size=150, replace=False)) + [p.id for p in graph.pathways(level=1)]
    for pid in sample:
        assert backend.genes_of(pid, inclusive=True) == graph.genes_of(pid, inclusive=True), pid


def test_pathway_listings_and_search(human):
    graph, backend, _ = human
    assert backend.pathways() == graph.pathways()
    for level in (1, 2, 3, 4):
        assert backend.pathways(level=level) == graph.pathways(level=level)
    assert backend.levels() == graph.levels()
    assert backend.genes() == graph.genes()
    assert backend.pathway("R-HSA-109581") == graph.pathway("R-HSA-109581")
    for text in ("apoptosis", "Signaling by", "R-HSA-109581", "metabolism of lipids", "zzzz-none"):
        assert backend.search(text) == graph.search(text), text
    assert backend.search("kinase", limit=5) == graph.search("kinase", limit=5)


def _gene_sample(graph, n: int = 300) -> list[str]:
    """Random genes plus every kind of edge case: padded at 2 and 3, many pathways, few pathways."""
    rng = np.random.default_rng(11)
    genes = graph.genes()
    chosen = set(rng.choice(genes, size=n, replace=False).tolist())
    deepest = {g: graph.pathways_of(g, "all").deepest_level for g in genes}
    chosen |= set(sorted(g for g, d in deepest.items() if d == 1)[:10])
    chosen |= set(sorted(g for g, d in deepest.items() if d == 2)[:10])
    return sorted(chosen)


def test_pathways_of_genes_at_levels_1_to_3(human):
    graph, backend, _ = human
    sample = _gene_sample(graph)
    padded_seen = 0
    for gene in sample:
        for level in (1, 2, 3):
            expected = graph.pathways_of(gene, level=level)
            assert backend.pathways_of(gene, level=level) == expected, (gene, level)
            padded_seen += expected.padded
        assert backend.pathways_of(gene, "all") == graph.pathways_of(gene, "all"), gene
    assert padded_seen > 0  # the sample exercises the padding rule
    for gene in sample[:60]:
        assert backend.pathways_of(gene, 3, inclusive=True) == graph.pathways_of(gene, 3, inclusive=True), gene


@pytest.mark.parametrize("level", [1, 2, 3])
def test_mask_of_a_few_hundred_genes(human, level):
    graph, backend, _ = human
    genes = _gene_sample(graph)
    rng = np.random.default_rng(level)
    genes = [genes[k] for k in rng.permutation(len(genes))] + ["NOT_A_GENE_1", "NOT_A_GENE_2"]
    expected = graph.mask(genes, level=level)
    got = backend.mask(genes, level=level)
    assert got.genes == expected.genes
    np.testing.assert_array_equal(got.i, expected.i)
    np.testing.assert_array_equal(got.j, expected.j)
    assert got.i.dtype == expected.i.dtype == np.int64
    assert got.missing == expected.missing == ["NOT_A_GENE_1", "NOT_A_GENE_2"]
    assert got.padded == expected.padded
    assert got.level == expected.level
    assert got.metadata == expected.metadata
    assert got.to_frame().equals(expected.to_frame())
    assert expected.n_pairs > len(genes)  # not only the diagonal


def test_inclusive_mask(human):
    graph, backend, _ = human
    genes = _gene_sample(graph, 120)
    expected, got = graph.mask(genes, level=3, inclusive=True), backend.mask(genes, level=3, inclusive=True)
    np.testing.assert_array_equal(got.i, expected.i)
    np.testing.assert_array_equal(got.j, expected.j)
    assert got.padded == expected.padded


def test_same_errors_as_networkx(human):
    graph, backend, _ = human
    for call in (
        lambda g: g.genes_of("R-HSA-10958"),
        lambda g: g.children("R-MMU-109581"),
        lambda g: g.level_of("nonsense"),
        lambda g: g.pathways_of("TP5", 2),
    ):
        with pytest.raises(NotFoundError) as nx_err:
            call(graph)
        with pytest.raises(NotFoundError) as db_err:
            call(backend)
        assert str(db_err.value) == str(nx_err.value)
    for call in (lambda g: g.mask(["TP53", "TP53"]), lambda g: g.mask([]), lambda g: g.pathways_of("TP53", 0)):
        with pytest.raises(InputError):
            call(graph)
        with pytest.raises(InputError):
            call(backend)
