"""Figures a biologist would look at, drawn with matplotlib's Agg backend (no display needed).

* :func:`plot_de_changes` — predicted vs true change of the top-20 DE genes of one perturbation (paper Fig. 8);
* :func:`plot_gi_magnitudes` — predicted against true GI magnitude of every double (paper Fig. 6);
* :func:`plot_within5` — fraction of top-20 DE genes within ±5 % of the true mean, by subgroup (paper Fig. 4).

Each writes one PNG atomically and returns its path.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biodsnn.evaluate._metrics import pearson
from reactomenet.errors import InputError
from reactomenet.io import atomic_output


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - matplotlib is in the model extra
        raise InputError("plots need matplotlib: pip install 'biodsnn[model]'") from exc
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    plt = _pyplot()
    target = Path(path)
    with atomic_output(target, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return target


def _colours(n: int) -> list[Any]:
    plt = _pyplot()
    cmap = plt.get_cmap("tab10")
    return [cmap(i % 10) for i in range(n)]


def plot_de_changes(result: Any, condition: str, path: str | os.PathLike[str], *,
                    models: Sequence[str] | None = None) -> Path:
    """Predicted and true change from control of ``condition``'s top-20 DE genes (one marker per model).

    The paper's Fig. 8 draws cell distributions; evaluation works on means, so the true mean change is the black
    bar and each model's mean change a coloured marker. The dotted line is the control (no change).

    Example:
        plot_de_changes(result, "FOSB+CEBPB", "report/de_FOSB+CEBPB.png")
    """
    plt = _pyplot()
    if condition not in result.conditions:
        raise InputError(f"{condition!r} was not evaluated; choose one of the test conditions")
    k = result.conditions.index(condition)
    top = np.asarray(result.de_top[condition])
    names = list(models or result.models)
    x = np.arange(len(top))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(top) + 2), 4.0))
    ax.bar(x, result.observed[k, top] - result.control_of(k)[top], color="0.8", edgecolor="0.3", label="true")
    width = 0.6 / max(1, len(names))
    for i, (name, colour) in enumerate(zip(names, _colours(len(names)), strict=True)):
        ax.scatter(x - 0.3 + width * (i + 0.5), result.predicted[name][k, top] - result.control_of(k)[top], s=22,
                   color=colour, label=name, zorder=3)
    ax.axhline(0.0, color="green", linestyle=":", linewidth=1)
    ax.set_xticks(x)
    ax.set_xticklabels([result.genes[i] for i in top], rotation=90, fontsize=8)
    ax.set_ylabel("change from control (log-normalised)")
    ax.set_title(f"{condition}: top-{len(top)} DE genes")
    ax.legend(fontsize=7, ncol=2, frameon=False)
    return _save(fig, path)


def plot_gi_magnitudes(result: Any, path: str | os.PathLike[str], *, reference: str = "observed",
                       models: Sequence[str] | None = None) -> Path:
    """Scatter of predicted against true GI magnitude ``√(c1²+c2²)``, one point per double and model.

    Example:
        plot_gi_magnitudes(result, "report/gi_magnitude.png")
    """
    plt = _pyplot()
    gi = result.gi[result.gi.reference == reference]
    true = gi[gi.source == "true"].set_index("condition").magnitude
    names = [m for m in (models or result.models) if m in set(gi.model)]
    fig, ax = plt.subplots(figsize=(4.8, 4.6))
    lo, hi = np.inf, -np.inf
    for name, colour in zip(names, _colours(len(names)), strict=True):
        pred = gi[(gi.source == "pred") & (gi.model == name)].set_index("condition").magnitude
        common = pred.index.intersection(true.index)
        t, p = true[common].to_numpy(), pred[common].to_numpy()
        ok = np.isfinite(t) & np.isfinite(p)
        if ok.any():
            lo, hi = min(lo, t[ok].min(), p[ok].min()), max(hi, t[ok].max(), p[ok].max())
        r = pearson(t[ok], p[ok])
        ax.scatter(t, p, s=16, color=colour, label=f"{name} (r = {r:.2f})", alpha=0.8)
    if np.isfinite(lo):
        ax.plot([lo, hi], [lo, hi], color="0.5", linestyle="--", linewidth=1)
    ax.set_xlabel("true magnitude")
    ax.set_ylabel("predicted magnitude")
    ax.set_title(f"GI magnitude of doubles ({reference})")
    ax.legend(fontsize=7, frameon=False)
    return _save(fig, path)


def plot_within5(result: Any, path: str | os.PathLike[str], *, reference: str = "observed",
                 metric: str = "within5_de20") -> Path:
    """Grouped bars of the fraction of top-20 DE genes within ±5 %, models × subgroups, with bootstrap CIs.

    Example:
        plot_within5(result, "report/within5.png")
    """
    plt = _pyplot()
    s = result.summary[(result.summary.metric == metric) & (result.summary.reference == reference)]
    groups = list(result.table(metric, reference).columns)
    names = list(result.models)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.4 * len(groups) + 1), 3.8))
    width = 0.8 / max(1, len(names))
    x = np.arange(len(groups))
    for i, (name, colour) in enumerate(zip(names, _colours(len(names)), strict=True)):
        rows = s[s.model == name].set_index("subgroup").reindex(groups)
        mean = rows["mean"].to_numpy(dtype=float)
        err = np.vstack([mean - rows.ci_low.to_numpy(dtype=float), rows.ci_high.to_numpy(dtype=float) - mean])
        err = np.where(np.isfinite(err), np.maximum(err, 0), 0)
        ax.bar(x - 0.4 + width * (i + 0.5), mean, width, yerr=err, color=colour, label=name, capsize=2)
    ax.set_xticks(x)
    ax.set_xticklabels(groups)
    ax.set_ylabel("fraction within ±5 % (top-20 DE)")
    top = np.nanmax(np.append(s.ci_high.to_numpy(dtype=float), s["mean"].to_numpy(dtype=float)), initial=0.0)
    ax.set_ylim(0, min(1.0, max(0.1, 1.2 * float(top))))
    ax.legend(fontsize=7, ncol=2, frameon=False)
    return _save(fig, path)
