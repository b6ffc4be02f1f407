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


def test_pearson_by_hand_small_variance_two_cells_every_matrix_format_and_a_constant_gene():
    # variances far below 1 (0.0025 and 0.01): r = ±1 for two genes moving together, 0 against a constant gene
    X = np.array([[0.10, 0.30, 7.0], [0.20, 0.10, 7.0], [0.15, 0.20, 7.0]])
    want = np.array([[1.0, -1.0, 0.0], [-1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    for fmt in (np.asarray, sp.csr_matrix, sp.csc_matrix, sp.coo_matrix):
        got = pearson_matrix(fmt(X))  # every cell (rows=None)
        assert np.allclose(got, want, atol=1e-6), fmt
        assert np.array_equal(got, got.T), fmt  # the constant gene's row and column are both 0
    two = pearson_matrix(X, np.array([0, 2]))  # two cells are enough: genes 0 and 1 move oppositely
    assert np.allclose(two, want, atol=1e-6)
    with pytest.raises(InputError, match="at least 2 cells"):
        pearson_matrix(X, np.array([1]))


def test_pearson_corrects_the_float32_rounding_of_a_large_mean():
    # counts near 1e7: float32 spacing is 1 there, so the float32 mean (1e7 + 1) is 1/3 off the true 1e7 + 4/3;
    # the products are exact, and only the n·δδᵀ correction brings the covariance back
    X = 1e7 + np.array([[0.0, 0.0], [2.0, 1.0], [2.0, 3.0]])
    want = np.corrcoef(X - 1e7, rowvar=False)
    assert np.allclose(pearson_matrix(X), want, atol=1e-9)


def test_correlation_topk_on_some_rows_and_on_none():
    c = np.array([[1.0, -0.9, 0.5, 0.2], [-0.9, 1.0, 0.1, 0.6], [0.5, 0.1, 1.0, -0.7], [0.2, 0.6, -0.7, 1.0]])
    g, p, r = correlation_topk(c, top_k=2, threshold=0.3, rows=[2, 0])
    assert (g.tolist(), p.tolist(), r.tolist()) == ([2, 2, 0, 0], [3, 0, 1, 2], [-0.7, 0.5, -0.9, 0.5])
    g, p, r = correlation_topk(c.astype(np.float32), top_k=2, threshold=0.3, rows=[])
    assert (g.shape, p.shape, r.shape) == ((0,), (0,), (0,))
    assert (g.dtype, p.dtype, r.dtype) == (np.int64, np.int64, np.float32)


def test_coexpression_graph_defaults_are_top_20_above_0_4_and_its_threshold_is_passed_on():
    # gene 0 correlates 0.9 with genes 1..21 (21 partners) and 0.41 / 0.39 with genes 22 / 23
    n = 24
    c = np.eye(n)
    c[0, 1:22] = c[1:22, 0] = 0.9
    c[0, 22] = c[22, 0] = 0.41
    c[0, 23] = c[23, 0] = 0.39
    genes = [f"G{i}" for i in range(n)]
    edges = coexpression_graph(c, genes).edge_index
    into_0 = sorted(edges[0, edges[1] == 0].tolist())
    assert into_0 == list(range(1, 21))  # top 20 of the 21 at 0.9 (ties by index): 22 and 23 not reached
    assert 0 in edges[0, edges[1] == 22]  # 0.41 > 0.4
    assert 0 not in edges[0, edges[1] == 23]  # 0.39 ≤ 0.4
    low = coexpression_graph(c, genes, threshold=0.3).edge_index
    assert 0 in low[0, low[1] == 23]


def test_training_cells_needs_three_cells_and_no_conditions_attribute():
    class D:  # a stand-in without ``conditions``: nothing to check the split against
        control_cells = np.array([0, 1])

        def cells_of(self, c):
            return {"A+ctrl": np.array([2]), "B+ctrl": np.array([], dtype=np.int64)}[c]

    class S:
        def __init__(self, train: list[str]) -> None:
            self.train = train

    assert training_cells(D(), S(["A+ctrl"])).tolist() == [0, 1, 2]  # three cells: enough
    with pytest.raises(InputError, match="only 2 training cells"):
        training_cells(D(), S(["B+ctrl"]))
