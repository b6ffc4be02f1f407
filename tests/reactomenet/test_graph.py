"""ReactomeGraph against an independent reading of the raw files, and the level / padding rules on a tiny release."""

from __future__ import annotations

import random

import pytest

from reactomenet import ReactomeGraph
from reactomenet.errors import InputError, NotFoundError


def test_apoptosis_genes_equal_the_gmt_line(graph, raw):
    line = next(ln for ln in raw.files["ReactomePathways.gmt"].decode().splitlines() if "\tR-HSA-109581\t" in ln)
    assert graph.genes_of("R-HSA-109581") == sorted(line.split("\t")[2:])


def test_counts_match_the_raw_files(graph, raw):
    assert len(graph.pathways()) == len(raw.names)
    assert set(graph.genes()) == set().union(*raw.sets.values())
    assert graph.levels()[1] == sum(1 for p in raw.names if not raw.parents[p])


def test_levels_equal_an_independent_bfs(graph, raw):
    assert {p: graph.level_of(p) for p in raw.names} == raw.levels


def test_multi_parent_pathways_take_the_shallowest_parent_plus_one(graph, raw):
    multi = [p for p, ps in raw.parents.items() if len(ps) > 1]
    assert multi, "the release has pathways with several parents"
    for p in multi:
        assert graph.level_of(p) == 1 + min(graph.level_of(q) for q in raw.parents[p])
    # At least one of them has parents at different levels, so the rule matters.
    assert any(len({graph.level_of(q) for q in raw.parents[p]}) > 1 for p in multi)


def test_multi_parent_rule_on_a_tiny_release(tiny):
    # M hangs under Y (level 3) and under the root R2 (level 1): it takes level 2, not 4.
    assert tiny.parents("R-HSA-12") == ["R-HSA-11", "R-HSA-2"]
    assert tiny.level_of("R-HSA-12") == 2
    assert [tiny.level_of(p) for p in ("R-HSA-1", "R-HSA-2", "R-HSA-10", "R-HSA-11", "R-HSA-13")] == [1, 1, 2, 3, 2]


def _independent_pathways_of(raw, gene: str, level: int | str) -> tuple[set[str], bool]:
    pids = raw.memberships()[gene]
    if level == "all":
        return pids, False
    deepest = max(raw.levels[p] for p in pids)
    target = level if deepest >= level else deepest
    return {p for p in pids if raw.levels[p] == target}, deepest < level


def test_pathways_of_agrees_with_independent_computation(graph, raw):
    genes = sorted(set().union(*raw.sets.values()))
    sample = [*random.Random(7).sample(genes, 150), "TP53"]
    padded_seen = 0
    for gene in sample:
        for level in (1, 2, 3, 5, "all"):
            expected, padded = _independent_pathways_of(raw, gene, level)
            hits = graph.pathways_of(gene, level=level)
            assert set(hits.ids) == expected, (gene, level)
            assert hits.padded == padded, (gene, level)
            assert len(hits.ids) == len(set(hits.ids))
            padded_seen += padded
    assert padded_seen > 0, "the sample exercises padding"


def test_pathways_of_sorted_and_records(graph):
    hits = graph.pathways_of("TP53", level=2)
    assert "R-HSA-109581" in hits.ids
    assert all(p.level == 2 for p in hits)
    assert [(p.level, p.name) for p in hits] == sorted((p.level, p.name) for p in hits)
    assert hits.pathways[0] == graph.pathway(hits.ids[0])


def test_padding_reported_on_tiny_release(tiny):
    hits = tiny.pathways_of("P", level=3)  # P is only in R1 (L1) and the leaf S (L2)
    assert hits.padded and hits.deepest_level == 2
    assert hits.ids == ["R-HSA-13"]
    assert tiny.pathways_of("P", level=2).padded is False
    hits = tiny.pathways_of("A", level=3)
    assert (hits.ids, hits.padded) == (["R-HSA-11"], False)
    hits = tiny.pathways_of("E", level=3)  # only in root R2
    assert (hits.ids, hits.padded, hits.deepest_level) == (["R-HSA-2"], True, 1)


def test_hierarchy_queries_agree_with_raw(graph, raw):
    rng = random.Random(3)
    for pid in [*rng.sample(sorted(raw.names), 60), "R-HSA-109581"]:
        assert graph.children(pid) == sorted(raw.children[pid])
        assert graph.parents(pid) == sorted(raw.parents[pid])
        up, frontier = set(), set(raw.parents[pid])
        while frontier:
            up |= frontier
            frontier = {q for f in frontier for q in raw.parents[f]} - up
        assert graph.ancestors(pid) == sorted(up)
        down, frontier = set(), set(raw.children[pid])
        while frontier:
            down |= frontier
            frontier = {q for f in frontier for q in raw.children[f]} - down
        assert graph.descendants(pid) == sorted(down)


def test_inclusive_mode_unions_descendant_sets(tmp_path, make_release, tiny_parts):
    pathways, relations, _ = tiny_parts
    # Sets as annotated only (not inclusive): the root holds only its own gene.
    direct = {"R-HSA-1": ["Z"], "R-HSA-11": ["A"], "R-HSA-12": ["C"], "R-HSA-13": ["P"]}
    g = ReactomeGraph.load(make_release(tmp_path / "r", pathways, relations, direct), cache=False)
    assert g.genes_of("R-HSA-1") == ["Z"]
    assert g.genes_of("R-HSA-1", inclusive=True) == ["A", "C", "P", "Z"]
    assert g.genes_of("R-HSA-2", inclusive=True) == ["C"]
    assert g.pathways_of("C", level=1).ids == []  # deepest level of C is 2 (M), so no padding at level 1
    assert set(g.pathways_of("C", level=1, inclusive=True).ids) == {"R-HSA-1", "R-HSA-2"}


def test_inclusive_equals_plain_on_reactome_sets(graph, raw):
    # Reactome's sets already include sub-pathway genes: the union over descendants changes nothing.
    for pid in random.Random(5).sample(sorted(raw.sets), 80):
        assert graph.genes_of(pid, inclusive=True) == graph.genes_of(pid)


def test_search_and_pathways(graph):
    hits = graph.search("Apoptosis")
    assert hits[0].id == "R-HSA-109581"
    assert all("apoptosis" in p.name.lower() for p in hits)
    assert graph.search("R-HSA-109581")[0].name == "Apoptosis"
    assert graph.search("no such pathway name") == []
    with pytest.raises(InputError):
        graph.search("  ")
    level3 = graph.pathways(level=3)
    assert level3 and all(p.level == 3 for p in level3)
    assert sum(graph.levels().values()) == len(graph.pathways())


def test_unknown_ids_and_genes_suggest_close_matches(graph):
    with pytest.raises(NotFoundError, match="R-HSA-109581"):
        graph.genes_of("R-HSA-10958")
    with pytest.raises(NotFoundError, match="TP53"):
        graph.pathways_of("tp53")
    with pytest.raises(NotFoundError, match="--species"):
        graph.level_of("R-MMU-109581")
    with pytest.raises(InputError, match="level"):
        graph.pathways_of("TP53", level=0)
    with pytest.raises(InputError, match="whole number"):
        graph.pathways_of("TP53", level="two")


def test_networkx_graph_structure(graph, raw):
    nxg = graph.graph
    node = nxg.nodes["R-HSA-109581"]
    assert (node["kind"], node["name"], node["level"], node["species"]) == ("pathway", "Apoptosis", 2, "Homo sapiens")
    assert nxg.nodes["TP53"]["kind"] == "gene"
    kinds: dict[str, int] = {}
    for _, _, kind in nxg.edges(data="kind"):
        kinds[kind] = kinds.get(kind, 0) + 1
    assert kinds["parent_of"] == sum(len(c) for c in raw.children.values())
    assert kinds["has_gene"] == sum(len(s) for s in raw.sets.values())
    assert set(graph.hierarchy.successors("R-HSA-109581")) == raw.children["R-HSA-109581"]
