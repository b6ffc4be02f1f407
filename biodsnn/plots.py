"""Figures a biologist would look at, drawn on matplotlib's object API (no display, no global state).

* :func:`plot_de_changes` — predicted vs true change of the top-20 DE genes of one perturbation (paper Fig. 8);
* :func:`plot_gi_magnitudes` — predicted against true GI magnitude of every double (paper Fig. 6);
* :func:`plot_within5` — fraction of top-20 DE genes within ±5 % of the true mean, by subgroup (paper Fig. 4).

Each returns its :class:`matplotlib.figure.Figure` (pertpy's ``return_fig``; nothing is shown) and, given a
``path``, also writes it there as a PNG, atomically. Figures are made as ``Figure`` objects, not through pyplot,
so a call neither switches the process's matplotlib backend nor leaves a figure open in pyplot; PNGs are written
by the Agg renderer, so they work headless. To show one in a notebook, display the returned figure.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from biodsnn.evaluate._metrics import pearson
from reactomenet.errors import InputError
from reactomenet.io import atomic_output

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(figsize: tuple[float, float]) -> tuple[Figure, Any]:
    """A new figure with one axes, made without pyplot (matplotlib loads here: it is an optional dependency)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - matplotlib is in the model extra
        raise InputError("plots need matplotlib: pip install 'biodsnn[model]'") from exc
    fig = Figure(figsize=figsize)
    return fig, fig.subplots()


def _finish(fig: Figure, path: str | os.PathLike[str] | None) -> Figure:
    """Write ``fig`` to ``path`` as a PNG (atomically) when a path is given; return it."""
    if path is not None:
        with atomic_output(Path(path), suffix=".png") as tmp:
            fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    return fig


def _colours(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]


def plot_de_changes(result: Any, condition: str, path: str | os.PathLike[str] | None = None, *,
                    models: Sequence[str] | None = None) -> Figure:
    """Predicted and true change from control of ``condition``'s top-20 DE genes (one marker per model).

    The paper's Fig. 8 draws cell distributions; evaluation works on means, so the true mean change is the black
    bar and each model's mean change a coloured marker. The dotted line is the control (no change).

    Args:
        result: from :func:`biodsnn.evaluate.evaluate`.
        condition: one of the evaluated conditions.
        path: also write the figure there as a PNG.
        models: models to draw (default: all, in evaluation order).

    Returns:
        The figure.

    Example:
        fig = plot_de_changes(result, "FOSB+CEBPB", "report/de_FOSB+CEBPB.png")
    """
    if condition not in result.conditions:
        raise InputError(f"{condition!r} was not evaluated; choose one of the test conditions")
    k = result.conditions.index(condition)
    top = np.asarray(result.de_top[condition])
    names = list(models or result.models)
    x = np.arange(len(top))
    fig, ax = _figure((max(6.0, 0.45 * len(top) + 2), 4.0))
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
    return _finish(fig, path)


def plot_gi_magnitudes(result: Any, path: str | os.PathLike[str] | None = None, *, reference: str = "observed",
                       models: Sequence[str] | None = None) -> Figure:
    """Scatter of predicted against true GI magnitude ``√(c1²+c2²)``, one point per double and model.

    Args:
        result: from :func:`biodsnn.evaluate.evaluate`.
        path: also write the figure there as a PNG.
        reference: ``observed`` or ``noise_free``.
        models: models to draw (default: all that have GI scores).

    Returns:
        The figure.

    Example:
        fig = plot_gi_magnitudes(result, "report/gi_magnitude.png")
    """
    gi = result.gi[result.gi.reference == reference]
    true = gi[gi.source == "true"].set_index("condition").magnitude
    names = [m for m in (models or result.models) if m in set(gi.model)]
    fig, ax = _figure((4.8, 4.6))
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
    return _finish(fig, path)


def plot_within5(result: Any, path: str | os.PathLike[str] | None = None, *, reference: str = "observed",
                 metric: str = "within5_de20") -> Figure:
    """Grouped bars of the fraction of top-20 DE genes within ±5 %, models × subgroups, with bootstrap CIs.

    Args:
        result: from :func:`biodsnn.evaluate.evaluate`.
        path: also write the figure there as a PNG.
        reference: ``observed`` or ``noise_free``.
        metric: the fraction metric to draw.

    Returns:
        The figure.

    Example:
        fig = plot_within5(result, "report/within5.png")
    """
    s = result.summary[(result.summary.metric == metric) & (result.summary.reference == reference)]
    groups = list(result.table(metric, reference).columns)
    names = list(result.models)
    fig, ax = _figure((max(5.0, 1.4 * len(groups) + 1), 3.8))
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
    return _finish(fig, path)
