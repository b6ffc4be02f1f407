"""Theil–Sen and the GI scores against brute force and independent implementations."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.optimize import minimize

from biodsnn.evaluate import distance_correlation, gi_scores, spatial_median, theil_sen_2
from biodsnn.evaluate._gi import pair_solutions
from reactomenet.errors import InputError


def brute_force_theil_sen(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """All pairs solved one by one with numpy, then the spatial median by direct minimisation."""
    sols = []
    for i, j in itertools.combinations(range(len(y)), 2):
        a = x[[i, j]]
        if abs(np.linalg.det(a)) > 1e-9:
            sols.append(np.linalg.solve(a, y[[i, j]]))
    pts = np.array(sols)

    def cost(c: np.ndarray) -> float:
        return float(np.sqrt(((pts - c) ** 2).sum(1)).sum())

    res = minimize(cost, np.median(pts, 0), method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12,
                                                                            "maxiter": 20000})
    return res.x


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_theil_sen_equals_brute_force_spatial_median_of_pair_slopes(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(12, 2))
    y = x @ np.array([0.8, -1.3]) + rng.standard_t(2, size=12)
    expected = brute_force_theil_sen(x, y)
    assert np.allclose(theil_sen_2(x, y), expected, atol=1e-5)


def test_pair_solutions_match_numpy_solve():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=6)
    ours = pair_solutions(x, y)
    ref = np.array([np.linalg.solve(x[[i, j]], y[[i, j]]) for i, j in itertools.combinations(range(6), 2)])
    assert np.allclose(ours, ref)


def test_theil_sen_against_sklearn():
    sklearn = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(40, 2))
    y = x @ np.array([1.2, 0.4]) + rng.normal(0, 0.3, 40)
    ts = sklearn.TheilSenRegressor(fit_intercept=False, max_subpopulation=10_000, random_state=0, tol=1e-8,
                                   max_iter=10_000).fit(x, y)
    assert np.allclose(theil_sen_2(x, y), ts.coef_, atol=1e-4)


def test_theil_sen_recovers_coefficients_despite_outliers_and_is_seeded():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(400, 2))
    y = x @ np.array([2.0, 0.5])
    y[:40] += rng.normal(0, 50, 40)
    c = theil_sen_2(x, y, max_pairs=5000, seed=1)  # 79,800 pairs > 5000: sampled
    assert c == pytest.approx((2.0, 0.5), abs=1e-3)
    assert theil_sen_2(x, y, max_pairs=5000, seed=1) == c
    singular = np.zeros((5, 2))
    assert all(math.isnan(v) for v in theil_sen_2(singular, np.ones(5)))


def test_spatial_median_collinear_and_single_point():
    assert spatial_median(np.array([[1.0, 2.0]])).tolist() == [1.0, 2.0]
    # on a line, the spatial median is the ordinary median
    pts = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [10.0, 10.0], [3.0, 3.0]])
    assert np.allclose(spatial_median(pts), [2.0, 2.0], atol=1e-6)


def test_distance_correlation_against_loops():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 2)), rng.normal(size=7)
    n = 7

    def centred(z):
        d = [[float(np.linalg.norm(np.atleast_1d(z[i] - z[j]))) for j in range(n)] for i in range(n)]
        row = [sum(r) / n for r in d]
        tot = sum(row) / n
        return [[d[i][j] - row[i] - row[j] + tot for j in range(n)] for i in range(n)]

    a, b = centred(x), centred(y)
    v = lambda p, q: sum(p[i][j] * q[i][j] for i in range(n) for j in range(n)) / n**2  # noqa: E731
    expected = math.sqrt(v(a, b) / math.sqrt(v(a, a) * v(b, b)))
    assert distance_correlation(x, y) == pytest.approx(expected)
    assert distance_correlation(np.arange(5.0), 3 * np.arange(5.0) + 1) == pytest.approx(1.0)


def test_gi_scores_by_hand():
    a = np.array([1.0, 0.0, 2.0, -1.0, 0.5])
    b = np.array([0.0, 1.0, 1.0, 3.0, -2.0])
    s = gi_scores(a, b, 3 * a + 4 * b)
    assert (s.c1, s.c2) == pytest.approx((3.0, 4.0))
    assert s.magnitude == pytest.approx(5.0)
    assert s.corr_fit == pytest.approx(1.0)
    assert s.dominance == pytest.approx(abs(math.log10(3 / 4)))
    assert 0 <= s.eq_contr <= 1 and 0 <= s.dcor <= 1


def test_pair_sampling_above_max_pairs_draws_seeded_distinct_row_pairs():
    """30 rows: 435 pairs. At most 435 allowed: every pair, in order; fewer: exactly that many solutions, each the
    exact solve of two distinct rows, the same for the same seed. Noisy y, so every pair has its own solution."""
    rng = np.random.default_rng(11)
    x, y = rng.normal(size=(30, 2)), rng.normal(size=30)
    every = np.array([np.linalg.solve(x[[i, j]], y[[i, j]]) for i, j in itertools.combinations(range(30), 2)])
    assert np.allclose(pair_solutions(x, y, max_pairs=435), every)
    drawn = pair_solutions(x, y, max_pairs=434, seed=3)
    assert drawn.shape == (434, 2)  # no pair of a row with itself (it would be singular and dropped)
    nearest = np.abs(drawn[:, None, :] - every[None, :, :]).max(-1).min(1)
    assert nearest.max() < 1e-9  # each is one pair's exact solution
    assert len(np.unique(drawn.round(9), axis=0)) > 200  # pairs of every kind, not one row or one offset (~275)
    assert np.array_equal(drawn, pair_solutions(x, y, max_pairs=434, seed=3))
    assert not np.array_equal(drawn, pair_solutions(x, y, max_pairs=434, seed=4))
    assert pair_solutions(x, y, max_pairs=50, seed=3).shape == (50, 2)


def test_gi_scores_pass_their_seed_and_pair_budget_to_theil_sen():
    rng = np.random.default_rng(12)
    a, b = rng.normal(size=40), rng.normal(size=40)
    d = 1.5 * a - 0.5 * b + rng.standard_t(2, size=40)  # 780 pairs, heavy-tailed noise
    x = np.column_stack([a, b])
    for seed in (1, 2):
        s = gi_scores(a, b, d, seed=seed, max_pairs=100)
        assert (s.c1, s.c2) == theil_sen_2(x, d, seed=seed, max_pairs=100)
    assert gi_scores(a, b, d, seed=1, max_pairs=100).c1 != gi_scores(a, b, d, seed=2, max_pairs=100).c1
    assert (gi_scores(a, b, d).c1, gi_scores(a, b, d).c2) == theil_sen_2(x, d)  # defaults: every pair


def test_distance_correlations_use_the_genes_the_double_moves_most_and_eq_contr_is_a_ratio():
    """1010 genes (above DCOR_MAX_GENES = 1000): the 10 the double moves least carry a pattern of their own."""
    from biodsnn.evaluate._gi import DCOR_MAX_GENES

    rng = np.random.default_rng(13)
    a, b = rng.normal(size=1010), rng.normal(size=1010)
    d = 2.0 * a + 0.3 * b + rng.normal(0, 0.5, size=1010)
    d[:10] = 1e-6 * np.arange(1, 11)  # the double barely moves these genes; the singles do, a lot
    a[:10] += 50.0
    s = gi_scores(a, b, d)
    keep = np.argsort(-np.abs(d), kind="stable")[:DCOR_MAX_GENES]
    assert set(range(10)).isdisjoint(keep)
    x = np.column_stack([a, b])
    assert s.dcor == distance_correlation(x[keep], d[keep])
    assert s.dcor != distance_correlation(x[:DCOR_MAX_GENES], d[:DCOR_MAX_GENES])
    d1, d2 = distance_correlation(a[keep], d[keep]), distance_correlation(b[keep], d[keep])
    assert d2 < d1 < 1.0  # neither single explains the double fully: a ratio, not a product, is min/max
    assert s.eq_contr == d2 / d1
    assert s.dcor_singles == distance_correlation(a[keep], b[keep])


def _by_minimisation(pts: np.ndarray) -> np.ndarray:
    def cost(c: np.ndarray) -> float:
        return float(np.sqrt(((pts - c) ** 2).sum(1)).sum())

    return minimize(cost, pts.mean(0), method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12,
                                                                       "maxiter": 20000}).x


def test_spatial_median_started_on_a_data_point_vardi_zhang():
    # the coordinate-wise median (10, 5) is a data point but not the spatial median: the correction must move on
    pts = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0], [10.0, 5.0]])
    assert np.allclose(spatial_median(pts), _by_minimisation(pts), atol=1e-6)
    assert not np.allclose(spatial_median(pts), [10.0, 5.0], atol=1e-3)
    # three points at the origin outweigh the pull of (1, 0) and (0, 1) (|sum of unit vectors| = √2 < 3): stay there
    heavy = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert spatial_median(heavy).tolist() == [0.0, 0.0]
    # one point at the origin does not ((√2 > 1)): the median leaves it, towards the other two
    light = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert np.allclose(spatial_median(light), [0.5, 0.5], atol=1e-6)
    with pytest.raises(InputError, match="no points"):
        spatial_median(np.zeros((0, 2)))


def test_theil_sen_is_the_spatial_median_of_the_drawn_pairs_and_checks_shapes():
    rng = np.random.default_rng(14)
    x = rng.normal(size=(40, 2))
    y = x @ np.array([0.7, -0.2]) + rng.standard_t(2, size=40)
    for seed in (0, 5):
        assert theil_sen_2(x, y, max_pairs=100, seed=seed) == tuple(
            spatial_median(pair_solutions(x, y, max_pairs=100, seed=seed)))
    for bad_x, bad_y in ((np.zeros((5, 3)), np.zeros(5)), (np.zeros((5, 2)), np.zeros(4)), (np.zeros(5), np.zeros(5))):
        with pytest.raises(InputError, match=r"shape \(n, 2\)"):
            theil_sen_2(bad_x, bad_y)
