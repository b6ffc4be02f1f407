"""Attention mask: Reactome pairs plus the co-expression fallback for missing genes, computed independently."""

from __future__ import annotations

import numpy as np
import pytest

from kg_build.coexpression import pearson_matrix, training_cells
from kg_build.mask import attention_mask, mask_from_reactome
from reactomenet.errors import InputError


def independent_rule(base, corr, k, thr):
    """Loop version of the documented rule: {reactome pairs} ∪ {diag} ∪ sym(top-k |r| > thr of missing rows)."""
    n = len(base.genes)
    src = {}
    for a, b in zip(base.i.tolist(), base.j.tolist(), strict=True):
        src[(a, b)] = "self" if a == b else "reactome"
    for a in range(n):
        src[(a, a)] = "self"
    for g in base.missing:
        a = base.genes.index(g)
        cand = sorted((-abs(corr[a, b]), b) for b in range(n) if b != a and abs(corr[a, b]) > thr)
        for _, b in cand[:k]:
            for pair in ((a, b), (b, a)):
                src.setdefault(pair, "coexpression")
    return sorted(src.items())


@pytest.mark.parametrize("k,thr", [(3, 0.1), (20, 0.4), (1, 0.0)])
def test_mask_equals_reactome_plus_fallback(data, split, fakes, k, thr):
    corr = pearson_matrix(data.adata.X, training_cells(data, split))
    base = fakes.FakeReactome().mask(data.genes, level=3)
    m = attention_mask(base, corr, top_k=k, threshold=thr)
    got = sorted(zip(zip(m.i.tolist(), m.j.tolist(), strict=True), m.source.tolist(), strict=True))
    assert got == independent_rule(base, corr, k, thr)
    assert list(zip(m.i, m.j, strict=True)) == sorted(zip(m.i, m.j, strict=True))  # sorted by (i, j)
    dense = np.zeros((len(m.genes),) * 2, bool)
    dense[m.i, m.j] = True
    assert (dense == dense.T).all() and dense.diagonal().all()
    rep = m.report()
    assert rep["pairs"] == m.i.size and rep["density"] == pytest.approx(m.i.size / len(m.genes) ** 2)
    assert rep["genes_covered"]["self"] == len(m.genes)
    assert rep["genes_missing_from_reactome"] == len(base.missing)


def test_mask_with_data_names_mapped_to_symbols(data, split, fakes):
    corr = pearson_matrix(data.adata.X, training_cells(data, split))
    names = [f"ENSG{k:011d}" for k in range(len(data.genes))]
    m = mask_from_reactome(fakes.FakeReactome(), names, corr, symbols=data.genes, top_k=3, threshold=0.1)
    direct = mask_from_reactome(fakes.FakeReactome(), data.genes, corr, top_k=3, threshold=0.1)
    assert m.genes == names and np.array_equal(m.i, direct.i) and np.array_equal(m.source, direct.source)


def test_no_gene_in_reactome_is_refused(fakes):
    with pytest.raises(InputError, match="none of the 2 measured genes is in Reactome"):
        mask_from_reactome(fakes.FakeReactome(), ["ZZ1", "ZZ2"], np.eye(2))


def test_real_reactomenet_mask_plus_fallback(data, split):
    reactomenet = pytest.importorskip("reactomenet")
    if not hasattr(reactomenet, "ReactomeGraph"):
        pytest.skip("reactomenet.ReactomeGraph not available yet")
    g = reactomenet.ReactomeGraph.load()
    corr = pearson_matrix(data.adata.X, training_cells(data, split))
    base = g.mask(data.genes, level=3)
    assert "ZZ_NOVEL1" in base.missing
    m = mask_from_reactome(g, data.genes, corr, level=3, top_k=3, threshold=0.1)
    got = sorted(zip(zip(m.i.tolist(), m.j.tolist(), strict=True), m.source.tolist(), strict=True))
    assert got == independent_rule(base, corr, 3, 0.1)
    frame = base.to_frame()
    ref = set(zip(frame.i, frame.j, strict=True))
    assert ref == {p for p, s in got if s in ("reactome", "self")}
