"""Reports: ``metrics.parquet``, ``summary.json``, ``report.md`` and PNG plots, written atomically; rich tables."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from biodsnn.evaluate._evaluate import OVERALL, EvaluationResult
from biodsnn.evaluate._metrics import METRICS
from reactomenet.errors import InputError
from reactomenet.io import atomic_output, output_folder, write_json, write_parquet

#: The files a report writes (glob patterns): the only ones it replaces in an existing folder.
REPORT_FILES = ("metrics.parquet", "summary.json", "report.md", "*.png", "cell_eval.parquet", "cell_eval_vs_ours.csv",
                "cell-eval")
HEADLINE_METRICS = (
    "mse_de20",
    "pearson_delta_de20",
    "pearson_delta",
    "within5_de20",
    "direction_de20",
    "mse_de20_nd",
    "l2_ctrl1000",
    "pearson_delta_ctrl1000",
    "pds_l1",
    "gi_mag_pearson",
    "gi_synergy_overlap",
    "gi_suppressor_overlap",
)


@dataclass(frozen=True)
class ReportPaths:
    """Where :func:`write_report` put each file."""

    folder: Path
    metrics: Path
    summary: Path
    markdown: Path
    plots: tuple[Path, ...]


def _fmt(x: float, digits: int = 4) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.{digits}g}"


def _clean(x: Any) -> Any:
    if isinstance(x, float | np.floating):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def markdown_table(result: EvaluationResult, metric: str, reference: str = "observed", *, ci: bool = True) -> str:
    """Models × subgroups Markdown table of one metric, best value per column in bold, with CIs.

    Example:
        print(markdown_table(result, "mse_de20"))
    """
    spec = METRICS[metric]
    s = result.summary[(result.summary.metric == metric) & (result.summary.reference == reference)]
    if s.empty:
        return ""
    table = result.table(metric, reference)
    cols = list(table.columns)
    best = {}
    for c in cols:
        col = table[c].astype(float)
        if col.notna().any():
            best[c] = col.max() if spec.higher_is_better else col.min()
    lines = ["| model | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    idx = s.set_index(["model", "subgroup"])
    for model in table.index:
        cells = []
        for c in cols:
            if (model, c) not in idx.index:
                cells.append("—")
                continue
            r = idx.loc[(model, c)]
            text = _fmt(float(r["mean"]))
            if ci and math.isfinite(float(r.ci_low)):
                text += f" [{_fmt(float(r.ci_low), 3)}, {_fmt(float(r.ci_high), 3)}]"
            if c in best and math.isfinite(float(r["mean"])) and float(r["mean"]) == best[c]:
                text = f"**{text}**"
            cells.append(text)
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    arrow = "higher is better" if spec.higher_is_better else "lower is better"
    return f"**{metric}** — {spec.description} ({arrow}).\n\n" + "\n".join(lines) + "\n"


def render_markdown(result: EvaluationResult, *, title: str = "Evaluation report",
                    plots: Sequence[Path] = (), notes: Sequence[str] = ()) -> str:
    """The whole ``report.md`` text: headline tables (models × subgroups), comparisons, all metrics.

    Example:
        text = render_markdown(result)
    """
    st = result.settings
    counts = {}
    for g in result.subgroups.values():
        counts[g] = counts.get(g, 0) + 1
    out = [f"# {title}", ""]
    out.append(f"Models: {', '.join(result.models)}. Test perturbations: {len(result.conditions)} "
               f"({', '.join(f'{g}: {n}' for g, n in sorted(counts.items()))}). "
               f"Intervals: {int(st.get('ci', 0.95) * 100)} % percentile bootstrap over perturbations "
               f"({st.get('n_boot')} resamples, seed {st.get('seed')}). Doubles with both singles measured "
               f"(GI analysis): {st.get('gi_doubles', 0)}.")
    out.extend(["", *notes, ""] if notes else [""])
    out.append("## Side by side (observed means)")
    out.append("")
    for m in HEADLINE_METRICS:
        if m in st.get("metrics", METRICS):
            text = markdown_table(result, m)
            if text:
                out.extend([text, ""])
    if "additive" in result.models:
        out.append("## Against the additive baseline (paired bootstrap, top-20 DE MSE)")
        out.append("")
        out.append("| model | subgroup | Δ MSE (model − additive) | 95 % CI | verdict |")
        out.append("|---|---|---:|---|---|")
        groups = list(result.table("mse_de20").columns)
        for model in result.models:
            if model == "additive":
                continue
            for g in groups:
                try:
                    c = result.compare(model, "additive", "mse_de20", g)
                except InputError:
                    continue
                verdict = "no clear difference" if c.better is None else f"{c.better} better"
                out.append(f"| {model} | {g} | {_fmt(c.difference)} | [{_fmt(c.ci_low, 3)}, {_fmt(c.ci_high, 3)}] "
                           f"| {verdict} |")
        out.append("")
    if (result.summary.reference == "noise_free").any():
        out.append("## Against the simulator's noise-free truth")
        out.append("")
        for m in ("mse_de20", "pearson_delta_de20", "gi_mag_pearson"):
            text = markdown_table(result, m, "noise_free")
            if text:
                out.extend([text, ""])
    out.append("## All metrics, overall (observed)")
    out.append("")
    s = result.summary[(result.summary.subgroup == OVERALL) & (result.summary.reference == "observed")]
    wide = s.pivot(index="model", columns="metric", values="mean").reindex(index=list(result.models))
    metrics = [m for m in METRICS if m in wide.columns]
    out.append("| model | " + " | ".join(metrics) + " |")
    out.append("|---|" + "---:|" * len(metrics))
    for model in wide.index:
        out.append(f"| {model} | " + " | ".join(_fmt(float(wide.loc[model, m])) for m in metrics) + " |")
    out.append("")
    if plots:
        out.append("## Plots")
        out.append("")
        out.extend(f"![{p.stem}]({p.name})" for p in plots)
        out.append("")
    out.append("Metric definitions: docs/evaluation.md.")
    return "\n".join(out) + "\n"


def _choose_combos(result: EvaluationResult, n: int = 4) -> list[str]:
    doubles = [c for c in result.conditions if result.subgroups.get(c, "").startswith("combo")]
    pool = doubles or list(result.conditions)
    effect = []
    for c in pool:
        k = result.conditions.index(c)
        top = result.de_top[c]
        effect.append(float(np.abs(result.observed[k, top] - result.control_of(k)[top]).mean()))
    order = np.argsort(-np.asarray(effect), kind="stable")[:n]
    return [pool[i] for i in order]


def write_report(result: EvaluationResult, out_dir: str | os.PathLike[str], *, title: str = "Evaluation report",
                 combos: Sequence[str] | None = None, plots: bool = True,
                 metadata: Mapping[str, Any] | None = None, notes: Sequence[str] = (),
                 attachments: Sequence[str | os.PathLike[str]] = (), overwrite: bool = False,
                 inputs: Sequence[str | os.PathLike[str] | None] = ()) -> ReportPaths:
    """Write the report folder atomically (it appears complete or not at all).

    Files: ``metrics.parquet`` (one row per model × perturbation × reference × metric; provenance in its schema
    metadata), ``summary.json`` (every model × subgroup × metric with CI), ``report.md`` and, with ``plots``,
    ``de_<condition>.png`` (Fig. 8), ``gi_magnitude.png`` (Fig. 6) and ``within5.png`` (Fig. 4).

    Args:
        result: from :func:`biodsnn.evaluate.evaluate`.
        out_dir: report folder (replaced if it exists).
        title: heading of ``report.md``.
        combos: conditions for the top-20 DE plots (default: the 4 test doubles with the largest true change).
        plots: draw the PNGs.
        metadata: extra provenance (run folder, data path…) for Parquet and JSON.
        notes: lines placed under the heading of ``report.md``.
        attachments: files or folders copied into the report folder under their own names (e.g. cell-eval's
            tables, ``biodsnn.evaluate.score_with_cell_eval``).
        overwrite: write into a folder holding other files (only the report's own files there are replaced).
        inputs: run folders and data files the report folder must not hold (see
            :func:`reactomenet.io.check_output_folder`).

    Example:
        write_report(evaluate(models, data, split, de), "report/")
    """
    target = Path(out_dir)
    meta = {"settings": {k: _clean(v) for k, v in result.settings.items() if k != "metrics"},
            "models": list(result.models), "n_conditions": len(result.conditions), **dict(metadata or {})}
    chosen = list(combos) if combos else _choose_combos(result)
    for c in chosen:
        if c not in result.conditions:
            raise InputError(f"{c!r} was not evaluated; choose combinations among the test conditions")
    with output_folder(target, own=REPORT_FILES, inputs=inputs, overwrite=overwrite, what="report folder") as tmp:
        write_parquet(result.metrics, tmp / "metrics.parquet", meta)
        scores = [{k: _clean(v) for k, v in row.items()} for row in result.summary.to_dict(orient="records")]
        gi_rows = [{k: _clean(v) for k, v in row.items()} for row in result.gi.to_dict(orient="records")]
        write_json({**meta, "metrics": {n: {"higher_is_better": s.higher_is_better, "gene_set": s.gene_set,
                                            "kind": s.kind, "description": s.description,
                                            "best": s.best}
                                        for n, s in METRICS.items()},
                    "subgroups": dict(result.subgroups), "scores": scores, "gi": gi_rows},
                   tmp / "summary.json")
        pngs: list[Path] = []
        if plots:
            from biodsnn import plots as pl

            for c in chosen:
                safe = "".join(ch if ch.isalnum() or ch in "+-_." else "_" for ch in c)
                pngs.append(tmp / f"de_{safe}.png")
                pl.plot_de_changes(result, c, pngs[-1])
            if not result.gi.empty:
                pngs.append(tmp / "gi_magnitude.png")
                pl.plot_gi_magnitudes(result, pngs[-1])
            pngs.append(tmp / "within5.png")
            pl.plot_within5(result, pngs[-1])
        for src in map(Path, attachments):
            import shutil

            (shutil.copytree if src.is_dir() else shutil.copy2)(src, tmp / src.name)
        with atomic_output(tmp / "report.md", suffix=".md") as md:
            md.write_text(render_markdown(result, title=title, plots=pngs, notes=notes))
    return ReportPaths(target, target / "metrics.parquet", target / "summary.json", target / "report.md",
                       tuple(target / p.name for p in pngs))


def print_summary(result: EvaluationResult, metrics: Sequence[str] = ("mse_de20", "pearson_delta_de20"),
                  *, reference: str = "observed", console: Any = None) -> None:
    """Print rich tables (models × subgroups) of a few metrics on the terminal.

    Example:
        print_summary(result)
    """
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    for m in metrics:
        if m not in set(result.summary.metric):
            continue
        spec = METRICS[m]
        t = result.table(m, reference)
        table = Table(title=f"{m} ({'↑' if spec.higher_is_better else '↓'} better, {reference})")
        # a run name lists its overrides (BioDSNN-full(epochs=10)): its column takes the room it needs (up to 32
        # characters, then it wraps, never cut); on a narrow terminal subgroup headers wrap at their underscores
        width = min(max([len(str(x)) for x in t.index] + [5]), 32)
        table.add_column("model", style="bold", overflow="fold", min_width=width)
        narrow = console.width < width + 4 + sum(len(str(c)) + 3 for c in t.columns)
        for c in t.columns:
            table.add_column(str(c).replace("_", "_\n") if narrow else str(c), justify="right")
        for model in t.index:
            vals = [t.loc[model, c] for c in t.columns]
            best = [(t[c].max() if spec.higher_is_better else t[c].min()) for c in t.columns]
            cells = [("[bold green]" if math.isfinite(v) and v == b else "") + _fmt(float(v))
                     for v, b in zip(vals, best, strict=True)]
            table.add_row(str(model), *cells)
        console.print(table)
