"""Every registered metric runs :class:`MetricTestCase`, and so do metrics a user registers, of every kind."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from scipy.stats import spearmanr

from biodsnn.evaluate import METRICS, GIScores, MetricSpec, evaluate, get_metric, list_metrics, register_metric
from reactomenet.errors import InputError

from .cases import MetricTestCase, Noisy
from .conftest import make_fake


class TestRegisteredMetric(MetricTestCase):
    """Collected over the registry as it stands: a metric added to biodsnn.evaluate is tested here by itself."""

    @pytest.fixture(params=list_metrics(), scope="class")
    def spec(self, request):
        return get_metric(request.param)


# A user's metrics, one of each kind, with the signatures MetricSpec documents.
def max_abs_error(pred: np.ndarray, true: np.ndarray, ctrl: np.ndarray, idx: np.ndarray | None) -> float:
    d = pred - true if idx is None else (pred - true)[idx]
    return float(np.max(np.abs(d)))


def nearest_is_own(pred_delta: np.ndarray, true_delta: np.ndarray, exclude: Sequence[np.ndarray] | None) -> np.ndarray:
    """1 when a perturbation's predicted change is nearer (L2, its targets left out) to its own true change than to
    any other's; 0 otherwise."""
    out = np.empty(len(pred_delta))
    for p in range(len(pred_delta)):
        keep = np.ones(pred_delta.shape[1], dtype=bool)
        keep[exclude[p]] = False
        dist = np.linalg.norm(true_delta[:, keep] - pred_delta[p, keep], axis=1)
        out[p] = float(np.argmin(dist) == p)
    return out


def c1_abs_error(pred: GIScores, true: GIScores) -> float:
    return abs(pred.c1 - true.c1)


def magnitude_spearman(pred: Sequence[GIScores], true: Sequence[GIScores]) -> float:
    if len(pred) < 2:
        return float("nan")
    return float(spearmanr([s.magnitude for s in pred], [s.magnitude for s in true]).statistic)


USER_METRICS = {
    "user_max_abs_error_de20": MetricSpec("user_max_abs_error_de20", False, "de20", "perturbation",
                                          "largest |pred − true| over the top-20 DE genes", max_abs_error, best=0.0),
    "user_nearest_is_own": MetricSpec("user_nearest_is_own", True, "targets_excluded", "cross",
                                      "own true change is the nearest (L2)", nearest_is_own, best=1.0),
    "user_gi_c1_error": MetricSpec("user_gi_c1_error", False, "gi", "gi_double", "|pred − true| c1 of a double",
                                   c1_abs_error, best=0.0),
    "user_gi_mag_spearman": MetricSpec("user_gi_mag_spearman", True, "gi", "gi_set",
                                       "Spearman of GI magnitudes", magnitude_spearman, best=1.0),
}


@pytest.fixture(scope="module")
def user_metrics():
    """Register the user's metrics for this module's tests, then remove them so the registry is as it was."""
    for spec in USER_METRICS.values():
        register_metric(spec)
    try:
        yield USER_METRICS
    finally:
        for name in USER_METRICS:
            METRICS.pop(name, None)


class TestUserRegisteredMetric(MetricTestCase):
    """A metric registered from outside the package gets the same tests, through evaluate()."""

    @pytest.fixture(params=list(USER_METRICS), scope="class")
    def spec(self, request, user_metrics):
        return user_metrics[request.param]


def test_user_metrics_of_every_kind_are_computed_by_their_own_function(user_metrics):
    data, split, de = make_fake(seed=3)
    model = Noisy(data, 0.5)
    res = evaluate([model], data, split, de, n_boot=0, noise_free=False)
    assert {s.kind for s in user_metrics.values()} == {"perturbation", "cross", "gi_double", "gi_set"}
    assert set(user_metrics) <= set(res.summary.metric)
    conds = list(res.conditions)
    per = res.metrics.set_index(["condition", "metric"]).value
    pred, true = model.predict_means(conds), data.condition_means(conds)
    ctrl = np.asarray(data.control_mean, dtype=np.float64)
    for k, c in enumerate(conds):
        top = de.top[c]
        assert per[(c, "user_max_abs_error_de20")] == pytest.approx(np.abs(pred[k, top] - true[k, top]).max())
    expected = nearest_is_own(pred - ctrl, true - ctrl, [[data.genes.index(g) for g in data.condition_genes(c)]
                                                         for c in conds])
    assert [per[(c, "user_nearest_is_own")] for c in conds] == expected.tolist()
    gi = res.gi[res.gi.reference == "observed"]
    p = gi[gi.source == "pred"].set_index("condition")
    t = gi[gi.source == "true"].set_index("condition")
    for c in p.index:
        assert per[(c, "user_gi_c1_error")] == pytest.approx(abs(p.c1[c] - t.c1[c]))
    spearman = spearmanr(p.magnitude, t.magnitude.loc[p.index]).statistic
    assert res.score("noisy", "user_gi_mag_spearman").mean == pytest.approx(spearman)
    # the built-in set-level metrics keep their own values next to a user's one of the same kind
    pearson = np.corrcoef(p.magnitude, t.magnitude.loc[p.index])[0, 1]
    assert res.score("noisy", "gi_mag_pearson").mean == pytest.approx(pearson)
    assert spearman != pytest.approx(pearson)


def test_a_metric_that_breaks_its_contract_is_refused_in_one_line():
    with pytest.raises(InputError, match="gene set"):
        MetricSpec("bad_set", False, "de20", "cross", "x", nearest_is_own)
    with pytest.raises(InputError, match="unknown kind"):
        MetricSpec("bad_kind", False, "all", "per_cell", "x", max_abs_error)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="func"):
        MetricSpec("bad_func", False, "all", "perturbation", "x", None)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="MetricSpec"):
        register_metric("mse")  # type: ignore[arg-type]
    wrong = MetricSpec("user_wrong_length", True, "all", "cross", "x", lambda p, t, e: np.zeros(1))
    data, split, de = make_fake(seed=3)
    register_metric(wrong)
    try:
        with pytest.raises(InputError, match="one value per perturbation"):
            evaluate([Noisy(data, 0.5)], data, split, de, metrics=[wrong.name], n_boot=0)
    finally:
        METRICS.pop(wrong.name)
