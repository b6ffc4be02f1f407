"""Each registered baseline: the generic cases plus its own hand-computed predictions."""

from __future__ import annotations

import numpy as np
import pytest

from biodsnn.baselines import BASELINES, get_baseline, list_baselines, resolve_baselines
from reactomenet.errors import InputError, NotFoundError

from .cases import BaselineTestCase
from .conftest import make_fake


class TestControl(BaselineTestCase):
    name = "control"


class TestMean(BaselineTestCase):
    name = "mean"


class TestAdditive(BaselineTestCase):
    name = "additive"


class TestLinear(BaselineTestCase):
    name = "linear"


def test_every_registered_baseline_has_a_case():
    covered = {cls.name for cls in BaselineTestCase.__subclasses__()}
    assert covered == set(BASELINES)


def test_registry_resolution():
    assert resolve_baselines("all") == list_baselines() == ["control", "mean", "additive", "linear"]
    assert resolve_baselines("mean,additive,mean") == ["mean", "additive"]
    assert resolve_baselines(None) == [] and resolve_baselines("none") == []
    with pytest.raises(NotFoundError, match="additive"):
        get_baseline("additiv")


def test_control_mean_additive_by_hand():
    data, split, _ = make_fake(seed=2)
    ctrl = data.control_mean.astype(np.float64)
    means = dict(zip(split.train, data.condition_means(split.train), strict=True))
    assert np.allclose(get_baseline("control")(data, split).fit().predict_means(["G6+ctrl"])[0], ctrl)
    mean_pred = get_baseline("mean")(data, split).fit().predict_means(["G6+ctrl"])[0]
    assert np.allclose(mean_pred, np.mean(list(means.values()), axis=0))
    add = get_baseline("additive")(data, split).fit()
    a, b = means["G0+ctrl"], means["G2+ctrl"]
    assert np.allclose(add.predict_means(["G0+G2"])[0], a + b - ctrl)  # combo_seen2
    assert np.allclose(add.predict_means(["G0+ctrl"])[0], a)  # a seen single: its own mean
    singles_mean_change = np.mean([means[f"G{i}+ctrl"] - ctrl for i in range(4)], axis=0)
    assert np.allclose(add.predict_means(["G0+G5"])[0], a + singles_mean_change)  # G5 unseen: fallback
    assert np.allclose(add.predict_means(["G6+ctrl"])[0], ctrl + singles_mean_change)


def test_additive_without_training_singles_and_for_the_control_predicts_no_change():
    """No single in training: a gene's change falls back to zero (not to a mean of nothing); the control itself is
    predicted as the control. (Mutation check: both branches had no test.)"""
    from .conftest import FakeSplit

    data, split, _ = make_fake(seed=3)
    doubles_only = FakeSplit([c for c in split.train if "ctrl" not in c], split.val, split.test, split.subgroup)
    assert doubles_only.train
    add = get_baseline("additive")(data, doubles_only).fit()
    ctrl = data.control_mean.astype(np.float64)
    assert np.allclose(add.predict_means(["G6+ctrl"])[0], ctrl) and np.allclose(add.predict_means(["G4+G5"])[0], ctrl)
    full = get_baseline("additive")(data, split).fit()
    assert np.allclose(full.predict_means(["ctrl"])[0], ctrl)


def _plain_linear(data, train, k, ridge):
    """The paper's closed form, written out with numpy: a predict function for conditions."""
    ctrl = data.control_mean.astype(np.float64)
    y = (data.condition_means(train) - ctrl).T
    b = y.mean(1, keepdims=True)
    u, s, _ = np.linalg.svd(y - b, full_matrices=False)
    g = u[:, :k] * s[:k]
    pos = {n: i for i, n in enumerate(data.genes)}

    def emb(c):
        return sum(g[pos[x]] for x in c.split("+") if x != "ctrl")

    p = np.stack([emb(c) for c in train], 1)
    # W minimises the two-sided ridge objective in the paper's closed form
    w = np.linalg.inv(g.T @ g + ridge * np.eye(k)) @ g.T @ (y - b) @ p.T @ np.linalg.inv(p @ p.T + ridge * np.eye(k))
    return lambda c: g @ w @ emb(c) + b[:, 0] + ctrl


def test_linear_matches_a_plain_ridge_computation():
    data, split, _ = make_fake(seed=4)
    model = get_baseline("linear")(data, split, n_components=3, ridge=0.1).fit()
    expected = _plain_linear(data, split.train, 3, 0.1)
    for c in ["G6+ctrl", "G4+G5", "G0+G1"]:
        assert np.allclose(model.predict_means([c])[0], expected(c))
    assert model.gene_embedding.shape == (len(data.genes), 3)


def test_linear_defaults_are_the_papers_and_bad_settings_are_refused():
    from .conftest import FakeSplit

    data, _, _ = make_fake(seed=4, n_singles=14)
    conds = ["G6+ctrl", "G4+G5", "G0+G1"]
    split = FakeSplit([c for c in data.conditions if c not in conds], [], conds)
    assert len(split.train) > 12  # enough training rank that K = 10 and K = 11 differ
    default = get_baseline("linear")(data, split).fit()
    assert (default.n_components, default.ridge) == (10, 0.1) and default.gene_embedding.shape[1] == 10
    assert np.allclose(default.predict_means(conds), np.stack([_plain_linear(data, split.train, 10, 0.1)(c)
                                                               for c in conds]))
    for bad in ({"n_components": 0}, {"ridge": -0.1}):
        with pytest.raises(InputError, match="n_components ≥ 1 and ridge ≥ 0"):
            get_baseline("linear")(data, split, **bad)
    # the smallest allowed settings work: one component, no ridge
    one = get_baseline("linear")(data, split, n_components=1, ridge=0.0).fit()
    assert np.allclose(one.predict_means(conds), np.stack([_plain_linear(data, split.train, 1, 0.0)(c)
                                                           for c in conds]))


def test_linear_with_two_training_conditions_keeps_the_one_component_they_span():
    """Centred, two training changes span one direction: K is capped at 1 whatever ``n_components`` asks."""
    from .conftest import FakeSplit

    data, split, _ = make_fake(seed=4)
    two = FakeSplit(["G0+ctrl", "G1+ctrl"], split.val, split.test, split.subgroup)
    model = get_baseline("linear")(data, two, n_components=3, ridge=0.1).fit()
    assert model.gene_embedding.shape == (len(data.genes), 1)
    expected = _plain_linear(data, two.train, 1, 0.1)
    for c in ["G6+ctrl", "G4+G5", "G0+ctrl"]:
        assert np.allclose(model.predict_means([c])[0], expected(c))


def test_no_leakage_on_real_perturb_data():
    """Rewrite the expression of every test and validation cell of a simulated AnnData: no baseline moves."""
    from biodsnn.data import load_perturb_data, make_split, simulate

    ad = simulate(preset="tiny", seed=3, progress=False)
    data = load_perturb_data(ad.copy())
    split = make_split(data.conditions, kind="simulation", seed=2)
    held_out = set(split.test) | set(split.val)
    tampered_ad = ad.copy()
    rows = np.flatnonzero(tampered_ad.obs["condition"].astype(str).isin(held_out).to_numpy())
    x = tampered_ad.X.toarray() if hasattr(tampered_ad.X, "toarray") else np.asarray(tampered_ad.X)
    x[rows] = x[rows][:, ::-1] + 1.0
    tampered_ad.X = type(ad.X)(x) if hasattr(ad.X, "toarray") else x
    tampered = load_perturb_data(tampered_ad)
    assert not np.allclose(tampered.condition_means(split.test), data.condition_means(split.test))
    conds = split.test + split.val + split.train
    for name in list_baselines():
        a = get_baseline(name)(data, split).fit().predict_means(conds)
        b = get_baseline(name)(tampered, split).fit().predict_means(conds)
        assert np.allclose(a, b, rtol=0, atol=1e-6), name
