"""Baselines by name, each a :class:`biodsnn.evaluate.Predictor` fitted on training conditions only.

>>> from biodsnn.baselines import list_baselines
>>> list_baselines()
['control', 'mean', 'additive', 'linear']
"""

# import order is registration order: control, mean, additive, linear
# isort: off
from biodsnn.baselines._registry import (
    BASELINES,
    Baseline,
    get_baseline,
    list_baselines,
    register_baseline,
    resolve_baselines,
)
from biodsnn.baselines._simple import AdditiveBaseline, ControlBaseline, MeanBaseline
from biodsnn.baselines._linear import LinearBaseline
# isort: on

__all__ = [
    "BASELINES",
    "AdditiveBaseline",
    "Baseline",
    "ControlBaseline",
    "LinearBaseline",
    "MeanBaseline",
    "get_baseline",
    "list_baselines",
    "register_baseline",
    "resolve_baselines",
]
