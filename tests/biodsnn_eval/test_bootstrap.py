"""Bootstrap intervals: seeded, paired, and sensible."""

from __future__ import annotations

import math

import numpy as np

from biodsnn.evaluate import bootstrap_ci, bootstrap_indices


def test_same_seed_same_indices_other_seed_or_stream_differs():
    a = bootstrap_indices(20, 100, seed=3, stream="combo_seen1")
    assert (a == bootstrap_indices(20, 100, seed=3, stream="combo_seen1")).all()
    assert not (a == bootstrap_indices(20, 100, seed=4, stream="combo_seen1")).all()
    assert not (a == bootstrap_indices(20, 100, seed=3, stream="combo_seen2")).all()


def test_interval_brackets_mean_and_matches_a_plain_loop():
    rng = np.random.default_rng(0)
    v = rng.normal(1.0, 1.0, 30)
    idx = bootstrap_indices(30, 500, seed=1)
    mean, lo, hi = bootstrap_ci(v, idx)
    plain = np.array([v[i].mean() for i in idx])
    assert mean == v.mean()
    assert lo == np.quantile(plain, 0.025) and hi == np.quantile(plain, 0.975)
    assert lo < mean < hi


def test_nan_values_are_skipped_and_columns_are_independent():
    v = np.array([[1.0, np.nan], [2.0, 5.0], [3.0, np.nan]])
    mean, lo, hi = bootstrap_ci(v, bootstrap_indices(3, 200, seed=0))
    assert mean.tolist() == [2.0, 5.0]
    assert hi[1] == lo[1] == 5.0
    empty = bootstrap_ci(np.zeros(0), bootstrap_indices(0, 10, 0))
    assert all(math.isnan(x) for x in empty)
