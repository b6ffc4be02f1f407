"""What every model and baseline implements so that one code path scores them all."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Predictor(Protocol):
    """Anything that predicts per-perturbation mean expression.

    Attributes:
        name: the label of its rows in tables and plots (``additive``, ``BioDSNN-full``…).

    Example:
        >>> class Zero:
        ...     name = "zero"
        ...     def predict_means(self, conditions):
        ...         return np.zeros((len(conditions), 3))
        >>> isinstance(Zero(), Predictor)
        True
    """

    name: str

    def predict_means(self, conditions: Sequence[str]) -> np.ndarray:
        """Return ``(len(conditions), n_genes)`` predicted log-normalised mean expression, genes in data order."""
        ...
