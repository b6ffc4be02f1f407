from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from biodsnn.data import DEGenes, load_perturb_data, rank_de_genes, simulate, welch_t_scores
from reactomenet.errors import InputError


@pytest.fixture(scope="module")
def data():
    return load_perturb_data(simulate(preset="tiny", seed=2, progress=False))


def test_t_scores_equal_scipy(data) -> None:
    conds = data.conditions[:4]
    scores = welch_t_scores(data, conds)
    dense = data.X.toarray().astype(np.float64)
    ctrl = dense[data.control_cells]
    for i, cond in enumerate(conds):
        expected = stats.ttest_ind(dense[data.cells_of(cond)], ctrl, equal_var=False).statistic
        expected = np.nan_to_num(expected)
        np.testing.assert_allclose(scores[i], expected, rtol=1e-6, atol=1e-8)


def test_top_genes_equal_direct_ranking(data) -> None:
    de = rank_de_genes(data, n_top=20)
    dense = data.X.toarray().astype(np.float64)
    ctrl = dense[data.control_cells]
    ctrl_mean = ctrl.mean(0)
    for cond in data.conditions[:5]:
        pert = dense[data.cells_of(cond)]
        t = np.nan_to_num(stats.ttest_ind(pert, ctrl, equal_var=False).statistic)
        order = sorted(range(len(t)), key=lambda j: -abs(t[j]))
        assert de.top[cond].tolist() == order[:20]
        pert_mean = pert.mean(0)
        keep = [j for j in order if pert_mean[j] != 0 or ctrl_mean[j] == 0]
        assert de.top_non_dropout[cond].tolist() == keep[:20]


def test_matches_scanpy(data) -> None:
    sc = pytest.importorskip("scanpy")
    ad = data.adata.copy()
    sc.tl.rank_genes_groups(
        ad,
        "condition",
        groups=data.conditions[:3],
        reference="ctrl",
        method="t-test",
        rankby_abs=True,
        n_genes=20,
        use_raw=False,
    )
    de = rank_de_genes(data)
    for cond in data.conditions[:3]:
        names = [str(g) for g in ad.uns["rank_genes_groups"]["names"][cond]]
        assert set(names) == set(de.names(cond))


def test_cache_round_trip(data, tmp_path) -> None:
    de = rank_de_genes(data, n_top=10, cache_dir=tmp_path)
    files = list(tmp_path.glob("de-*.parquet"))
    assert len(files) == 1 and data.fingerprint[:16] in files[0].name
    loaded = DEGenes.load(files[0])
    assert loaded.fingerprint == data.fingerprint and loaded.n_top == 10
    for cond in data.conditions:
        np.testing.assert_array_equal(loaded.top[cond], de.top[cond])
        np.testing.assert_array_equal(loaded.top_non_dropout[cond], de.top_non_dropout[cond])
    fresh = load_perturb_data(data.adata)  # new object, empty memory cache: reads the file
    again = rank_de_genes(fresh, n_top=10, cache_dir=tmp_path)
    assert again.top.keys() == de.top.keys()


def test_bad_options(data) -> None:
    with pytest.raises(InputError, match="unknown DE method"):
        rank_de_genes(data, method="anova")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="n_top"):
        rank_de_genes(data, n_top=0)


def test_dense_and_sparse_x_give_the_same_ranking(data) -> None:
    dense = data.adata.copy()
    dense.X = dense.X.toarray()
    other = load_perturb_data(dense)
    np.testing.assert_allclose(
        welch_t_scores(other, data.conditions), welch_t_scores(data, data.conditions), rtol=1e-9, atol=1e-9
    )
    a, b = rank_de_genes(other), rank_de_genes(data)
    assert all(np.array_equal(a.top[c], b.top[c]) for c in data.conditions)
    assert all(np.array_equal(a.top_non_dropout[c], b.top_non_dropout[c]) for c in data.conditions)
