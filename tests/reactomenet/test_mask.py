"""GeneMask: the sparse product against plain Python sets, the padding rule, and the Parquet export."""

from __future__ import annotations

import random

import numpy as np
import pyarrow.parquet as pq
import pytest

from reactomenet.errors import InputError
from reactomenet.io import read_parquet_metadata


def _independent_mask(raw, genes: list[str], level: int) -> set[tuple[int, int]]:
    """allowed(i, j) by the documented rule, with Python sets and no matrices."""
    members = raw.memberships()
    effective: dict[str, set[str]] = {}
    for g in genes:
        if g not in members:
            continue
        deepest = max(raw.levels[p] for p in members[g])
        target = min(level, deepest)
        effective[g] = {p for p in members[g] if raw.levels[p] == target}
    pairs = {(k, k) for k in range(len(genes))}
    for a, ga in enumerate(genes):
        for b, gb in enumerate(genes):
            if ga in effective and gb in effective and (effective[ga] & members[gb] or effective[gb] & members[ga]):
                pairs.add((a, b))
    return pairs


@pytest.mark.parametrize("level", [1, 3, 4])
def test_mask_equals_independent_set_computation(graph, raw, level):
    universe = sorted(set().union(*raw.sets.values()))
    rng = random.Random(level)
    genes = [*rng.sample(universe, 180), "NOT_A_GENE_1", "NOT_A_GENE_2"]
    rng.shuffle(genes)
    mask = graph.mask(genes, level=level)
    got = set(zip(mask.i.tolist(), mask.j.tolist(), strict=True))
    assert got == _independent_mask(raw, genes, level)
    assert len(got) == mask.n_pairs  # no duplicate pairs
    assert sorted(mask.missing) == ["NOT_A_GENE_1", "NOT_A_GENE_2"]


def test_unpadded_pairs_mean_sharing_a_level_pathway(graph, raw):
    members = raw.memberships()
    universe = sorted(set().union(*raw.sets.values()))
    genes = random.Random(11).sample(universe, 150)
    mask = graph.mask(genes, level=3)
    unpadded = set(genes) - set(mask.padded)
    level3 = {g: {p for p in members[g] if raw.levels[p] == 3} for g in genes}
    allowed = set(zip(mask.i.tolist(), mask.j.tolist(), strict=True))
    for a, ga in enumerate(genes):
        for b, gb in enumerate(genes):
            if a != b and ga in unpadded and gb in unpadded:
                assert ((a, b) in allowed) == bool(level3[ga] & level3[gb])


def test_mask_padding_rule_on_tiny_release(tiny):
    genes = ["A", "B", "C", "D", "P", "Q", "E", "ZZ"]
    mask = tiny.mask(genes, level=3)
    pairs = {(genes[i], genes[j]) for i, j in zip(mask.i, mask.j, strict=True) if i != j}
    expected = {
        ("A", "B"), ("A", "C"), ("B", "C"),  # share the level-3 pathway Y
        ("D", "A"), ("D", "B"), ("D", "C"),  # D is padded to X (level 2) = {A, B, C, D}
        ("P", "Q"), ("P", "B"), ("Q", "B"),  # P, Q are padded to the leaf S (level 2) = {P, Q, B}
        ("E", "C"),  # E is padded to the root R2 (level 1) = {C, E}
    }  # fmt: skip
    assert pairs == expected | {(b, a) for a, b in expected}
    assert mask.padded == ["D", "P", "Q", "E"]
    assert mask.missing == ["ZZ"]
    assert (7, 7) in set(zip(mask.i.tolist(), mask.j.tolist(), strict=True))


def test_mask_shape_order_and_views(graph):
    genes = ["MDM2", "TP53", "NOT_A_GENE", "CASP3"]
    mask = graph.mask(genes, level=3)
    assert mask.genes == genes
    order = np.lexsort((mask.j, mask.i))
    assert (order == np.arange(mask.n_pairs)).all()
    dense = mask.to_scipy().toarray()
    assert dense.shape == (4, 4) and (dense == dense.T).all() and dense.diagonal().all()
    assert dense[2].sum() == 1 and dense[:, 2].sum() == 1
    frame = mask.to_frame()
    assert frame.columns.tolist() == ["i", "j", "gene_i", "gene_j", "source"]
    assert (frame.source == np.where(frame.i == frame.j, "self", "reactome")).all()
    assert (frame.gene_i == [genes[k] for k in frame.i]).all()
    assert mask.i.dtype == np.int64 and mask.j.dtype == np.int64


def test_mask_refuses_bad_gene_lists(graph):
    with pytest.raises(InputError, match="empty"):
        graph.mask([], level=3)
    with pytest.raises(InputError, match="duplicated"):
        graph.mask(["TP53", "MDM2", "TP53"], level=3)
    with pytest.raises(InputError, match="below 1"):
        graph.mask(["TP53"], level=0)
    with pytest.raises(InputError):
        graph.mask("TP53", level=3)


def test_mask_parquet_metadata(graph, tmp_path):
    mask = graph.mask(["TP53", "MDM2", "NOT_A_GENE"], level=2)
    path = mask.to_parquet(tmp_path / "mask.parquet")
    meta = read_parquet_metadata(path)
    assert meta["level"] == 2 and meta["gene_count"] == 3 and meta["species"] == "R-HSA"
    assert meta["release_sha256"] == graph.release.sha256
    assert meta["missing"] == ["NOT_A_GENE"]
    assert meta["package_version"]
    table = pq.read_table(path)
    assert table.num_rows == mask.n_pairs
    assert table.schema.field("i").type == "int64"


def test_failed_write_leaves_no_file(graph, tmp_path, monkeypatch):
    def broken(table, where, **kw):
        with open(where, "wb") as handle:
            handle.write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", broken)  # reactomenet.io imports it when writing
    with pytest.raises(OSError, match="disk full"):
        graph.mask(["TP53", "MDM2"], level=3).to_parquet(tmp_path / "mask.parquet")
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_is_an_input_error(graph, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot write"):
        graph.mask(["TP53"], level=3).to_parquet(blocker / "sub" / "mask.parquet")


def test_inclusive_mode_rebuilds_inclusive_sets(tmp_path, make_release, tiny_parts, tiny):
    pathways, relations, _ = tiny_parts
    # Directly annotated genes only; their unions over descendants are exactly the tiny release's sets.
    direct = {
        "R-HSA-2": ["E"],
        "R-HSA-10": ["D"],
        "R-HSA-11": ["A", "B"],
        "R-HSA-12": ["C"],
        "R-HSA-13": ["P", "Q", "B"],
    }
    from reactomenet import ReactomeGraph

    g = ReactomeGraph.load(make_release(tmp_path / "direct", pathways, relations, direct), cache=False)
    for p in tiny.pathways():
        assert g.genes_of(p.id, inclusive=True) == tiny.genes_of(p.id)
    genes = ["A", "B", "C", "D", "P", "Q", "E"]
    for level in (1, 2, 3):
        ours, ref = g.mask(genes, level=level, inclusive=True), tiny.mask(genes, level=level)
        assert ours.i.tolist() == ref.i.tolist() and ours.j.tolist() == ref.j.tolist()
        assert ours.padded == ref.padded
        for gene in genes:
            a, b = g.pathways_of(gene, level=level, inclusive=True), tiny.pathways_of(gene, level=level)
            assert (a.ids, a.padded) == (b.ids, b.padded)
