"""Co-expression: streamed Pearson equals numpy corrcoef; top-k; only training cells are ever read."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from kg_build.coexpression import coexpression_graph, correlation_topk, pearson_matrix, training_cells
from reactomenet.errors import InputError


@pytest.mark.parametrize("sparse", [True, False])
def test_pearson_matches_corrcoef_on_a_row_subset(sparse):
    rng = np.random.default_rng(3)
    X = rng.gamma(1.0, 2.0, size=(300, 40)) * (rng.random((300, 40)) < 0.4) + 5.0 * (rng.random((300, 1)) < 0.5)
    X[:, 7] = 2.5  # a constant gene
    rows = np.sort(rng.choice(300, 170, replace=False))
    Xin = sp.csr_matrix(X.astype(np.float32)) if sparse else X.astype(np.float32)
    got = pearson_matrix(Xin, rows, chunk_size=33)
    with np.errstate(invalid="ignore", divide="ignore"):
        want = np.corrcoef(X.astype(np.float32).astype(np.float64)[rows], rowvar=False)
    ok = np.ones(40, bool)
    ok[7] = False
    assert np.allclose(got[np.ix_(ok, ok)], want[np.ix_(ok, ok)], atol=1e-6)
    assert np.all(got[7, ok] == 0) and got[7, 7] == 1.0
    assert np.allclose(got, pearson_matrix(Xin, rows, chunk_size=1000), atol=1e-6)


def test_correlation_topk_brute_force():
    rng = np.random.default_rng(0)
    c = np.round(rng.uniform(-1, 1, size=(30, 30)), 1)  # rounding makes many ties
    c = (c + c.T) / 2
    np.fill_diagonal(c, 1.0)
    g, p, r = correlation_topk(c, top_k=4, threshold=0.3, block_size=7)
    want = []
    for i in range(30):
        cand = sorted((-abs(c[i, j]), j) for j in range(30) if j != i and abs(c[i, j]) > 0.3)
        want += [(i, j) for _, j in cand[:4]]
    assert list(zip(g.tolist(), p.tolist(), strict=True)) == want
    assert np.array_equal(r, c[g, p])


def test_graph_edges_point_from_partner_to_gene():
    c = np.array([[1.0, -0.9, 0.5], [-0.9, 1.0, 0.1], [0.5, 0.1, 1.0]])
    g = coexpression_graph(c, ["A", "B", "C"], top_k=1, threshold=0.4)
    f = g.to_frame()
    assert f[["source_gene", "target_gene"]].values.tolist() == [["B", "A"], ["A", "B"], ["A", "C"]]
    assert f.pearson.tolist() == pytest.approx([-0.9, -0.9, 0.5]) and (f.weight >= 0).all()


def _graph(data, split):
    corr = pearson_matrix(data.adata.X, training_cells(data, split), chunk_size=16)
    return coexpression_graph(corr, data.genes, top_k=5, threshold=0.1).to_frame()


def test_training_cells_exclude_val_and_test(data, split, fakes):
    rows = training_cells(data, split)
    cond = np.asarray(data.adata.obs["condition"])
    assert set(cond[rows]) == {"ctrl"} | {c for c, s in fakes.SPLIT.items() if s == "train"}
    assert rows.size == len(data.control_cells) + sum(len(data.cells_of(c)) for c in split.train)


def test_changing_only_held_out_cells_leaves_the_graph_unchanged(split, fakes):
    make_data, FakeSplit, SPLIT = fakes.make_data, fakes.FakeSplit, fakes.SPLIT
    base = make_data(seed=0)
    held = make_data(seed=0)
    X = held.adata.X.toarray()
    cond = np.asarray(held.adata.obs["condition"])
    out = np.isin(cond, split.val + split.test)
    X[out] = np.random.default_rng(99).gamma(2.0, 3.0, size=(out.sum(), X.shape[1]))
    held.adata.X = sp.csr_matrix(X)
    assert base.fingerprint != held.fingerprint
    assert _graph(base, split).equals(_graph(held, split))
    # the converse: changing only training cells changes the graph
    moved = make_data(seed=0)
    X = moved.adata.X.toarray()
    train = np.isin(cond, split.train)
    X[train] = np.random.default_rng(99).gamma(2.0, 3.0, size=(train.sum(), X.shape[1]))
    moved.adata.X = sp.csr_matrix(X)
    assert not _graph(base, split).equals(_graph(moved, split))
    # and a split that moves a condition into training changes it too
    other = FakeSplit({**SPLIT, "CEBPA+ctrl": "train"})
    assert not _graph(base, split).equals(_graph(base, other))


def test_split_for_other_data_is_refused(data, fakes):
    with pytest.raises(InputError, match="not in the data"):
        training_cells(data, fakes.FakeSplit({"NOPE+ctrl": "train"}))
