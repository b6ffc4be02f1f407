"""Baselines chosen by name (PyKEEN-style registry) and the base class they share."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar

import numpy as np

from biodsnn.data.conditions import split_context
from reactomenet.errors import InputError, NotFoundError, did_you_mean

B = TypeVar("B", bound="Baseline")

BASELINES: dict[str, type[Baseline]] = {}


def register_baseline(name: str) -> Callable[[type[B]], type[B]]:
    """Class decorator that registers a baseline under ``name``.

    Example:
        >>> "additive" in BASELINES
        True
    """

    def deco(cls: type[B]) -> type[B]:
        if name in BASELINES:
            raise InputError(f"baseline {name!r} is already registered; choose another name")
        cls.name = name
        BASELINES[name] = cls
        return cls

    return deco


def get_baseline(name: str) -> type[Baseline]:
    """The baseline class registered as ``name`` (``control``, ``mean``, ``additive``, ``linear``).

    Example:
        >>> get_baseline("mean").__name__
        'MeanBaseline'
    """
    try:
        return BASELINES[name]
    except KeyError:
        hint = did_you_mean(name, BASELINES) or f" (known: {', '.join(BASELINES)})"
        raise NotFoundError(f"unknown baseline {name!r}{hint}") from None


def list_baselines() -> list[str]:
    """Registered baseline names, in registration order.

    Example:
        >>> list_baselines()
        ['control', 'mean', 'additive', 'linear']
    """
    return list(BASELINES)


def resolve_baselines(spec: str | Sequence[str] | None) -> list[str]:
    """Turn ``"all"``, ``"control,mean"`` or a list into baseline names (checked); ``None``/``""`` gives none.

    Example:
        >>> resolve_baselines("all")
        ['control', 'mean', 'additive', 'linear']
        >>> resolve_baselines("mean, additive")
        ['mean', 'additive']
    """
    if spec is None:
        return []
    items = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else [str(s).strip() for s in spec]
    items = [s for s in items if s and s.lower() != "none"]
    if any(s.lower() == "all" for s in items):
        return list_baselines()
    for s in items:
        get_baseline(s)
    return list(dict.fromkeys(items))


class Baseline:
    """Base of every baseline: built from data and split, fitted on the split's TRAINING conditions only.

    Subclasses implement :meth:`_fit` (which may read only ``self.train_conditions`` through
    :meth:`train_means`, and the control mean) and :meth:`_predict_delta` (changes from control).
    The result is a :class:`biodsnn.evaluate.Predictor`.

    Attributes:
        name: registry name (a class attribute, set by :func:`register_baseline`).
        genes: measured genes, in data order.
        control: control mean expression ``(n_genes,)``.
        train_conditions: the split's training conditions.
    """

    name: ClassVar[str] = "baseline"

    def __init__(self, data: Any, split: Any) -> None:
        self._data = data
        self.genes: list[str] = list(data.genes)
        self.train_conditions: list[str] = list(split.train)
        if not self.train_conditions:
            raise InputError("the split has no training conditions; a baseline needs some to fit")
        self.control = np.asarray(data.control_mean, dtype=np.float64)
        self._gene_pos = {g: i for i, g in enumerate(self.genes)}
        self._fitted = False
        # several contexts (cell types): one copy of this baseline per context, fitted on that context's own
        # control and training units only (see :meth:`fit`)
        self._contexts: list[Any] = list(getattr(data, "contexts", [None]))
        self._parts: dict[Any, Baseline] = {}

    # --- helpers available to subclasses -------------------------------------------------------------
    def genes_of(self, condition: str) -> tuple[str, ...]:
        """Perturbed genes of a condition name (``"A+B"`` → ``("A", "B")``; ``"A+ctrl"`` → ``("A",)``)."""
        from biodsnn.data.conditions import parse_condition

        return tuple(parse_condition(condition))

    def train_deltas(self) -> np.ndarray:
        """``(n_train, n_genes)`` mean change from control of every training condition."""
        means = np.asarray(self._data.condition_means(self.train_conditions), dtype=np.float64)
        return means - self.control

    # --- public API ----------------------------------------------------------------------------------
    def fit(self: B) -> B:
        """Fit on the training conditions and return ``self``.

        Example:
            get_baseline("additive")(data, split).fit().predict_means(["A+B"])
        """
        if self._contexts != [None]:
            self._fit_per_context()
        else:
            self._fit()
        self._fitted = True
        self._data = None  # nothing but what _fit kept can be used to predict
        return self

    def _fit_per_context(self) -> None:
        """A copy of this baseline (same options) per context, on the context's data with plain condition names."""
        for ctx in self._contexts:
            train = [split_context(c)[1] for c in self.train_conditions if split_context(c)[0] == ctx]
            if not train:  # nothing trained in this context: its units cannot be predicted (see _predict_context)
                continue
            part = copy.copy(self)
            Baseline.__init__(part, self._data.context_view(ctx), _TrainOnly(train))
            part._contexts = [None]
            self._parts[ctx] = part.fit()

    def predict_means(self, conditions: Sequence[str]) -> np.ndarray:
        """Predicted ``(len(conditions), n_genes)`` mean expression (control + predicted change).

        Example:
            baseline.predict_means(["A+ctrl", "A+B"]).shape
        """
        if not self._fitted:
            raise InputError(f"baseline {self.name!r} is not fitted; call .fit() first")
        if self._parts:
            return self._predict_per_context(conditions)
        out = np.empty((len(conditions), len(self.genes)))
        for k, c in enumerate(conditions):
            out[k] = self.control + self._predict_delta(c)
        return out

    def _predict_per_context(self, conditions: Sequence[str]) -> np.ndarray:
        out = np.empty((len(conditions), len(self.genes)))
        for k, c in enumerate(conditions):
            ctx, cond = split_context(c)
            if ctx not in self._parts:
                known = ", ".join(str(x) for x in self._parts)
                raise InputError(f"baseline {self.name!r} cannot predict {c!r}: no training unit in context {ctx!r} "
                                 f"(fitted contexts: {known}); name units CONTEXT|A+B")
            out[k] = self._parts[ctx].predict_means([cond])[0]
        return out

    def _fit(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _predict_delta(self, condition: str) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class _TrainOnly:
    """What :class:`Baseline` reads of a split: its training conditions."""

    def __init__(self, train: Sequence[str]) -> None:
        self.train = list(train)
