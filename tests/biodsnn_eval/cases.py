"""Generic test case that every registered baseline inherits (PyKEEN's ``tests/cases.py`` pattern).

A new baseline gets these tests by adding one subclass in ``test_baselines.py`` that sets ``name``;
``test_every_registered_baseline_has_a_case`` fails until it does.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

from biodsnn.baselines import get_baseline
from biodsnn.evaluate import Predictor, evaluate
from reactomenet.errors import InputError

from .conftest import make_fake


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
