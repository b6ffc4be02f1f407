"""Score any number of predictors on one split by one code path."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from biodsnn.data.conditions import split_context
from biodsnn.evaluate._bootstrap import bootstrap_ci, bootstrap_indices
from biodsnn.evaluate._gi import GIScores, gi_scores
from biodsnn.evaluate._metrics import METRICS, MetricInputs, get_metric, top_expressed
from biodsnn.evaluate._protocol import Predictor
from reactomenet.errors import InputError

OVERALL = "overall"
#: Pseudo-subgroup of :meth:`EvaluationResult.compare`: every combination (combo_seen0/1/2 together), the held-out
#: doubles that the additive baseline is judged on.
COMBOS = "combos"
SUBGROUP_ORDER = ("combo_seen0", "combo_seen1", "combo_seen2", "unseen_single", "seen_single")
GI_COLUMNS = ("c1", "c2", "magnitude", "corr_fit", "dominance", "dcor", "dcor_singles", "eq_contr")


@dataclass(frozen=True)
class MetricSummary:
    """One model's score on one metric in one subgroup, with its bootstrap interval.

    Example:
        >>> MetricSummary("mean", "observed", "overall", "mse", 0.1, 0.05, 0.2, 12).mean
        0.1
    """

    model: str
    reference: str
    subgroup: str
    metric: str
    mean: float
    ci_low: float
    ci_high: float
    n: int


@dataclass(frozen=True)
class Comparison:
    """Paired bootstrap difference ``a − b`` of a metric between two models (same resamples for both).

    ``better`` names the better model when the interval excludes 0, else None.
    """

    model_a: str
    model_b: str
    metric: str
    subgroup: str
    difference: float
    ci_low: float
    ci_high: float
    better: str | None


@dataclass(frozen=True)
class EvaluationResult:
    """Everything :func:`evaluate` computed.

    Attributes:
        metrics: long table, one row per model × condition × reference × metric, columns ``model, condition,
            subgroup, reference, metric, value`` (``reference`` is ``observed``, or ``noise_free`` for the
            simulator's truth). Set-level GI metrics have ``condition`` ``"*"``.
        summary: ``model, reference, subgroup, metric, mean, ci_low, ci_high, n, higher_is_better``, subgroup
            ``overall`` included.
        gi: per double with both singles measured: ``model, condition, subgroup, reference, source`` (``pred`` or
            ``true``) and the GI scores.
        models: model names in the order given.
        conditions: evaluated conditions, in order; ``subgroups`` maps each to its subgroup.
        genes: gene names; ``control``: control mean (pooled over contexts); ``controls``: ``(n_cond, n_genes)``
            each condition's own control mean (its context's), the reference of every change;
            ``observed``: ``(n_cond, n_genes)`` true means;
            ``predicted``: model → ``(n_cond, n_genes)``; ``de_top``: condition → top-20 DE gene indices.
        settings: n_boot, seed, ci level and the other options used.
    """

    metrics: pd.DataFrame
    summary: pd.DataFrame
    gi: pd.DataFrame
    models: tuple[str, ...]
    conditions: tuple[str, ...]
    subgroups: Mapping[str, str]
    genes: tuple[str, ...]
    control: np.ndarray
    observed: np.ndarray
    predicted: Mapping[str, np.ndarray]
    de_top: Mapping[str, np.ndarray]
    settings: Mapping[str, Any] = field(default_factory=dict)
    controls: np.ndarray | None = None

    def control_of(self, k: int) -> np.ndarray:
        """The control mean that condition ``k``'s changes are measured from (its context's).

        Example:
            >>> # result.observed[0] - result.control_of(0)   # the true change of the first condition
        """
        return self.control if self.controls is None else self.controls[k]

    def score(self, model: str, metric: str, subgroup: str = OVERALL, reference: str = "observed") -> MetricSummary:
        """The summary of one model × metric × subgroup.

        Example:
            result.score("additive", "mse_de20", "combo_seen2").mean
        """
        s = self.summary
        row = s[(s.model == model) & (s.metric == metric) & (s.subgroup == subgroup) & (s.reference == reference)]
        if row.empty:
            raise InputError(f"no score for model={model!r} metric={metric!r} subgroup={subgroup!r} "
                             f"reference={reference!r}; see result.summary for what exists")
        r = row.iloc[0]
        return MetricSummary(model, reference, subgroup, metric, float(r["mean"]), float(r.ci_low), float(r.ci_high),
                             int(r.n))

    def table(self, metric: str, reference: str = "observed") -> pd.DataFrame:
        """Models × subgroups table of one metric's means (the paper's layout).

        Example:
            result.table("mse_de20")
        """
        s = self.summary[(self.summary.metric == metric) & (self.summary.reference == reference)]
        t = s.pivot(index="model", columns="subgroup", values="mean")
        cols = [c for c in (*SUBGROUP_ORDER, OVERALL) if c in t.columns]
        cols += [c for c in t.columns if c not in cols]
        return t.reindex(index=[m for m in self.models if m in t.index], columns=cols)

    def compare(self, model_a: str, model_b: str, metric: str, subgroup: str = OVERALL,
                reference: str = "observed") -> Comparison:
        """Paired bootstrap CI of ``mean(a) − mean(b)`` over the same perturbations.

        ``subgroup``: one subgroup, ``"overall"`` (every test condition) or ``"combos"`` (every combination).

        Example:
            result.compare("full", "additive", "mse_de20", "combo_seen2").better
        """
        spec = get_metric(metric)
        if not spec.per_perturbation:
            raise InputError(f"{metric} is a set-level score; compare per-perturbation metrics instead")
        m = self.metrics[(self.metrics.metric == metric) & (self.metrics.reference == reference)]
        if subgroup == COMBOS:
            m = m[m.subgroup.str.startswith("combo_seen")]
        elif subgroup != OVERALL:
            m = m[m.subgroup == subgroup]
        wide = m.pivot(index="condition", columns="model", values="value")
        for name in (model_a, model_b):
            if name not in wide.columns:
                raise InputError(f"model {name!r} was not evaluated; evaluated: {', '.join(self.models)}")
        order = [c for c in self.conditions if c in wide.index]
        diff = (wide.loc[order, model_a] - wide.loc[order, model_b]).to_numpy(dtype=np.float64)
        idx = bootstrap_indices(len(diff), int(self.settings.get("n_boot", 1000)), int(self.settings.get("seed", 0)),
                                subgroup)
        mean, lo, hi = bootstrap_ci(diff, idx, float(self.settings.get("ci", 0.95)))
        if int(np.isfinite(diff).sum()) < 2:  # one perturbation: no interval, no verdict
            lo = hi = float("nan")
        better = None
        if lo > 0 or hi < 0:
            a_higher = lo > 0
            better = model_a if a_higher == spec.higher_is_better else model_b
        return Comparison(model_a, model_b, metric, subgroup, mean, lo, hi, better)


def _gene_index(data: Any, genes: Sequence[str]) -> np.ndarray:
    pos = {g: i for i, g in enumerate(data.genes)}
    return np.array([pos[g] for g in genes if g in pos], dtype=np.int64)


def _context(unit: str) -> str | None:
    return split_context(unit)[0]


def _unit_controls(data: Any, units: Sequence[str]) -> np.ndarray:
    """``(len(units), n_genes)`` control mean of each unit: its context's (the pooled control for data without
    contexts, or a stand-in data object that has only ``control_mean``)."""
    if hasattr(data, "control_means"):
        return np.asarray(data.control_means(units), dtype=np.float64)
    return np.tile(np.asarray(data.control_mean, dtype=np.float64), (len(units), 1))


def _stack_truth(truth: Mapping[str, np.ndarray], conds: Sequence[str], n_genes: int) -> np.ndarray:
    out = np.empty((len(conds), n_genes))
    for k, c in enumerate(conds):
        if c not in truth:
            raise InputError(f"data.true_means has no entry for {c!r}; regenerate the simulated data")
        out[k] = np.asarray(truth[c], dtype=np.float64)
    return out


def evaluate(
    predictors: Sequence[Predictor] | Mapping[str, Predictor],
    data: Any,
    split: Any,
    de: Any,
    *,
    conditions: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
    noise_free: bool | None = None,
    n_top_expressed: int = 1000,
    gi: bool = True,
) -> EvaluationResult:
    """Score every predictor on the test conditions of ``split`` against the observed (and noise-free) means.

    Args:
        predictors: objects with ``name`` and ``predict_means`` (a mapping gives them other names).
        data: a :class:`biodsnn.data.PerturbData` (``genes``, ``conditions``, ``control_mean``,
            ``condition_means``, ``condition_genes``, ``true_means``).
        split: a :class:`biodsnn.data.Split` (``test`` and ``subgroup``).
        de: DE ranking from :func:`biodsnn.data.rank_de_genes` (``top``, ``top_non_dropout``).
        conditions: conditions to score instead of ``split.test``.
        metrics: metric names to compute (default: every registered metric).
        n_boot: bootstrap resamples for the intervals (0 gives NaN intervals).
        seed: seed of the bootstrap and of Theil–Sen's pair sampling.
        ci: interval level.
        noise_free: also score against ``data.true_means`` (default: when the data has them).
        n_top_expressed: gene count of the Ahlmann-Eltze metrics (genes most expressed in control).
        gi: compute the genetic-interaction analysis for doubles whose two singles are in the data.

    Returns:
        An :class:`EvaluationResult`.

    Example:
        from biodsnn.baselines import get_baseline
        result = evaluate([get_baseline("additive")(data, split).fit()], data, split, de)
        result.table("mse_de20")
    """
    named = dict(predictors) if isinstance(predictors, Mapping) else {p.name: p for p in predictors}
    if not named:
        raise InputError("nothing to evaluate: give at least one model or baseline")
    if not isinstance(predictors, Mapping) and len(named) != len(predictors):
        raise InputError("two predictors share a name; give them distinct names (pass a dict name → predictor)")
    conds = list(split.test if conditions is None else conditions)
    if not conds:
        raise InputError("the split has no test conditions to evaluate; choose another split")
    known = set(data.conditions)
    missing = [c for c in conds if c not in known]
    if missing:
        raise InputError(f"conditions not in the data: {', '.join(missing[:5])}; was the split made for this data?")
    selected = list(METRICS) if metrics is None else [get_metric(m).name for m in metrics]
    subgroup_of = dict(getattr(split, "subgroup", {}) or {})
    subgroups = [subgroup_of.get(c, "test") for c in conds]
    n_genes = len(data.genes)
    ctrl = np.asarray(data.control_mean, dtype=np.float64)

    # doubles whose two singles were measured (in the same context), for the GI analysis
    singles = {(_context(c), data.condition_genes(c)[0]): c for c in data.conditions
               if len(data.condition_genes(c)) == 1}
    gi_rows: list[tuple[int, str, str]] = []
    if gi and any(get_metric(m).uses_gi for m in selected):
        for k, c in enumerate(conds):
            g, ctx = data.condition_genes(c), _context(c)
            if len(g) == 2 and (ctx, g[0]) in singles and (ctx, g[1]) in singles:
                gi_rows.append((k, singles[ctx, g[0]], singles[ctx, g[1]]))
    extra = sorted({s for _, a, b in gi_rows for s in (a, b)} - set(conds))
    all_conds = conds + extra
    pos = {c: i for i, c in enumerate(all_conds)}

    observed_all = np.asarray(data.condition_means(all_conds), dtype=np.float64)
    ctrl_all = _unit_controls(data, all_conds)  # each unit's own control (its context's)
    ctrl_n = ctrl_all[: len(conds)]
    references: dict[str, np.ndarray] = {"observed": observed_all}
    use_truth = getattr(data, "true_means", None) is not None if noise_free is None else noise_free
    if use_truth:
        if getattr(data, "true_means", None) is None:
            raise InputError("noise_free=True needs simulated data with true_means")
        references["noise_free"] = _stack_truth(data.true_means, all_conds, n_genes)

    gene_sets: dict[str, list[np.ndarray]] = {}
    try:
        gene_sets["de20"] = [np.asarray(de.top[c], dtype=np.int64) for c in conds]
        gene_sets["de20_nd"] = [np.asarray(de.top_non_dropout[c], dtype=np.int64) for c in conds]
    except KeyError as exc:
        raise InputError(f"no DE genes for condition {exc}; rank DE genes on the same data") from None
    top_of = {}
    for row in ctrl_n:  # one ranking per distinct control (per context)
        top_of.setdefault(row.tobytes(), top_expressed(row, n_top_expressed))
    gene_sets["ctrl_top1000"] = [top_of[row.tobytes()] for row in ctrl_n]
    targets = [_gene_index(data, data.condition_genes(c)) for c in conds]
    exclusions = {"targets_excluded": targets,
                  "single_target_excluded": [t if len(data.condition_genes(c)) == 1 else t[:0]
                                             for t, c in zip(targets, conds, strict=True)]}

    predicted: dict[str, np.ndarray] = {}
    for name, model in named.items():
        p = np.asarray(model.predict_means(all_conds), dtype=np.float64)
        if p.shape != (len(all_conds), n_genes):
            raise InputError(f"model {name!r} returned shape {p.shape}, expected {(len(all_conds), n_genes)}")
        if not np.isfinite(p).all():
            raise InputError(f"model {name!r} predicted NaN or infinite values; check the model")
        predicted[name] = p
    for ref, truth_all in references.items():
        if not np.isfinite(truth_all).all():
            bad = all_conds[int(np.flatnonzero(~np.isfinite(truth_all).all(axis=1))[0])]
            raise InputError(f"the {ref} mean of {bad!r} holds NaN or infinite values; check the data")

    # every metric is computed by its registered spec, on the same inputs per model × reference
    specs = [METRICS[m] for m in selected]
    n = len(conds)
    doubles = np.array([k for k, _, _ in gi_rows], dtype=np.int64)
    rows: list[dict[str, Any]] = []
    gi_table: list[dict[str, Any]] = []
    set_inputs: dict[tuple[str, str], MetricInputs] = {}
    per_cond: dict[tuple[str, str, str], np.ndarray] = {}

    def gi_of(means: np.ndarray, source: str, model: str, ref: str) -> list[GIScores]:
        scores = [gi_scores(means[pos[a]] - ctrl_n[k], means[pos[b]] - ctrl_n[k], means[k] - ctrl_n[k], seed=seed)
                  for k, a, b in gi_rows]
        gi_table.extend({"model": model, "condition": conds[k], "subgroup": subgroups[k], "reference": ref,
                         "source": source, **{c: getattr(sc, c) for c in GI_COLUMNS}}
                        for (k, _, _), sc in zip(gi_rows, scores, strict=True))
        return scores

    for ref, truth_all in references.items():
        true_gi = gi_of(truth_all, "true", "truth", ref)
        for name, pred_all in predicted.items():
            inputs = MetricInputs(pred_all[:n], truth_all[:n], ctrl_n, gene_sets, exclusions, doubles,
                                  gi_of(pred_all, "pred", name, ref), true_gi)
            set_inputs[(name, ref)] = inputs
            for spec in specs:
                if not spec.per_perturbation:
                    continue  # set-level: scored per subgroup below
                vals = spec.values(inputs)
                per_cond[(name, ref, spec.name)] = vals
                rows.extend({"model": name, "condition": c, "subgroup": s, "reference": ref, "metric": spec.name,
                             "value": float(v)} for c, s, v in zip(conds, subgroups, vals, strict=True))

    # summaries with paired bootstrap intervals
    group_names = [g for g in SUBGROUP_ORDER if g in subgroups] + sorted(set(subgroups) - set(SUBGROUP_ORDER))
    groups = {g: np.array([k for k, s in enumerate(subgroups) if s == g]) for g in group_names}
    groups[OVERALL] = np.arange(n)
    set_specs = [spec for spec in specs if not spec.per_perturbation]
    summary: list[dict[str, Any]] = []
    for g, members in groups.items():
        boot = bootstrap_indices(len(members), n_boot, seed, g) if n_boot > 0 else np.zeros((0, len(members)), int)
        for (name, ref, mname), vals in per_cond.items():
            v = vals[members]
            finite = int(np.isfinite(v).sum())
            mean, lo, hi = bootstrap_ci(v, boot, ci) if finite else (np.nan, np.nan, np.nan)
            if finite < 2:  # one perturbation: no interval
                lo = hi = np.nan
            summary.append({"model": name, "reference": ref, "subgroup": g, "metric": mname, "mean": mean,
                            "ci_low": lo, "ci_high": hi, "n": finite})
        if not set_specs:
            continue
        inside = np.flatnonzero(np.isin(doubles, members))  # this subgroup's doubles
        gboot = bootstrap_indices(len(inside), n_boot, seed, f"gi:{g}") if n_boot > 0 else None
        for (name, ref), inputs in set_inputs.items():
            pred_g = [inputs.pred_gi[i] for i in inside]
            true_g = [inputs.true_gi[i] for i in inside]
            for spec in set_specs:
                value = spec.score_set(pred_g, true_g)
                lo = hi = np.nan
                if spec.bootstrap and gboot is not None and len(inside) > 2 and np.isfinite(value):
                    bs = np.array([spec.score_set([pred_g[j] for j in i], [true_g[j] for j in i]) for i in gboot])
                    alpha = (1 - ci) / 2
                    lo, hi = np.nanquantile(bs, alpha), np.nanquantile(bs, 1 - alpha)
                summary.append({"model": name, "reference": ref, "subgroup": g, "metric": spec.name, "mean": value,
                                "ci_low": lo, "ci_high": hi, "n": len(inside)})
                if g == OVERALL:
                    rows.append({"model": name, "condition": "*", "subgroup": OVERALL, "reference": ref,
                                 "metric": spec.name, "value": float(value)})
    summary_df = pd.DataFrame(summary, columns=["model", "reference", "subgroup", "metric", "mean", "ci_low",
                                                "ci_high", "n"])
    summary_df["higher_is_better"] = summary_df.metric.map(lambda m: METRICS[m].higher_is_better).astype(bool)
    metrics_df = pd.DataFrame(rows, columns=["model", "condition", "subgroup", "reference", "metric", "value"])
    gi_df = pd.DataFrame(gi_table, columns=["model", "condition", "subgroup", "reference", "source", *GI_COLUMNS])
    return EvaluationResult(
        metrics=metrics_df,
        summary=summary_df,
        gi=gi_df,
        models=tuple(named),
        conditions=tuple(conds),
        subgroups=dict(zip(conds, subgroups, strict=True)),
        genes=tuple(data.genes),
        control=ctrl,
        controls=ctrl_n,
        observed=observed_all[:n],
        predicted={k: v[:n] for k, v in predicted.items()},
        de_top={c: gene_sets["de20"][k] for k, c in enumerate(conds)},
        settings={"n_boot": n_boot, "seed": seed, "ci": ci, "noise_free": bool(use_truth),
                  "n_top_expressed": n_top_expressed, "metrics": selected, "gi_doubles": len(gi_rows)},
    )
