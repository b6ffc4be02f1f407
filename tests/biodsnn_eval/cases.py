"""Generic test cases that every registered baseline and metric inherits (PyKEEN's ``tests/cases.py`` pattern).

A new baseline gets these tests by adding one subclass in ``test_baselines.py`` that sets ``name``;
``test_every_registered_baseline_has_a_case`` fails until it does. A new metric gets :class:`MetricTestCase`
with no code at all: ``test_metric_cases.py`` runs it over every registered name.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
import pytest

from biodsnn.baselines import get_baseline
from biodsnn.evaluate import MetricInputs, MetricSpec, Predictor, evaluate, get_metric
from reactomenet.errors import InputError

from .conftest import FakeData, FakeDE, make_fake


class BaselineTestCase:
    """Tests every baseline must pass: protocol, shapes, determinism, training-only fitting, evaluation."""

    name: ClassVar[str]
    kwargs: ClassVar[dict[str, Any]] = {}

    @pytest.fixture
    def setup(self):
        data, split, de = make_fake(seed=11)
        model = get_baseline(self.name)(data, split, **self.kwargs).fit()
        return data, split, de, model

    def test_is_a_predictor_with_its_registry_name(self, setup):
        *_, model = setup
        assert isinstance(model, Predictor)
        assert model.name == self.name

    def test_shapes_and_finite(self, setup):
        data, split, _, model = setup
        conds = split.test + split.train
        out = model.predict_means(conds)
        assert out.shape == (len(conds), len(data.genes))
        assert np.isfinite(out).all()

    def test_deterministic(self, setup):
        data, split, _, model = setup
        again = get_baseline(self.name)(data, split, **self.kwargs).fit()
        assert np.array_equal(model.predict_means(split.test), again.predict_means(split.test))

    def test_cannot_see_test_or_validation_conditions(self, setup):
        """Changing every non-training condition's data must not change any prediction."""
        data, split, _, model = setup
        held_out = set(split.test) | set(split.val)
        tampered = type(data)(data.genes, data.control_mean,
                              {c: (m + 7.0 if c in held_out else m) for c, m in data._means.items()})
        other = get_baseline(self.name)(tampered, split, **self.kwargs).fit()
        conds = split.test + split.val + split.train
        assert np.array_equal(model.predict_means(conds), other.predict_means(conds))

    def test_unfitted_refuses_to_predict(self, setup):
        data, split, *_ = setup
        with pytest.raises(InputError, match="fit"):
            get_baseline(self.name)(data, split, **self.kwargs).predict_means(split.test)

    def test_scored_by_evaluate(self, setup):
        data, split, de, model = setup
        res = evaluate([model], data, split, de, n_boot=20)
        assert res.models == (self.name,)
        assert np.isfinite(res.score(self.name, "mse_de20").mean)


class Noisy:
    """The observed means plus ``scale`` times one fixed noise pattern per condition (``scale`` 0: perfect)."""

    def __init__(self, data: Any, scale: float, name: str = "noisy", seed: int = 0) -> None:
        self.data, self.scale, self.name = data, scale, name
        rng = np.random.default_rng(seed)
        self.noise = {c: rng.normal(0.0, 0.5, len(data.genes)) for c in data.conditions}

    def predict_means(self, conditions):
        return np.stack([self.data.condition_means([c])[0] + self.scale * self.noise[c] for c in conditions])


class Permuted:
    """``base``'s predictions with the genes in the order ``perm``."""

    def __init__(self, base: Any, perm: np.ndarray) -> None:
        self.base, self.perm, self.name = base, perm, base.name

    def predict_means(self, conditions):
        return self.base.predict_means(conditions)[:, self.perm]


def permute_genes(data: FakeData, de: FakeDE, perm: np.ndarray) -> tuple[FakeData, FakeDE]:
    """The same data with its genes in the order ``perm`` (DE indices renumbered)."""
    new_of = np.argsort(perm)  # old gene index → new
    p = lambda x: np.asarray(x)[perm]  # noqa: E731
    out = FakeData([data.genes[i] for i in perm], p(data.control_mean), {c: p(m) for c, m in data._means.items()},
                   {c: p(m) for c, m in data.true_means.items()} if data.true_means else None)
    return out, FakeDE({c: new_of[i] for c, i in de.top.items()}, {c: new_of[i] for c, i in de.top_non_dropout.items()})


class MetricTestCase:
    """Tests every registered metric must pass, run through :func:`evaluate` as users run it.

    Subclasses give a ``spec`` fixture (a registered :class:`MetricSpec`); ``test_metric_cases.py`` parametrises it
    over every name in the registry, so a new metric gets these tests without writing any.
    """

    @pytest.fixture(scope="class")
    def fake3(self):
        return make_fake(seed=3)

    @staticmethod
    def run(spec: MetricSpec, models: list[Any], data: Any, split: Any, de: Any, **kwargs: Any):
        return evaluate(models, data, split, de, metrics=[spec.name], n_boot=kwargs.pop("n_boot", 0),
                        noise_free=False, **kwargs)

    @staticmethod
    def scored(spec: MetricSpec, result: Any, model: str) -> np.ndarray:
        """The values the metric defines: per perturbation (NaN dropped where its kind leaves them undefined:
        a ``gi_double`` metric on perturbations that are not doubles) or the one overall set-level value."""
        m = result.metrics[(result.metrics.model == model) & (result.metrics.metric == spec.name)]
        if not spec.per_perturbation:
            assert list(m.condition) == ["*"]
            return m.value.to_numpy()
        m = m.set_index("condition").loc[list(result.conditions)]
        if spec.kind == "gi_double":
            scored = set(result.gi.condition)
            assert m.loc[[c for c in result.conditions if c not in scored], "value"].isna().all()
            return m.loc[[c for c in result.conditions if c in scored], "value"].to_numpy()
        return m.value.to_numpy()

    def test_registered_and_well_formed(self, spec):
        assert get_metric(spec.name) is spec
        assert isinstance(spec.higher_is_better, bool) and spec.description
        assert spec.best is None or np.isfinite(spec.best)

    def test_perfect_prediction_scores_the_best_value(self, spec, fake3):
        if spec.best is None:
            pytest.skip(f"{spec.name} defines no best value")
        data, split, de = fake3
        values = self.scored(spec, self.run(spec, [Noisy(data, 0.0)], data, split, de), "noisy")
        assert len(values) and np.allclose(values, spec.best, atol=1e-9), values

    def test_finite_on_an_imperfect_prediction(self, spec, fake3):
        data, split, de = fake3
        result = self.run(spec, [Noisy(data, 0.5)], data, split, de, n_boot=20)
        values = self.scored(spec, result, "noisy")
        assert len(values) and np.isfinite(values).all(), values
        assert np.isfinite(result.score("noisy", spec.name).mean)

    def test_a_worse_prediction_does_not_score_better(self, spec, fake3):
        data, split, de = fake3
        scales = (0.0, 0.2, 1.0, 5.0)
        result = self.run(spec, [Noisy(data, s, name=f"x{s}") for s in scales], data, split, de)
        means = np.array([result.score(f"x{s}", spec.name).mean for s in scales])
        assert np.isfinite(means).all(), means
        steps = np.diff(means) if spec.higher_is_better else -np.diff(means)
        assert (steps <= 1e-12).all(), f"{spec.name} by noise scale {scales}: {means}"
        assert steps.sum() < 0, f"{spec.name} does not tell a perfect prediction from noise: {means}"

    def test_gene_order_does_not_matter(self, spec, fake3):
        data, split, de = fake3
        perm = np.random.default_rng(1).permutation(len(data.genes))
        pdata, pde = permute_genes(data, de, perm)
        base = Noisy(data, 0.5)
        a = self.run(spec, [base], data, split, de)
        b = self.run(spec, [Permuted(base, perm)], pdata, split, pde)
        va, vb = self.scored(spec, a, "noisy"), self.scored(spec, b, "noisy")
        assert np.allclose(va, vb, rtol=1e-9, atol=1e-12, equal_nan=True), (va, vb)

    def test_refuses_nan_input(self, spec, fake3):
        data, split, de = fake3
        bad = Noisy(data, 0.5)
        bad.noise[split.test[0]][3] = np.nan
        with pytest.raises(InputError, match="NaN"):
            self.run(spec, [bad], data, split, de)
        means = dict(data._means)
        means[split.test[-1]] = means[split.test[-1]].copy()
        means[split.test[-1]][0] = np.inf
        broken = type(data)(data.genes, data.control_mean, means)
        with pytest.raises(InputError, match="NaN or infinite"):
            self.run(spec, [Noisy(data, 0.5)], broken, split, de)
        x = np.ones((2, len(data.genes)))
        y = x.copy()
        y[1, 2] = np.nan
        with pytest.raises(InputError, match="NaN"):
            spec.values(MetricInputs(x, y, x)) if spec.per_perturbation else MetricInputs(x, y, x)

    def test_one_perturbation_and_a_no_change_prediction(self, spec, fake3):
        """One evaluated perturbation (a double, so GI metrics have something to score) and a prediction of no
        change from control: no error, no numpy warning, one value, and no interval from one perturbation."""
        data, split, de = fake3
        double = next(c for c in split.test if "ctrl" not in c)
        control = get_baseline("control")(data, split).fit()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            result = self.run(spec, [control, Noisy(data, 0.5)], data, split, de, conditions=[double], n_boot=20)
        for model in ("control", "noisy"):
            assert len(self.scored(spec, result, model)) == 1
            s = result.score(model, spec.name)
            assert s.n <= 1 and np.isnan(s.ci_low) and np.isnan(s.ci_high)

    def test_same_inputs_same_numbers(self, spec, fake3):
        data, split, de = fake3
        a = self.run(spec, [Noisy(data, 0.5)], data, split, de, n_boot=30)
        b = self.run(spec, [Noisy(data, 0.5)], data, split, de, n_boot=30)
        assert a.metrics.equals(b.metrics) and a.summary.equals(b.summary)
