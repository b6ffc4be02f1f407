"""The simulator next to real Perturb-seq, statistic by statistic (table on stdout, PNG plots with --plots).

Usage:
    python benchmarks/simulator_vs_real.py [--seed 0] [--presets norman crispri lines] [--plots docs/img]
        [--real ../shared/data/real] [--markdown table.md]

Real files (``../shared/data/real/``, see its README): Norman 2019 (K562 CRISPRa, log1p X), McFaline 2023 (three
glioblastoma lines, CRISPRi, log1p X; every statistic is computed within a line), Papalexi 2021 (THP-1 knockouts,
raw UMIs) and Datlinger 2017 (Jurkat knockouts, raw UMIs; stimulated and unstimulated cells apart). Raw counts go
through ``biodsnn.data.normalize_log1p`` first. Simulated columns come from ``biodsnn.data.simulate``; the
``norman`` preset is simulated with 100 cells per perturbation and 1,000 control cells (as many cells per
perturbation as the real Norman subset holds; the full preset has ~340 and 11,000), which keeps the run to a few
minutes and the noise statistics comparable.

Every statistic is computed by the same code for every column; "inside" (the last column) says whether the `norman`
preset lies within the real spread, defined per statistic in ``RULES`` (mostly: between the smallest and the largest
real column; for the double-perturbation fits: median within the interquartile range of Norman's own fits).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from biodsnn.data import normalize_log1p, parse_condition, simulate  # noqa: E402
from biodsnn.evaluate._gi import gi_scores  # noqa: E402
from kg_build.coexpression import coexpression_graph, pearson_matrix  # noqa: E402

NOISE_CELLS = 100  # control cells drawn for the split-half noise (two halves of 50), the same in every column
CORR_CELLS = 100  # control cells drawn for correlations in every column (real files hold 60-1,942); the noise
# floor of |r| depends on the cell count, so all columns use the same count
DE_ALPHA = 0.05  # Welch t-test, Benjamini–Hochberg
TOP_CORR = 50  # most expressed genes whose correlations are compared
MOVED = 0.05  # noise-free change (log1p units) that counts a gene as moved in the simulated GI fits


@dataclass
class Column:
    """One dataset (or one context of it): log-normalised X, canonical labels, library sizes."""

    name: str
    x: sp.csr_matrix
    genes: list[str]
    labels: np.ndarray  # 'ctrl', 'A', 'A+B' (genes sorted)
    library: np.ndarray  # UMIs per cell (whole transcriptome where the file says it, else the measured genes)
    modality: str
    truth: dict[str, np.ndarray] | None = None  # simulated only: noise-free means per condition (incl. 'ctrl')


# ----------------------------------------------------------------------------------------------- loading


def _canon(values: pd.Series, control: str) -> np.ndarray:
    out = []
    for v in values.astype(str):
        out.append("ctrl" if v == control else "+".join(parse_condition(v)))
    return np.asarray(out, dtype=object)


def _split_by(name: str, x: sp.csr_matrix, genes: list[str], labels: np.ndarray, lib: np.ndarray, modality: str,
              context: np.ndarray | None) -> list[Column]:
    if context is None:
        return [Column(name, x, genes, labels, lib, modality)]
    cols = []
    for c in sorted(set(context)):
        rows = np.flatnonzero(context == c)
        cols.append(Column(f"{name} {c}", x[rows], genes, labels[rows], lib[rows], modality))
    return cols


def load_real(folder: Path) -> list[Column]:
    import anndata as ad

    cols: list[Column] = []
    a = ad.read_h5ad(folder / "norman2019_k562_subset.h5ad")
    cols += _split_by("Norman K562", sp.csr_matrix(a.X, dtype=np.float32), list(a.var_names),
                      _canon(a.obs["condition"], "control"), a.obs["ncounts"].to_numpy(float), "CRISPRa", None)
    a = ad.read_h5ad(folder / "mcfaline2023_gbm_subset.h5ad")
    cols += _split_by("McFaline", sp.csr_matrix(a.X, dtype=np.float32), list(a.var_names),
                      _canon(a.obs["condition"], "control"), a.obs["ncounts"].to_numpy(float), "CRISPRi",
                      a.obs["cell_type"].astype(str).to_numpy())
    a = ad.read_h5ad(folder / "papalexi2021_thp1_subset.h5ad")
    raw = sp.csr_matrix(a.X)
    cols += _split_by("Papalexi THP-1", normalize_log1p(raw), list(a.var_names),
                      _canon(a.obs["gene_target"], "non-targeting"), np.asarray(raw.sum(axis=1)).ravel(),
                      "CRISPRko", None)
    a = ad.read_h5ad(folder / "datlinger2017_jurkat_subset.h5ad")
    raw = sp.csr_matrix(a.X)
    cols += _split_by("Datlinger", normalize_log1p(raw), list(a.var_names), _canon(a.obs["perturbation"], "control"),
                      np.asarray(raw.sum(axis=1)).ravel(), "CRISPRko", a.obs["stimulation"].astype(str).to_numpy())
    return cols


def load_simulated(preset: str, seed: int) -> list[Column]:
    sizes = {"norman": {"cells_per_condition": 100, "n_control": 1000}}.get(preset, {})
    adata = simulate(preset=preset, seed=seed, progress=False, **sizes)
    labels = np.asarray(["ctrl" if c == "ctrl" else "+".join(parse_condition(c)) for c in adata.obs["condition"]],
                        dtype=object)
    mode = adata.uns["biodsnn_simulation"]["config"]["mode"]
    modality = {"activation": "CRISPRa", "interference": "CRISPRi"}.get(mode, "CRISPRa/i")
    ctx = adata.obs["cell_type"].astype(str).to_numpy()
    truth = adata.uns["biodsnn_truth"]
    t_names = ["ctrl" if c == "ctrl" else "+".join(parse_condition(c)) for c in truth["conditions"]]
    t_ctx = np.asarray(truth.get("cell_type", np.full(len(t_names), ctx[0])), dtype=str)
    means = np.asarray(truth["means"], dtype=np.float64)
    cols = _split_by(f"sim {preset}", sp.csr_matrix(adata.X), list(adata.var_names), labels,
                     adata.obs["n_counts"].to_numpy(float), modality, ctx if len(set(ctx)) > 1 else None)
    for col in cols:
        line = col.name.removeprefix(f"sim {preset}").strip() or ctx[0]
        col.truth = {n: means[i] for i, n in enumerate(t_names) if t_ctx[i] == line}
    return cols


# ----------------------------------------------------------------------------------------------- statistics


def _mean_var(x: sp.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sub = x[rows]
    n = max(len(rows), 1)
    mean = np.asarray(sub.mean(axis=0)).ravel()
    sq = np.asarray(sub.multiply(sub).mean(axis=0)).ravel()
    var = np.clip(sq - mean**2, 0, None) * n / max(n - 1, 1)
    zeros = 1.0 - np.diff(sub.tocsc().indptr) / n
    return mean, var, zeros


def _bh(p: np.ndarray) -> np.ndarray:
    order = np.argsort(p)
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(q)
    out[order] = np.clip(q, 0, 1)
    return out


def _welch_de(m1, v1, n1, m0, v0, n0) -> int:
    from scipy import stats

    se2 = v1 / n1 + v0 / n0
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (m1 - m0) / np.sqrt(se2)
        df = se2**2 / ((v1 / n1) ** 2 / max(n1 - 1, 1) + (v0 / n0) ** 2 / max(n0 - 1, 1))
    p = 2 * stats.t.sf(np.abs(t), df)
    p = np.where(np.isfinite(p), p, 1.0)
    return int((_bh(p) < DE_ALPHA).sum())


def column_stats(col: Column, seed: int = 0) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """The statistics of one column (numbers for the table, arrays for the plots)."""
    rng = np.random.default_rng(seed)
    ctrl = np.flatnonzero(col.labels == "ctrl")
    g = len(col.genes)
    mean, var, zeros = _mean_var(col.x, ctrl)
    expressed = mean > 0
    out: dict[str, float] = {
        "cells": float(col.x.shape[0]),
        "genes": float(g),
        "control cells": float(len(ctrl)),
        "gene mean, median (log1p)": float(np.median(mean)),
        "gene variance, median": float(np.median(var)),
        "variance / mean, median": float(np.median(var[expressed] / mean[expressed])),
        "zero fraction, median gene": float(np.median(zeros)),
        "library size, median": float(np.median(col.library)),
        "library size, sd of log10": float(np.std(np.log10(np.maximum(col.library, 1)))),
    }
    arrays: dict[str, np.ndarray] = {"mean": mean, "var": var, "zeros": zeros, "library": col.library}

    # correlations among (at most CORR_CELLS) control cells, co-expression edges as kg_build builds them
    rows = ctrl if len(ctrl) <= CORR_CELLS else np.sort(rng.choice(ctrl, CORR_CELLS, replace=False))
    # genes seen in at least 10 % of these cells: rarer genes give spurious |r| = 1 among a few cells
    seen = 1.0 - np.diff(col.x[rows].tocsc().indptr) / len(rows)
    keep = np.flatnonzero(seen <= 0.9)
    corr = pearson_matrix(col.x[:, keep], rows)
    graph = coexpression_graph(corr, [col.genes[i] for i in keep])  # kg_build's defaults: |r| > 0.4, top-k 20
    # the distribution of r over the TOP_CORR most expressed genes (panels differ in how many genes are seen at
    # all, and r among barely seen genes is mostly counting noise)
    top = np.argsort(-mean[keep], kind="stable")[:TOP_CORR]
    r = corr[np.ix_(top, top)][np.triu_indices(len(top), k=1)]
    out[f"|r| 99th percentile, top {TOP_CORR} genes"] = float(np.quantile(np.abs(r), 0.99))
    out[f"|r| > 0.4, share of pairs, top {TOP_CORR} genes"] = float((np.abs(r) > 0.4).mean())
    out["genes in >= 10 % of control cells"] = float(len(keep))
    out["co-expression edges per such gene"] = graph.n_edges / max(len(keep), 1)
    arrays["corr"] = r

    # control split-half noise: two halves of NOISE_CELLS control cells
    pick = rng.choice(ctrl, min(NOISE_CELLS, len(ctrl)), replace=False)
    h1, h2 = pick[: len(pick) // 2], pick[len(pick) // 2 :]
    diff = np.asarray(col.x[h1].mean(axis=0)).ravel() - np.asarray(col.x[h2].mean(axis=0)).ravel()
    noise = float(np.linalg.norm(diff))
    out["split-half noise L2 (50 vs 50 control cells)"] = noise
    out["split-half noise RMS per gene"] = noise / np.sqrt(g)

    # singles: change of the mean from control, over (at most) 100 cells each
    index = {gene: i for i, gene in enumerate(col.genes)}
    changes: dict[str, np.ndarray] = {}
    l2, de, own = [], [], []
    for cond in sorted(set(col.labels) - {"ctrl"}):
        cells = np.flatnonzero(col.labels == cond)
        if len(cells) < 10:
            continue
        cells = cells if len(cells) <= 100 else rng.choice(cells, 100, replace=False)
        m1, v1, _ = _mean_var(col.x, cells)
        changes[cond] = m1 - mean
        genes = cond.split("+")
        if len(genes) != 1:
            continue
        l2.append(np.linalg.norm(m1 - mean))
        de.append(_welch_de(m1, v1, len(cells), mean, var, len(ctrl)))
        if genes[0] in index:
            own.append(m1[index[genes[0]]] - mean[index[genes[0]]])
    l2, de = np.asarray(l2), np.asarray(de, dtype=float)
    out["singles"] = float(len(l2))
    out["single L2, median"] = float(np.median(l2)) if len(l2) else np.nan
    out["single RMS per gene, median"] = float(np.median(l2) / np.sqrt(g)) if len(l2) else np.nan
    out["single L2 / split-half noise, median"] = float(np.median(l2) / noise) if len(l2) else np.nan
    out["single DE genes (BH 5 %), median share"] = float(np.median(de) / g) if len(de) else np.nan
    out["perturbed gene's own change, median (n)"] = float(np.median(own)) if own else np.nan
    out["own change measured for"] = float(len(own))
    arrays.update({"l2": l2 / np.sqrt(g), "de": de / g, "own": np.asarray(own)})

    # doubles whose two singles were measured: Theil-Sen c1, c2 (biodsnn.evaluate's GI fit); on simulated data
    # from the noise-free changes, as Norman's fits are from hundreds of deeply sequenced cells per double
    # (there, on the genes that move: |change| > MOVED in the double or a single; the rest only adds pairs of
    # exactly proportional dilution changes)
    moved_only = col.truth is not None
    if moved_only:
        changes = {c: v - col.truth["ctrl"] for c, v in col.truth.items() if c != "ctrl"}
    fits = []
    for cond, d in changes.items():
        genes = cond.split("+")
        if len(genes) == 2 and all(gg in changes for gg in genes):
            a, b = changes[genes[0]], changes[genes[1]]
            keep = (np.abs(a) > MOVED) | (np.abs(b) > MOVED) | (np.abs(d) > MOVED) if moved_only else slice(None)
            if moved_only and keep.sum() < 5:
                continue
            s = gi_scores(a[keep], b[keep], d[keep])
            fits.append((s.c1, s.c2, s.corr_fit, s.dominance, s.dcor_singles))
    fits_arr = np.asarray(fits, dtype=float).reshape(-1, 5)
    arrays["fits"] = fits_arr
    out["doubles fitted"] = float(len(fits_arr))
    if len(fits_arr):
        total = fits_arr[:, 0] + fits_arr[:, 1]
        out["c1 + c2, median"] = float(np.median(total))
        out["c1 + c2, 25th percentile"] = float(np.quantile(total, 0.25))
        out["c1 + c2, 75th percentile"] = float(np.quantile(total, 0.75))
        for k, v in gi_class_shares(fits_arr).items():
            out[f"GI class share: {k}"] = v
    out["c1, median"] = float(np.median(fits_arr[:, 0])) if len(fits_arr) else np.nan
    out["c2, median"] = float(np.median(fits_arr[:, 1])) if len(fits_arr) else np.nan
    return out, arrays


GI_CLASSES = ("neomorphic", "redundant", "epistasis", "synergy", "suppressor", "additive")


def gi_classes(fits: np.ndarray) -> np.ndarray:
    """One GI class per double from (c1, c2, corr_fit, dominance, dcor_singles), first rule that holds.

    Thresholds sit between the medians of GEARS' labelled classes over Norman's own fits (norman2019_gi_labels.tsv
    joined with the fits): neomorphic corr_fit < 0.80; redundant singles dcor > 0.65; epistasis (one single
    dominates) |log10(c1/c2)| > 0.35; synergy c1 + c2 > 2.1; suppressor c1 + c2 < 1.2; else additive.
    """
    c1, c2, fit, dom, dsing = fits.T
    total = c1 + c2
    return np.select(
        [fit < 0.80, dsing > 0.65, dom > 0.35, total > 2.1, total < 1.2],
        list(GI_CLASSES[:5]),
        default="additive",
    )


def gi_class_shares(fits: np.ndarray) -> dict[str, float]:
    cls = gi_classes(fits)
    return {k: float((cls == k).mean()) for k in GI_CLASSES}


def norman_fits(folder: Path) -> tuple[dict[str, float], np.ndarray]:
    """The same statistics over Norman et al.'s own fits of the whole screen (coef_first, coef_second)."""
    f = pd.read_csv(folder / "norman2019_gi_regression_fits.csv")
    total = f["coef_first"] + f["coef_second"]
    dom = np.abs(np.log10(np.abs(f["coef_first"]) / np.abs(f["coef_second"])))
    fits = np.column_stack([f["coef_first"], f["coef_second"], f["corr_fit"], dom, f["dcor_singles"]])
    out = {
        "doubles fitted": float(len(f)),
        "c1, median": float(np.median(f["coef_first"])),
        "c2, median": float(np.median(f["coef_second"])),
        "c1 + c2, median": float(np.median(total)),
        "c1 + c2, 25th percentile": float(np.quantile(total, 0.25)),
        "c1 + c2, 75th percentile": float(np.quantile(total, 0.75)),
    }
    out.update({f"GI class share: {k}": v for k, v in gi_class_shares(fits).items()})
    return out, fits


def between_lines(cols: list[Column]) -> dict[str, float]:
    """L2 between the control means of the contexts of one dataset (McFaline: 12.6-15.3 over 500 genes)."""
    means = [np.asarray(c.x[np.flatnonzero(c.labels == "ctrl")].mean(axis=0)).ravel() for c in cols]
    d = [np.linalg.norm(means[i] - means[j]) for i in range(len(means)) for j in range(i + 1, len(means))]
    return {"between-context control L2, median": float(np.median(d)) if d else np.nan}


# ----------------------------------------------------------------------------------------------- the table

INFO = ("cells", "genes", "control cells", "singles", "doubles fitted", "own change measured for",
        "genes in >= 10 % of control cells")
FIT_ROWS = ("doubles fitted", "c1, median", "c2, median", "c1 + c2, median", "c1 + c2, 25th percentile",
            "c1 + c2, 75th percentile")


def rule(stat: str) -> str:
    """How "inside the real spread" is judged for one statistic (the table's 'inside' column says which)."""
    if stat in INFO:
        return "info"
    if stat == "c1 + c2, median":
        return "within Norman's IQR"
    if stat in FIT_ROWS or stat.startswith("GI class share"):
        return "within ±0.3 of Norman" if not stat.startswith("GI") else "within ±0.15 of Norman"
    if stat.startswith("perturbed gene"):
        return "same modality, 0.5-2×"
    if stat == "co-expression edges per such gene":
        return "> 0"
    if stat.startswith("between-context"):
        return "McFaline ±25 %"
    return "real min-max"


def inside(stat: str, value: float, real: pd.DataFrame, fits: pd.Series, modality_real: dict[str, float]) -> str:
    how = rule(stat)
    if how == "info" or not np.isfinite(value):
        return ""
    if how == "within Norman's IQR":
        ok = fits["c1 + c2, 25th percentile"] <= value <= fits["c1 + c2, 75th percentile"]
    elif how.startswith("within ±"):
        tol = float(how.split("±")[1].split()[0])
        ok = abs(value - fits[stat]) <= tol
    elif how.startswith("same modality"):
        ref = modality_real.get(stat, np.nan)
        ok = np.isfinite(ref) and 0.5 * ref <= value <= 2 * ref
    elif how == "> 0":
        ok = value > 0
    elif how.startswith("McFaline"):
        ref = real.loc[stat].dropna()
        ok = len(ref) > 0 and 0.75 * ref.min() <= value <= 1.25 * ref.max()
    else:
        vals = real.loc[stat].dropna() if stat in real.index else pd.Series(dtype=float)
        ok = len(vals) > 0 and vals.min() <= value <= vals.max()
    return "yes" if ok else "NO"


def plots(folder: Path, arrays: dict[str, dict[str, np.ndarray]], fits_real: np.ndarray) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    names = list(arrays)
    colours = {n: plt.cm.tab10(i % 10) for i, n in enumerate(names)}
    style = {n: {"color": colours[n], "lw": 2.2 if n.startswith("sim") else 1.0,
                     "ls": "-" if n.startswith("sim") else "--"} for n in names}
    written = []

    def save(fig, name):
        fig.tight_layout()
        path = folder / name
        fig.savefig(path, dpi=72)
        plt.close(fig)
        written.append(path)

    # expression: binned mean-variance and mean-zeros curves, library size
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.8))
    bins = np.logspace(-3, 1, 17)
    for n, a in arrays.items():
        m = a["mean"]
        idx = np.digitize(m, bins)
        mids, v, z = [], [], []
        for b in range(1, len(bins)):
            sel = idx == b
            if sel.sum() >= 5:
                mids.append(np.sqrt(bins[b - 1] * bins[b]))
                v.append(np.median(a["var"][sel]))
                z.append(np.median(a["zeros"][sel]))
        ax[0].plot(mids, v, label=n, **style[n])
        ax[1].plot(mids, z, **style[n])
        lib = np.log10(np.maximum(a["library"], 1))
        ax[2].hist(lib - np.median(lib), bins=40, range=(-1.2, 1.2), density=True, histtype="step", **style[n])
    ax[0].set(xscale="log", yscale="log", xlabel="gene mean (log1p), control", ylabel="variance (median per bin)")
    ax[1].set(xscale="log", xlabel="gene mean (log1p), control", ylabel="fraction of zeros")
    ax[2].set(xlabel="log10 library size − median", ylabel="density")
    ax[0].legend(fontsize=7)
    save(fig, "sim_vs_real_expression.png")

    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    for n, a in arrays.items():
        ax[0].hist(a["corr"], bins=60, range=(-1, 1), density=True, histtype="step", label=n, **style[n])
    ax[0].set(yscale="log", xlabel=f"gene-gene Pearson r, {CORR_CELLS} control cells, top {TOP_CORR} genes",
              ylabel="density")
    ax[0].axvline(0.4, color="grey", lw=0.8)
    ax[0].axvline(-0.4, color="grey", lw=0.8)
    ax[0].legend(fontsize=7)
    vals = [arrays[n]["edges"] for n in names]
    ax[1].barh(names, vals, color=[colours[n] for n in names])
    ax[1].set(xlabel="co-expression edges per gene (|r| > 0.4, top-k 20)")
    save(fig, "sim_vs_real_correlation.png")

    fig, ax = plt.subplots(1, 3, figsize=(13, 3.8))
    ax[0].boxplot([arrays[n]["l2"] for n in names], orientation="horizontal", tick_labels=names)
    ax[0].set(xlabel="single perturbation: RMS change per gene")
    ax[1].boxplot([arrays[n]["de"] for n in names], orientation="horizontal", tick_labels=[""] * len(names))
    ax[1].set(xlabel="share of genes DE (Welch, BH 5 %)")
    ratio = [arrays[n]["l2"] * np.sqrt(arrays[n]["genes"]) / arrays[n]["noise"] for n in names]
    ax[2].boxplot(ratio, orientation="horizontal", tick_labels=[""] * len(names))
    ax[2].set(xlabel="single L2 / control split-half L2")
    save(fig, "sim_vs_real_effects.png")

    fig, ax = plt.subplots(1, 3, figsize=(13, 3.8))
    ax[0].scatter(fits_real[:, 0], fits_real[:, 1], s=10, c="k", label="Norman's fits (coef_first, coef_second)")
    for n, a in arrays.items():
        if len(a["fits"]):
            ax[0].scatter(a["fits"][:, 0], a["fits"][:, 1], s=10, color=colours[n], label=n)
            ax[1].hist(a["fits"][:, 0] + a["fits"][:, 1], bins=25, range=(-0.5, 4), density=True, histtype="step",
                       **style[n])
    ax[1].hist(fits_real[:, 0] + fits_real[:, 1], bins=25, range=(-0.5, 4), density=True, histtype="step",
               color="k", label="Norman's fits")
    ax[0].set(xlabel="c1", ylabel="c2", xlim=(-0.5, 3), ylim=(-0.5, 3))
    ax[0].legend(fontsize=7)
    ax[1].axvline(2, color="grey", lw=0.8)
    ax[1].set(xlabel="c1 + c2 (additive = 2)", ylabel="density")
    ax[1].legend(fontsize=7)
    groups = {"Norman's fits": gi_class_shares(fits_real)}
    groups.update({n: gi_class_shares(a["fits"]) for n, a in arrays.items() if len(a["fits"])})
    width = 0.8 / len(groups)
    for i, (n, sh) in enumerate(groups.items()):
        ax[2].bar(np.arange(len(GI_CLASSES)) + i * width, [sh[k] for k in GI_CLASSES], width,
                  color="k" if n == "Norman's fits" else colours[n], label=n)
    ax[2].set_xticks(np.arange(len(GI_CLASSES)) + 0.4, GI_CLASSES, rotation=30, fontsize=8)
    ax[2].set(ylabel="share of doubles")
    save(fig, "sim_vs_real_doubles.png")
    return written


def main(argv: list[str] | None = None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--presets", nargs="+", default=["norman", "crispri", "lines"])
    ap.add_argument("--real", default=str(ROOT.parent / "shared" / "data" / "real"))
    ap.add_argument("--plots", default=None, help="folder for the PNG plots (e.g. docs/img)")
    ap.add_argument("--markdown", default=None, help="also write the table as Markdown to this file")
    args = ap.parse_args(argv)
    os.environ.setdefault("BIODSNN_NO_PROGRESS", "1")
    real_dir = Path(args.real)
    if not real_dir.is_dir():
        raise SystemExit(f"error: no real data folder at {real_dir}; pass --real DIR (see its README)")
    t0 = time.time()
    real_cols = load_real(real_dir)
    sim_cols: list[Column] = []
    for preset in args.presets:
        sim_cols += load_simulated(preset, args.seed)
    stats, arrays = {}, {}
    for col in real_cols + sim_cols:
        st, ar = column_stats(col, seed=args.seed)
        ar.update(genes=st["genes"], noise=st["split-half noise L2 (50 vs 50 control cells)"],
                  edges=st["co-expression edges per such gene"])
        stats[col.name], arrays[col.name] = st, ar
    for prefix in ["McFaline"] + [f"sim {p}" for p in args.presets]:
        group = [c for c in real_cols + sim_cols if c.name.startswith(prefix + " ")]
        if len(group) > 1:
            stats[group[0].name].update(between_lines(group))
    fits, fits_arr = norman_fits(real_dir)
    table = pd.DataFrame(stats)
    table.insert(len(real_cols), "Norman fits", pd.Series(fits))
    real = table[[c.name for c in real_cols]]
    modality_real = {}
    own = "perturbed gene's own change, median (n)"
    for c in real_cols:
        if c.modality == "CRISPRa" and np.isfinite(stats[c.name][own]):
            modality_real[own] = stats[c.name][own]
    target = next((c.name for c in sim_cols if c.name.startswith("sim norman")), None)
    if target is not None:
        table["rule"] = [rule(s) for s in table.index]
        table["norman inside"] = [inside(s, table.at[s, target], real, table["Norman fits"], modality_real)
                                  for s in table.index]
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    shown = table.copy()
    for c in shown.columns:
        if c not in ("rule", "norman inside"):
            shown[c] = shown[c].map(lambda v: "" if not np.isfinite(v) else f"{v:.3g}")
    print(shown.to_string())
    if args.markdown:
        head = "| statistic | " + " | ".join(shown.columns) + " |"
        lines = [head, "|" + "---|" * (len(shown.columns) + 1)]
        lines += ["| " + " | ".join([str(i), *map(str, row)]).replace("|r|", "\\|r\\|") + " |"
                  for i, row in zip(shown.index, shown.values, strict=True)]
        Path(args.markdown).write_text("\n".join(lines) + "\n")
    if args.plots:
        for p in plots(Path(args.plots), arrays, fits_arr):
            print(f"wrote {p}")
    print(f"{time.time() - t0:.0f} s")
    return table


if __name__ == "__main__":
    main()
