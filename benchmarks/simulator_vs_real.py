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
from biodsnn.evaluate._gi import gi_scores, theil_sen_2  # noqa: E402
from kg_build.coexpression import coexpression_graph, pearson_matrix  # noqa: E402

NOISE_CELLS = 100  # control cells drawn for the split-half noise (two halves of 50), the same in every column
MAX_CONTROL_CORR = 1000  # control cells used for correlations (subsampled when there are more)
DE_ALPHA = 0.05  # Welch t-test, Benjamini–Hochberg


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


def load_simulated(preset: str, seed: int) -> tuple[list[Column], object]:
    sizes = {"norman": {"cells_per_condition": 100, "n_control": 1000}}.get(preset, {})
    adata = simulate(preset=preset, seed=seed, progress=False, **sizes)
    labels = np.asarray(["ctrl" if c == "ctrl" else "+".join(parse_condition(c)) for c in adata.obs["condition"]],
                        dtype=object)
    mode = adata.uns["biodsnn_simulation"]["config"]["mode"]
    modality = {"activation": "CRISPRa", "interference": "CRISPRi"}.get(mode, "CRISPRa/i")
    ctx = adata.obs["cell_type"].astype(str).to_numpy() if "cell_type" in adata.obs else None
    if ctx is not None and len(set(ctx)) == 1:
        ctx = None
    cols = _split_by(f"sim {preset}", sp.csr_matrix(adata.X), list(adata.var_names), labels,
                     adata.obs["n_counts"].to_numpy(float), modality, ctx)
    return cols, adata


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

    # correlations among control cells (at most MAX_CONTROL_CORR of them), co-expression edges as kg_build builds them
    rows = ctrl if len(ctrl) <= MAX_CONTROL_CORR else np.sort(rng.choice(ctrl, MAX_CONTROL_CORR, replace=False))
    # genes seen in at least 10 % of these cells: rarer genes give spurious |r| = 1 among a few cells
    seen = 1.0 - np.diff(col.x[rows].tocsc().indptr) / len(rows)
    keep = np.flatnonzero(seen <= 0.9)
    corr = pearson_matrix(col.x[:, keep], rows)
    iu = np.triu_indices(len(keep), k=1)
    r = corr[iu]
    graph = coexpression_graph(corr, [col.genes[i] for i in keep])  # kg_build's defaults: |r| > 0.4, top-k 20
    out["|r| 99th percentile (control)"] = float(np.quantile(np.abs(r), 0.99))
    out["|r| > 0.4, share of pairs"] = float((np.abs(r) > 0.4).mean())
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
    if col.truth is not None:
        changes = {c: v - col.truth["ctrl"] for c, v in col.truth.items() if c != "ctrl"}
    fits = []
    for cond, d in changes.items():
        genes = cond.split("+")
        if len(genes) == 2 and all(gg in changes for gg in genes):
            s = gi_scores(changes[genes[0]], changes[genes[1]], d)
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


def norman_fits(folder: Path) -> dict[str, float]:
    """The same statistics over Norman et al.'s own fits of the whole screen (coef_first, coef_second)."""
    f = pd.read_csv(folder / "norman2019_gi_regression_fits.csv")
    total = f["coef_first"] + f["coef_second"]
    dom = np.abs(np.log10(np.abs(f["coef_first"]) / np.abs(f["coef_second"])))
    fits = np.column_stack([f["coef_first"], f["coef_second"], f["corr_fit"], dom, f["dcor_singles"]])
    out = {
        "doubles fitted": float(len(f)),
        "c1 + c2, median": float(np.median(total)),
        "c1 + c2, 25th percentile": float(np.quantile(total, 0.25)),
        "c1 + c2, 75th percentile": float(np.quantile(total, 0.75)),
    }
    out.update({f"GI class share: {k}": v for k, v in gi_class_shares(fits).items()})
    return out, fits


_ = theil_sen_2  # the GI fit used above (gi_scores) is biodsnn.evaluate's Theil-Sen
