"""The no-change, mean-change and additive baselines."""

from __future__ import annotations

import numpy as np

from biodsnn.baselines._registry import Baseline, register_baseline


@register_baseline("control")
class ControlBaseline(Baseline):
    """Predicts no change: every perturbation's mean is the control mean.

    Example:
        get_baseline("control")(data, split).fit().predict_means(["A+B"])
    """

    def _fit(self) -> None:
        self._zero = np.zeros(len(self.genes))

    def _predict_delta(self, condition: str) -> np.ndarray:
        return self._zero


@register_baseline("mean")
class MeanBaseline(Baseline):
    """Predicts the mean change of all training perturbations, whatever the perturbation.

    Example:
        get_baseline("mean")(data, split).fit().predict_means(["A+B"])
    """

    def _fit(self) -> None:
        self._mean = self.train_deltas().mean(axis=0)

    def _predict_delta(self, condition: str) -> np.ndarray:
        return self._mean


@register_baseline("additive")
class AdditiveBaseline(Baseline):
    """Adds the measured single effects: ``A + B − ctrl`` for a double (any number of genes likewise).

    * a training condition (single or multi-gene) is predicted by its own training mean;
    * a multi-gene condition gets the sum of its genes' training single changes; a gene whose single was not
      in training contributes the mean change of the training singles (zero change when there are none);
    * an unseen single is predicted by the mean change of the training singles.

    Example:
        get_baseline("additive")(data, split).fit().predict_means(["A+B"])
    """

    def _fit(self) -> None:
        deltas = self.train_deltas()
        self._seen = {c: deltas[k] for k, c in enumerate(self.train_conditions)}
        self._single: dict[str, np.ndarray] = {}
        for c, d in self._seen.items():
            g = self.genes_of(c)
            if len(g) == 1:
                self._single[g[0]] = d
        self._fallback = (np.mean(list(self._single.values()), axis=0) if self._single
                          else np.zeros(len(self.genes)))

    def _predict_delta(self, condition: str) -> np.ndarray:
        if condition in self._seen:
            return self._seen[condition]
        genes = self.genes_of(condition)
        if not genes:
            return np.zeros(len(self.genes))
        return np.sum([self._single.get(g, self._fallback) for g in genes], axis=0)
