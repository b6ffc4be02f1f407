"""Metrics on per-perturbation mean expression, as pure numpy functions, and the registry that names them.

Every per-perturbation metric takes the predicted mean ``pred``, the true mean ``true`` and the control mean
``ctrl`` (all ``(n_genes,)`` log-normalised vectors) and an optional gene index ``idx`` that restricts it to a gene
set (the top-20 DE genes of that perturbation, say). ``delta`` means "change from control".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from reactomenet.errors import InputError, NotFoundError, did_you_mean

if TYPE_CHECKING:  # _gi imports this module
    from biodsnn.evaluate._gi import GIScores

GeneSet = Literal["all", "de20", "de20_nd", "ctrl_top1000", "targets_excluded", "single_target_excluded", "gi"]
MetricKind = Literal["perturbation", "cross", "gi_double", "gi_set"]

WITHIN_FRACTION = 0.05
"""Tolerance of :func:`within_fraction`: a prediction counts if it is within ±5 % of the true mean (paper Fig. 4)."""


def _sub(x: np.ndarray, idx: np.ndarray | None) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x if idx is None else x[np.asarray(idx, dtype=np.int64)]


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of two vectors; NaN when either is constant or shorter than 2.

    Example:
        >>> pearson(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 7.0]))  # doctest: +ELLIPSIS
        0.9933...
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size < 2:
        return float("nan")
    xc = x - x.mean()
    yc = y - y.mean()
    den = np.sqrt((xc * xc).sum() * (yc * yc).sum())
    if not np.isfinite(den) or den <= 1e-300:
        return float("nan")
    return float(np.clip((xc * yc).sum() / den, -1.0, 1.0))


def mse(pred: np.ndarray, true: np.ndarray, ctrl: np.ndarray | None = None, idx: np.ndarray | None = None) -> float:
    """Mean squared error of the predicted against the true mean expression (``ctrl`` unused).

    Example:
        >>> mse(np.array([1.0, 2.0]), np.array([1.0, 4.0]))
        2.0
    """
    d = _sub(pred, idx) - _sub(true, idx)
    return float(np.mean(d * d)) if d.size else float("nan")


def mae(pred: np.ndarray, true: np.ndarray, ctrl: np.ndarray | None = None, idx: np.ndarray | None = None) -> float:
    """Mean absolute error of the predicted against the true mean expression (``ctrl`` unused; cell-eval's ``mae``).

    Example:
        >>> mae(np.array([1.0, 2.0]), np.array([1.0, 4.0]))
        1.0
    """
    d = _sub(pred, idx) - _sub(true, idx)
    return float(np.mean(np.abs(d))) if d.size else float("nan")


def pearson_expression(
    pred: np.ndarray, true: np.ndarray, ctrl: np.ndarray | None = None, idx: np.ndarray | None = None
) -> float:
    """Pearson correlation of predicted and true mean expression (GEARS' ``pearson``).

    Example:
        >>> pearson_expression(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.5]))  # doctest: +ELLIPSIS
        0.99...
    """
    return pearson(_sub(pred, idx), _sub(true, idx))


def pearson_delta(pred: np.ndarray, true: np.ndarray, ctrl: np.ndarray, idx: np.ndarray | None = None) -> float:
    """Pearson correlation of the predicted and true change from control.

    Example:
        >>> ctrl = np.zeros(3)
        >>> pearson_delta(np.array([1.0, 0.0, -1.0]), np.array([2.0, 0.0, -2.0]), ctrl)
        1.0
    """
    c = _sub(ctrl, idx)
    return pearson(_sub(pred, idx) - c, _sub(true, idx) - c)


def direction_correct(pred: np.ndarray, true: np.ndarray, ctrl: np.ndarray, idx: np.ndarray | None = None) -> float:
    """Fraction of genes whose predicted change from control has the sign of the true change (0 counts as a sign).

    Example:
        >>> direction_correct(np.array([1.0, -1.0, 1.0, 0.0]), np.array([2.0, 1.0, 3.0, 0.0]), np.zeros(4))
        0.75
    """
    c = _sub(ctrl, idx)
    p = np.sign(_sub(pred, idx) - c)
    t = np.sign(_sub(true, idx) - c)
    return float(np.mean(p == t)) if p.size else float("nan")


def within_fraction(
    pred: np.ndarray, true: np.ndarray, ctrl: np.ndarray | None = None, idx: np.ndarray | None = None,
    *, tolerance: float = WITHIN_FRACTION,
) -> float:
    """Fraction of genes whose predicted mean lies within ±``tolerance`` (relative) of the true mean (paper Fig. 4).

    A gene counts when ``|pred − true| ≤ tolerance · |true|``.

    Example:
        >>> within_fraction(np.array([1.04, 2.2, 0.0]), np.array([1.0, 2.0, 0.0]))  # 1.04 and 0 count, 2.2 does not
        0.6666666666666666
    """
    p = _sub(pred, idx)
    t = _sub(true, idx)
    if not p.size:
        return float("nan")
    return float(np.mean(np.abs(p - t) <= tolerance * np.abs(t) + 1e-12))


def l2_distance(
    pred: np.ndarray, true: np.ndarray, ctrl: np.ndarray | None = None, idx: np.ndarray | None = None
) -> float:
    """Euclidean distance between predicted and true mean expression (Ahlmann-Eltze et al. 2025).

    Example:
        >>> l2_distance(np.array([0.0, 3.0]), np.array([4.0, 0.0]))
        5.0
    """
    d = _sub(pred, idx) - _sub(true, idx)
    return float(np.sqrt(np.sum(d * d)))


def top_expressed(ctrl: np.ndarray, n: int = 1000) -> np.ndarray:
    """Indices of the ``n`` genes with the highest control mean (all genes when fewer), ties by gene order.

    Example:
        >>> top_expressed(np.array([0.1, 3.0, 2.0]), n=2).tolist()
        [1, 2]
    """
    ctrl = np.asarray(ctrl, dtype=np.float64)
    order = np.argsort(-ctrl, kind="stable")
    return np.sort(order[: min(n, ctrl.size)]).astype(np.int64)


def discrimination_ranks(
    pred_delta: np.ndarray, true_delta: np.ndarray, exclude: list[np.ndarray] | None = None
) -> np.ndarray:
    """Perturbation discrimination score (cell-eval's PDS, L1): 0 is perfect, 0.5 random, 1 worst.

    For perturbation ``p`` the L1 distance from its predicted change to the true change of every evaluated
    perturbation ``q`` is computed over all genes except ``exclude[p]`` (the genes ``p`` targets, whose change
    would give it away). The score is the number of other perturbations whose true change is closer than ``p``'s
    own, ties counted half, divided by ``n − 1``.

    Args:
        pred_delta: ``(n_perts, n_genes)`` predicted change from control.
        true_delta: ``(n_perts, n_genes)`` true change from control, rows in the same order.
        exclude: per perturbation, gene indices to leave out (its target genes); None leaves none out.

    Returns:
        ``(n_perts,)`` normalised ranks; NaN when fewer than two perturbations are evaluated.

    Example:
        >>> t = np.array([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
        >>> discrimination_ranks(t, t).tolist()
        [0.0, 0.0, 0.0]
        >>> discrimination_ranks(t[[1, 0, 2]], t).tolist()
        [0.5, 0.5, 0.0]
    """
    pred_delta = np.asarray(pred_delta, dtype=np.float64)
    true_delta = np.asarray(true_delta, dtype=np.float64)
    if pred_delta.shape != true_delta.shape:
        raise InputError(f"predicted {pred_delta.shape} and true {true_delta.shape} changes differ in shape")
    n = pred_delta.shape[0]
    if n < 2:
        return np.full(n, np.nan)
    out = np.empty(n)
    keep = np.ones(pred_delta.shape[1], dtype=bool)
    for p in range(n):
        keep[:] = True
        if exclude is not None and len(exclude[p]):
            keep[np.asarray(exclude[p], dtype=np.int64)] = False
        dist = np.abs(true_delta[:, keep] - pred_delta[p, keep]).sum(axis=1)
        own = dist[p]
        others = np.delete(dist, p)
        closer = np.sum(others < own - 1e-12)
        ties = np.sum(np.abs(others - own) <= 1e-12)
        out[p] = (closer + 0.5 * ties) / (n - 1)
    return out


def discrimination_celleval(
    pred_delta: np.ndarray, true_delta: np.ndarray, exclude: list[np.ndarray] | None = None
) -> np.ndarray:
    """cell-eval's ``discrimination_score_l1`` on our changes: 1 − (rank of the own true change) / n, 1 is perfect.

    The same L1 distances as :func:`discrimination_ranks`, on cell-eval's scale: the number of other
    perturbations whose true change is closer than ``p``'s own (ties counted half; cell-eval breaks them by sort
    order), divided by ``n`` (the own one included) and subtracted from 1. Hence
    ``discrimination_celleval = 1 − discrimination_ranks · (n − 1) / n`` for the same exclusions; a random
    prediction scores about ``0.5 + 0.5 / n``, not 0.5.

    Args:
        pred_delta: ``(n_perts, n_genes)`` predicted change from control.
        true_delta: ``(n_perts, n_genes)`` true change from control, rows in the same order.
        exclude: per perturbation, gene indices to leave out; None leaves none out.

    Returns:
        ``(n_perts,)`` scores in ``[1/n, 1]``; NaN when fewer than two perturbations are evaluated.

    Example:
        >>> t = np.array([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
        >>> discrimination_celleval(t[[1, 0, 2]], t).round(4).tolist()
        [0.6667, 0.6667, 1.0]
    """
    ranks = discrimination_ranks(pred_delta, true_delta, exclude)
    n = len(ranks)
    return 1.0 - ranks * (n - 1) / n if n else ranks


def top_bottom_overlap(pred_scores: np.ndarray, true_scores: np.ndarray, k: int = 20, *, top: bool = True) -> float:
    """Fraction of the true top-``k`` (or bottom-``k``) items that the prediction also ranks top (bottom) ``k``.

    ``k`` shrinks to ``⌊n/2⌋`` when fewer than ``2k`` items are scored, so that top and bottom never overlap and the
    score is not trivially 1; NaN when ``⌊n/2⌋ < 1``. Ties are broken by item order.

    Example:
        >>> top_bottom_overlap(np.array([5.0, 4, 3, 2, 1, 0]), np.array([5.0, 3, 4, 0, 1, 2]), k=2)
        0.5
    """
    p = np.asarray(pred_scores, dtype=np.float64)
    t = np.asarray(true_scores, dtype=np.float64)
    k = min(k, p.size // 2)
    if k < 1:
        return float("nan")
    sign = -1.0 if top else 1.0
    ps = set(np.argsort(sign * p, kind="stable")[:k].tolist())
    ts = set(np.argsort(sign * t, kind="stable")[:k].tolist())
    return len(ps & ts) / k


def _magnitudes(scores: Sequence[GIScores]) -> np.ndarray:
    return np.array([s.magnitude for s in scores], dtype=np.float64)


def gi_magnitude_error(pred: GIScores, true: GIScores) -> float:
    """``|predicted − true|`` GI magnitude of one double (``gi_double`` metric).

    Example:
        >>> from biodsnn.evaluate._gi import GIScores
        >>> s = lambda m: GIScores(m, 0.0, m, 1.0, 0.0, 1.0, 0.0, 1.0)
        >>> gi_magnitude_error(s(1.5), s(2.0))
        0.5
    """
    return float(abs(pred.magnitude - true.magnitude))


def gi_magnitude_pearson(pred: Sequence[GIScores], true: Sequence[GIScores]) -> float:
    """Pearson of predicted against true GI magnitudes over a set of doubles (``gi_set`` metric, paper Fig. 6).

    Example:
        >>> from biodsnn.evaluate._gi import GIScores
        >>> s = lambda m: GIScores(m, 0.0, m, 1.0, 0.0, 1.0, 0.0, 1.0)
        >>> gi_magnitude_pearson([s(1.0), s(2.0), s(3.0)], [s(2.0), s(4.0), s(6.0)])
        1.0
    """
    return pearson(_magnitudes(pred), _magnitudes(true))


def gi_magnitude_overlap(pred: Sequence[GIScores], true: Sequence[GIScores], k: int = 20, *, top: bool = True) -> float:
    """Fraction of the true top-``k`` (synergy) or, with ``top=False``, bottom-``k`` (suppressor) GI-magnitude
    doubles that the prediction also ranks there (``gi_set`` metric; :func:`top_bottom_overlap`).

    Example:
        >>> from biodsnn.evaluate._gi import GIScores
        >>> s = lambda m: GIScores(m, 0.0, m, 1.0, 0.0, 1.0, 0.0, 1.0)
        >>> pred, true = [s(v) for v in (3.0, 2.0, 1.0, 0.0)], [s(v) for v in (3.0, 0.0, 2.0, 1.0)]
        >>> gi_magnitude_overlap(pred, true, k=2), gi_magnitude_overlap(pred, true, k=2, top=False)
        (0.5, 0.5)
    """
    return top_bottom_overlap(_magnitudes(pred), _magnitudes(true), k, top=top)


#: The gene sets each kind of metric may name (``evaluate`` builds exactly these).
KIND_GENE_SETS: dict[str, tuple[str, ...]] = {
    "perturbation": ("all", "de20", "de20_nd", "ctrl_top1000"),
    "cross": ("all", "targets_excluded", "single_target_excluded"),
    "gi_double": ("gi",),
    "gi_set": ("gi",),
}


@dataclass(frozen=True)
class MetricInputs:
    """What :func:`biodsnn.evaluate.evaluate` hands every metric: one model against one reference, ``n`` perturbations.

    Built once per model × reference; each registered metric reads the part its kind needs
    (:meth:`MetricSpec.values`, :meth:`MetricSpec.score_set`).

    Attributes:
        pred: ``(n, n_genes)`` predicted means of the evaluated perturbations.
        true: ``(n, n_genes)`` true means, rows in the same order.
        ctrl: ``(n, n_genes)`` each perturbation's own control mean (its context's); a change is a mean minus this.
        genes: gene set → per perturbation the gene indices it keeps; the ``perturbation`` kind's sets (``all``
            needs no entry).
        excluded: gene set → per perturbation the gene indices it leaves out; the ``cross`` kind's sets (``all``,
            leaving none out, needs no entry).
        doubles: positions (``0…n−1``) of the doubles whose two singles were measured, in order.
        pred_gi: the predicted GI scores of those doubles (:class:`biodsnn.evaluate.GIScores`), aligned with
            ``doubles``.
        true_gi: the true GI scores of those doubles, aligned with ``doubles``.

    Raises:
        InputError: ``pred``, ``true`` or ``ctrl`` differ in shape or hold NaN or infinite values.

    Example:
        >>> x = np.ones((2, 3))
        >>> MetricInputs(x, x + 1, x).n
        2
    """

    pred: np.ndarray
    true: np.ndarray
    ctrl: np.ndarray
    genes: Mapping[str, Sequence[np.ndarray]] = field(default_factory=dict)
    excluded: Mapping[str, Sequence[np.ndarray]] = field(default_factory=dict)
    doubles: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pred_gi: Sequence[GIScores] = ()
    true_gi: Sequence[GIScores] = ()

    def __post_init__(self) -> None:
        for what in ("pred", "true", "ctrl"):
            arr = np.asarray(getattr(self, what), dtype=np.float64)
            if arr.ndim != 2 or arr.shape != np.shape(self.pred):
                raise InputError(f"metric inputs: {what} has shape {arr.shape}, expected {np.shape(self.pred)} "
                                 "(perturbations × genes)")
            if not np.isfinite(arr).all():
                bad = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
                raise InputError(f"metric inputs: {what} holds NaN or infinite values (row {bad}); metrics need "
                                 "finite means: check the data or the model")
            object.__setattr__(self, what, arr)
        object.__setattr__(self, "doubles", np.asarray(self.doubles, dtype=np.int64))
        if not len(self.doubles) == len(self.pred_gi) == len(self.true_gi):
            raise InputError(f"metric inputs: {len(self.doubles)} doubles but {len(self.pred_gi)} predicted and "
                             f"{len(self.true_gi)} true GI scores")

    @property
    def n(self) -> int:
        """Number of evaluated perturbations."""
        return int(self.pred.shape[0])


@dataclass(frozen=True)
class MetricSpec:
    """One registered metric: its name, direction, gene set, and the function that computes it.

    ``evaluate`` computes every metric through its spec (:meth:`values` or :meth:`score_set`); the ``kind`` says
    which inputs ``func`` takes:

    * ``perturbation``: one value per perturbation from its own means, ``func(pred, true, ctrl, idx) -> float``
      on ``(n_genes,)`` vectors, ``idx`` the gene set's indices for that perturbation (None: all genes);
    * ``cross``: one value per perturbation that needs all of them at once (the discrimination score),
      ``func(pred_delta, true_delta, exclude) -> (n,) array`` on ``(n, n_genes)`` changes from control, ``exclude``
      the gene set's per-perturbation genes to leave out (None: none);
    * ``gi_double``: one value per double whose two singles were measured, ``func(pred, true) -> float`` on its
      predicted and true :class:`biodsnn.evaluate.GIScores`; NaN for the other perturbations;
    * ``gi_set``: one value per subgroup of such doubles, ``func(pred, true) -> float`` on aligned sequences of
      :class:`biodsnn.evaluate.GIScores`.

    Attributes:
        name: the key used in tables, Parquet and the CLI.
        higher_is_better: True for correlations and fractions, False for errors and distances.
        gene_set: ``all``, ``de20`` (top-20 DE genes), ``de20_nd`` (top-20 non-dropout DE genes), ``ctrl_top1000``
            (the 1,000 genes most expressed in control), ``targets_excluded`` (all genes but the perturbed ones),
            ``single_target_excluded`` (all genes but a single perturbation's target: cell-eval leaves out the gene
            named like the label, and a double's label ``A+B`` names no gene) or ``gi`` (all genes, double
            perturbations only); :data:`KIND_GENE_SETS` lists those each kind may name.
        kind: ``perturbation``, ``cross``, ``gi_double`` or ``gi_set`` (above).
        description: one line for the docs and the report.
        func: the function, with the signature its kind calls for (above).
        best: the value a perfect prediction scores (None where none is defined).
        bootstrap: ``gi_set`` only: give the value an interval by resampling the doubles (False where a resample's
            repeated doubles make the score meaningless, as for the top-k overlaps).

    Example:
        >>> spec = MetricSpec("max_abs_error", False, "all", "perturbation", "largest |pred − true|",
        ...                   lambda p, t, c, idx: float(np.max(np.abs(p - t))), best=0.0)
        >>> spec.values(MetricInputs(np.zeros((2, 3)), np.ones((2, 3)), np.zeros((2, 3)))).tolist()
        [1.0, 1.0]
    """

    name: str
    higher_is_better: bool
    gene_set: GeneSet
    kind: MetricKind
    description: str
    func: Callable[..., Any]
    best: float | None = None
    bootstrap: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KIND_GENE_SETS:
            raise InputError(f"metric {self.name!r}: unknown kind {self.kind!r}; choose one of "
                             f"{', '.join(KIND_GENE_SETS)}")
        if self.gene_set not in KIND_GENE_SETS[self.kind]:
            raise InputError(f"metric {self.name!r}: a {self.kind} metric takes gene set "
                             f"{' or '.join(KIND_GENE_SETS[self.kind])}, not {self.gene_set!r}")
        if not callable(self.func):
            raise InputError(f"metric {self.name!r}: func must be a function (see MetricSpec for its signature)")

    def _gene_set(self, sets: Mapping[str, Any]) -> Any:
        if self.gene_set not in sets:
            raise InputError(f"metric {self.name!r} needs gene set {self.gene_set!r}, which the inputs do not hold")
        return sets[self.gene_set]

    @property
    def per_perturbation(self) -> bool:
        """True when the metric gives one value per perturbation (:meth:`values`), False for a set-level score."""
        return self.kind != "gi_set"

    @property
    def uses_gi(self) -> bool:
        """True for the genetic-interaction metrics, which need doubles whose two singles were measured."""
        return self.kind in ("gi_double", "gi_set")

    def values(self, inputs: MetricInputs) -> np.ndarray:
        """The metric's ``(n,)`` values on ``inputs``, one per perturbation (NaN where it is not defined).

        Raises:
            InputError: a set-level (``gi_set``) metric, or ``func`` returned the wrong number of values.

        Example:
            >>> x = np.array([[1.0, 2.0], [3.0, 5.0]])
            >>> get_metric("mse").values(MetricInputs(x, x + 1, np.zeros_like(x))).tolist()
            [1.0, 1.0]
        """
        n = inputs.n
        if self.kind == "perturbation":
            sets = [None] * n if self.gene_set == "all" else self._gene_set(inputs.genes)
            out = np.array([self.func(inputs.pred[k], inputs.true[k], inputs.ctrl[k], sets[k]) for k in range(n)],
                           dtype=np.float64).reshape(n)
        elif self.kind == "cross":
            exclude = None if self.gene_set == "all" else self._gene_set(inputs.excluded)
            out = np.asarray(self.func(inputs.pred - inputs.ctrl, inputs.true - inputs.ctrl, exclude),
                             dtype=np.float64)
        elif self.kind == "gi_double":
            out = np.full(n, np.nan)
            out[inputs.doubles] = [self.func(p, t) for p, t in zip(inputs.pred_gi, inputs.true_gi, strict=True)]
        else:
            raise InputError(f"{self.name} is a set-level score (one value per subgroup); use score_set")
        if out.shape != (n,):
            raise InputError(f"metric {self.name!r} returned {out.shape} values for {n} perturbations; "
                             f"its func must return one value per perturbation")
        return out

    def score_set(self, pred: Sequence[GIScores], true: Sequence[GIScores]) -> float:
        """The set-level (``gi_set``) score of aligned predicted and true GI scores of a set of doubles.

        Example:
            >>> from biodsnn.evaluate._gi import GIScores
            >>> s = lambda m: GIScores(m, 0.0, m, 1.0, 0.0, 1.0, 0.0, 1.0)
            >>> get_metric("gi_mag_pearson").score_set([s(1.0), s(2.0), s(4.0)], [s(1.0), s(2.0), s(4.0)])
            1.0
        """
        if self.per_perturbation:
            raise InputError(f"{self.name} gives one value per perturbation; use values")
        return float(self.func(pred, true))


METRICS: dict[str, MetricSpec] = {}


def register_metric(spec: MetricSpec) -> MetricSpec:
    """Add ``spec`` to the registry (a name may be registered once); :func:`biodsnn.evaluate.evaluate` then
    computes it with every other metric, by its ``func``.

    Example:
        >>> "mse_de20" in METRICS
        True
    """
    if not isinstance(spec, MetricSpec):
        raise InputError(f"register_metric takes a MetricSpec, not {type(spec).__name__}")
    if spec.name in METRICS:
        raise InputError(f"metric {spec.name!r} is already registered; choose another name")
    METRICS[spec.name] = spec
    return spec


def get_metric(name: str) -> MetricSpec:
    """Return the registered metric called ``name``.

    Example:
        >>> get_metric("pearson_delta_de20").higher_is_better
        True
    """
    try:
        return METRICS[name]
    except KeyError:
        hint = did_you_mean(name, METRICS) or f" (known: {', '.join(METRICS)})"
        raise NotFoundError(f"unknown metric {name!r}{hint}") from None


def list_metrics(kind: MetricKind | None = None) -> list[str]:
    """Names of the registered metrics (of one kind, if given), in registration order.

    Example:
        >>> list_metrics("gi_set")
        ['gi_mag_pearson', 'gi_synergy_overlap', 'gi_suppressor_overlap']
    """
    return [n for n, s in METRICS.items() if kind is None or s.kind == kind]


_SETS: dict[str, tuple[GeneSet, str]] = {
    "": ("all", "all genes"),
    "_de20": ("de20", "the top-20 DE genes"),
    "_de20_nd": ("de20_nd", "the top-20 non-dropout DE genes"),
}
for _suffix, (_gs, _words) in _SETS.items():
    register_metric(
        MetricSpec(f"mse{_suffix}", False, _gs, "perturbation", f"MSE of mean expression over {_words}", mse, 0.0)
    )
    register_metric(
        MetricSpec(f"pearson{_suffix}", True, _gs, "perturbation", f"Pearson of mean expression over {_words}",
                   pearson_expression, 1.0)
    )
    register_metric(
        MetricSpec(f"pearson_delta{_suffix}", True, _gs, "perturbation",
                   f"Pearson of the change from control over {_words}", pearson_delta, 1.0)
    )
    register_metric(
        MetricSpec(f"direction{_suffix}", True, _gs, "perturbation",
                   f"fraction of {_words} whose change has the true sign", direction_correct, 1.0)
    )
register_metric(
    MetricSpec("mae", False, "all", "perturbation", "MAE of mean expression over all genes (cell-eval's mae)", mae,
               0.0)
)
register_metric(
    MetricSpec("within5_de20", True, "de20", "perturbation",
               "fraction of the top-20 DE genes predicted within ±5 % of the true mean (paper Fig. 4)", within_fraction,
               1.0)
)
register_metric(
    MetricSpec("l2_ctrl1000", False, "ctrl_top1000", "perturbation",
               "L2 distance over the 1,000 genes most expressed in control (Ahlmann-Eltze 2025)", l2_distance, 0.0)
)
register_metric(
    MetricSpec("pearson_delta_ctrl1000", True, "ctrl_top1000", "perturbation",
               "Pearson of the change over the 1,000 genes most expressed in control (Ahlmann-Eltze 2025)",
               pearson_delta, 1.0)
)
register_metric(
    MetricSpec("pds_l1", False, "targets_excluded", "cross",
               "perturbation discrimination: normalised rank of the true effect by L1 distance (0 perfect, 0.5 random)",
               discrimination_ranks, 0.0)
)
register_metric(
    MetricSpec("pds_l1_celleval", True, "single_target_excluded", "cross",
               "cell-eval's discrimination_score_l1: 1 − rank of the true effect / n (1 perfect; docs/evaluation.md)",
               discrimination_celleval, 1.0)
)
register_metric(
    MetricSpec("gi_mag_abs_error", False, "gi", "gi_double",
               "|predicted − true| GI magnitude √(c1²+c2²) of a double (Theil–Sen, no intercept)", gi_magnitude_error,
               0.0)
)
register_metric(
    MetricSpec("gi_mag_pearson", True, "gi", "gi_set", "Pearson of predicted against true GI magnitudes of the doubles",
               gi_magnitude_pearson, 1.0)
)
register_metric(
    MetricSpec("gi_synergy_overlap", True, "gi", "gi_set",
               "fraction of the true top-20 magnitude (synergy) doubles also predicted top-20",
               partial(gi_magnitude_overlap, top=True), 1.0, bootstrap=False)
)
register_metric(
    MetricSpec("gi_suppressor_overlap", True, "gi", "gi_set",
               "fraction of the true bottom-20 magnitude (suppressor) doubles also predicted bottom-20",
               partial(gi_magnitude_overlap, top=False), 1.0, bootstrap=False)
)
