"""A Perturb-seq simulator with a known regulatory network tied to Reactome pathways, calibrated against real screens.

Model (documented in docs/data.md, compared with real data by benchmarks/simulator_vs_real.py):

* Genes are real human symbols from the bundled Reactome release that also carry a GO annotation, picked mostly
  whole pathway by pathway, so that genes share pathways as real measured panels do.
* A hidden regulatory DAG: about 12 % of genes are regulators; each gene gets 0–4 regulators, chosen with
  probability ``p_pathway`` (0.8) among regulators sharing one of its pathways, else anywhere. Some genes also have an
  AND-like term on the product of two regulators' activities.
* State ``s`` (log fold change from control, natural log). A CRISPRa/CRISPRi perturbation clamps the perturbed gene
  at ``+a`` / ``-b`` (CRISPRa at least to a high expression level of its own); every other gene, in topological
  order, takes ``s_g = c_g · tanh((Σ_r W_rg · a_r + V_g · a_r1 · a_r2) / c_g)`` with activities ``a_r = tanh(s_r)``.
  In a combination the perturbed genes pass on only a factor ω of their activity (per-combination buffering,
  sometimes one gene dominated), and some combinations switch on a further regulator (neomorphic): with the
  saturation and AND terms this gives Norman et al.'s sub-additive spread of (c1, c2).
* Cell-state programs: pathway programs and two broad ones multiply their member genes' means by
  ``exp(λ z − λ²/2)`` with a per-cell activity z, so control cells co-vary.
* Cell lines (``n_contexts``): own baseline and own edge weights around the shared network; ``obs['cell_type']``.
* Expected shares of a cell's UMIs ``q_g = p_g · exp(s_g) / (Σ p · exp(s) + R)``, where the unmeasured rest of the
  transcriptome ``R`` holds the preset's unmeasured share; counts ~ NegativeBinomial(mean = L · q · programs,
  dispersion θ_g) with per-cell library size ``L`` log-normal; each cell is normalised by its total UMIs (measured +
  unmeasured) to 1e4 and ``log1p``-transformed (stored in X, CSR float32).
* Truth: ``uns["biodsnn_truth"]`` = {"conditions": names (incl. ``ctrl``), "means": float32 (rows, genes) =
  ``E[log1p(1e4 · k / T)]``, the expectation of the observed values (quadrature, ``_expected_log1p``), and
  "cell_type" per row with several lines}; the network and perturbation strengths are in
  ``uns["biodsnn_simulation"]``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from biodsnn.data._loading import TRUTH_KEY
from biodsnn.data._normalize import TARGET_SUM
from biodsnn.data.conditions import CONTROL, format_condition
from reactomenet.errors import InputError

if TYPE_CHECKING:
    import anndata

SIM_KEY = "biodsnn_simulation"
Preset = Literal["crispra", "crispri", "mixed", "lines", "norman", "tiny", "small"]

# Count model of the screens calibrated against real data (benchmarks/simulator_vs_real.py, docs/data.md): a
# whole-transcriptome median of 12,000 UMIs per cell (Norman's K562 cells: ~13,000), σ 0.55 (log10 sd 0.24; real
# 0.18-0.35), a 500-gene panel holding 3 % of them at baseline and Norman's 5,000 genes 15 % (the median measured
# gene is then zero in 84-90 % of control cells; real files: 88-100 %).
_SCREEN = {"library_size": 12_000.0, "library_sigma": 0.55, "measured_share": 0.03}
# The test-sized presets keep denser counts (2.5 UMIs per measured gene, half of each cell's UMIs measured), so
# that a dozen cells per perturbation still carry signal.
_DENSE = {"library_size": None, "library_sigma": 0.35, "measured_share": 0.5}
_SMALL = {"n_genes": 500, "n_singles": 30, "n_doubles": 30, "n_triples": 0, "cells_per_condition": 40,
          "n_control": 300, "n_contexts": 1}

#: Each preset names what it simulates (Norman et al. 2019 as distributed by GEARS: ~91 k cells, ~5 k genes,
#: 105 singles, 131 doubles).
PRESETS: dict[str, dict[str, Any]] = {
    # a CRISPRa screen with doubles (what the README demo runs)
    "crispra": {**_SMALL, **_SCREEN, "mode": "activation"},
    # a CRISPRi screen with doubles
    "crispri": {**_SMALL, **_SCREEN, "mode": "interference"},
    # half CRISPRa, half CRISPRi genes (no real screen does this; kept for model checks)
    "mixed": {**_SMALL, **_SCREEN, "mode": "mixed"},
    # a CRISPRi screen of singles in three cell lines (McFaline-Figueroa 2023's design): each line has its own
    # baseline and a line-specific version of the shared network; obs['cell_type'] names the line; McFaline's
    # depth (~3,000 UMIs per cell), at which the lines' control means lie 12-15 apart (L2) as the real ones do
    "lines": {**_SMALL, **_SCREEN, "n_singles": 20, "n_doubles": 0, "cells_per_condition": 60, "n_control": 200,
              "mode": "interference", "n_contexts": 3, "measured_share": 0.06, "library_size": 3000.0},
    # Norman et al. 2019's CRISPRa screen at full size
    "norman": {"n_genes": 5000, "n_singles": 105, "n_doubles": 131, "n_triples": 0, "cells_per_condition": 340,
               "n_control": 11000, "mode": "activation", "n_contexts": 1, **_SCREEN, "measured_share": 0.15},
    # test-sized mixed screens with dense counts (older names, kept: tests and benchmarks use them)
    "tiny": {"n_genes": 120, "n_singles": 12, "n_doubles": 10, "n_triples": 0, "cells_per_condition": 12,
             "n_control": 60, "mode": "mixed", "n_contexts": 1, **_DENSE},
    "small": {**_SMALL, **_DENSE, "mode": "mixed"},
}
_GO_FILE = "orgHsEgDb_3.16.0_gene2go_direct.tsv.gz"
_CHUNK = 2048
#: What a call may change of a preset (simulate's keyword arguments of the same names).
_OVERRIDES = ("n_genes", "n_singles", "n_doubles", "n_triples", "cells_per_condition", "n_control", "mode",
              "n_contexts", "library_size")
# Interaction strength: saturation caps (log units), AND-term probability and weight, and the share of doubles
# drawn among related genes (one regulates the other or they share a target). With (1.0, 3.0), 0.35, (0.6, 1.5) and
# 0.5 the `small` preset's doubles were additive to 0.1 % of their change, far from Norman's genetic interactions.
_CAP_RANGE = (0.5, 1.5)
_AND_PROB = 0.6
_AND_RANGE = (1.0, 2.0)
_RELATED_SHARE = 0.8
MEASURED_SHARE = 0.5


@functools.lru_cache(maxsize=2)
def gene_universe() -> tuple[list[str], dict[str, list[str]]]:
    """Reactome genes with a GO annotation, and each Reactome pathway's genes restricted to them.

    Example:
        >>> genes, sets = gene_universe()
        >>> len(genes) > 5000 and "TP53" in genes
        True
    """
    from reactomenet import ReactomeGraph

    go_path = resources.files("kg_build") / "data" / "go" / _GO_FILE
    with resources.as_file(go_path) as p:
        go = set(pd.read_csv(p, sep="\t", usecols=["symbol"], dtype=str)["symbol"].dropna())
    graph = ReactomeGraph.load()
    sets: dict[str, list[str]] = {}
    for pathway in graph.pathways():
        members = [g for g in graph.genes_of(pathway.id) if g in go]
        if members:
            sets[pathway.id] = sorted(set(members))
    universe = sorted({g for m in sets.values() for g in m})
    return universe, sets


@dataclass
class _Network:
    genes: list[str]
    base_log_p: np.ndarray  # (G,) baseline log proportions
    theta: np.ndarray  # (G,) NB dispersion
    cap: np.ndarray  # (G,)
    w: sp.csc_matrix  # (G, G): W[r, g]
    and_target: np.ndarray
    and_r1: np.ndarray
    and_r2: np.ndarray
    and_w: np.ndarray
    layers: list[np.ndarray]
    regulators: np.ndarray
    pathways: list[str]

    def states(self, clamps: list[dict[int, float]], reach: list[dict[int, float]] | None = None) -> np.ndarray:
        """Log fold changes (n_cond, G) for each clamp set {gene index: value}.

        ``reach`` scales what a clamped gene passes on to its targets (its activity ``tanh(s)``), per condition
        {gene index: factor}; the clamped gene's own level stays at its clamp.
        """
        n, g = len(clamps), len(self.genes)
        s = np.zeros((n, g))
        rows = np.concatenate([np.full(len(c), i) for i, c in enumerate(clamps)]).astype(np.int64)
        cols = np.concatenate([np.fromiter(c.keys(), dtype=np.int64, count=len(c)) for c in clamps])
        vals = np.concatenate([np.fromiter(c.values(), dtype=np.float64, count=len(c)) for c in clamps])
        s[rows, cols] = vals
        and_pos = {int(t): i for i, t in enumerate(self.and_target)}
        scaled = [(i, k, f) for i, r in enumerate(reach or []) for k, f in r.items()]
        s_rows, s_cols, s_f = (np.array(v) for v in zip(*scaled, strict=True)) if scaled else (None, None, None)
        for layer in self.layers[1:]:
            act = np.tanh(s)
            if s_rows is not None:
                act[s_rows.astype(np.int64), s_cols.astype(np.int64)] *= s_f
            u = np.asarray(self.w[:, layer].T @ act.T).T.copy()
            idx = [(k, and_pos[int(t)]) for k, t in enumerate(layer) if int(t) in and_pos]
            if idx:
                k, a = np.array(idx).T
                u[:, k] += self.and_w[a] * act[:, self.and_r1[a]] * act[:, self.and_r2[a]]
            c = self.cap[layer]
            s[:, layer] = c * np.tanh(u / c)
            s[rows, cols] = vals
        return s


def _build_network(n_genes: int, rng: np.random.Generator, p_pathway: float) -> _Network:
    universe, sets = gene_universe()
    if n_genes < 20 or n_genes > len(universe):
        raise InputError(
            f"n_genes must lie between 20 and {len(universe)} (Reactome genes with GO terms), got {n_genes}"
        )
    pids = [p for p, m in sorted(sets.items()) if 5 <= len(m) <= 300]
    chosen: list[str] = []
    picked: set[str] = set()
    target = int(0.9 * n_genes)
    for i in rng.permutation(len(pids)):
        if len(picked) >= target:
            break
        members = [g for g in sets[pids[i]] if g not in picked]
        room = target - len(picked)
        if len(members) > room:
            members = list(rng.choice(members, size=room, replace=False))
        picked.update(members)
        chosen.append(pids[i])
    rest = [g for g in universe if g not in picked]
    picked.update(rng.choice(rest, size=n_genes - len(picked), replace=False).tolist())
    genes = sorted(picked)
    index = {g: i for i, g in enumerate(genes)}
    g_count = len(genes)
    # pathway co-membership among the selected genes (chosen pathways only: sizes <= 300 keep it sparse)
    mem_rows, mem_cols = [], []
    for j, pid in enumerate(chosen):
        for gene in sets[pid]:
            if gene in index:
                mem_rows.append(index[gene])
                mem_cols.append(j)
    member = sp.csr_matrix((np.ones(len(mem_rows)), (mem_rows, mem_cols)), shape=(g_count, max(len(chosen), 1)))
    share = (member @ member.T).tocsr()

    n_reg = max(12, int(0.12 * g_count))
    order = rng.permutation(g_count)
    regulators = order[:n_reg]
    position = np.full(g_count, n_reg, dtype=np.int64)  # non-regulators come after every regulator
    position[regulators] = np.arange(n_reg)
    hub = rng.lognormal(0.0, 1.0, g_count)
    is_reg = np.zeros(g_count, dtype=bool)
    is_reg[regulators] = True
    src, dst, wts = [], [], []
    and_t, and_1, and_2, and_v = [], [], [], []
    for g in range(g_count):
        eligible = regulators[position[regulators] < position[g]]
        if len(eligible) == 0:
            continue
        k = min(int(rng.poisson(1.4)), 4, len(eligible))
        if k == 0:
            continue
        near = share[g].indices
        near = eligible[np.isin(eligible, near) & (eligible != g)]
        regs: list[int] = []
        for _ in range(k):
            pool = near if (len(near) and rng.random() < p_pathway) else eligible
            pool = pool[~np.isin(pool, regs)]
            if len(pool) == 0:
                pool = eligible[~np.isin(eligible, regs)]
            if len(pool) == 0:
                break
            weights = hub[pool] / hub[pool].sum()
            regs.append(int(rng.choice(pool, p=weights)))
        for r in regs:
            src.append(r)
            dst.append(g)
            wts.append((1.0 if rng.random() < 0.6 else -1.0) * rng.uniform(0.4, 1.2))
        if len(regs) >= 2 and rng.random() < _AND_PROB:
            and_t.append(g)
            and_1.append(regs[0])
            and_2.append(regs[1])
            and_v.append((1.0 if rng.random() < 0.5 else -1.0) * rng.uniform(*_AND_RANGE))
    w = sp.csc_matrix((wts, (src, dst)), shape=(g_count, g_count))
    depth = np.zeros(g_count, dtype=np.int64)
    by_position = np.argsort(position, kind="stable")
    incoming = w.tocsc()
    for g in by_position:
        regs = incoming.indices[incoming.indptr[g] : incoming.indptr[g + 1]]
        depth[g] = 1 + depth[regs].max() if len(regs) else 0
    layers = [np.flatnonzero(depth == d) for d in range(int(depth.max()) + 1)]
    return _Network(
        genes=genes,
        base_log_p=rng.normal(0.0, _BASE_SD, g_count),
        theta=rng.lognormal(np.log(3.0), 0.6, g_count),
        cap=rng.uniform(*_CAP_RANGE, g_count),
        w=w,
        and_target=np.array(and_t, dtype=np.int64),
        and_r1=np.array(and_1, dtype=np.int64),
        and_r2=np.array(and_2, dtype=np.int64),
        and_w=np.array(and_v, dtype=np.float64),
        layers=layers,
        regulators=np.sort(regulators),
        pathways=chosen,
    )


# Cell-state programs: a program is the measured genes of one of the network's pathways (at most 80); each cell
# has an activity z ~ N(0, 1) per program and a member gene's mean is multiplied by exp(λ z − λ²/2) (mean one).
# Loadings λ come from a few levels so the noise-free expectation can be tabulated per level (_expected_log1p).
_PROGRAM_SHARE = 0.4
_PROGRAM_MAX = 80
# and two broad programs (cell-cycle- or stress-like) on which half of all genes load weakly
_BROAD_COUNT = 2
_BROAD_SHARE = 0.5
_BROAD_LOADING = 0.3
_BUFFER_MEDIAN = 0.8
_BUFFER_SIGMA = 0.6
_DOMINATED_SHARE = 0.35
_DOMINATED_RANGE = (0.15, 0.6)
_NEOMORPHIC_SHARE = 0.2
_CONTEXT_R = 0.3  # correlation of a cell line's log baseline with the first line's (same spread)
_BASE_SD = 1.6  # log-sd of baseline expression across genes
_PROGRAM_LOADINGS = (0.6, 0.9, 1.2)
_THETA_LEVELS = 8  # NB dispersions θ take the octile midpoints of log-normal(log 3, 0.6)


@dataclass
class _Programs:
    member: np.ndarray  # (G,) program index of each gene, -1 for none
    loading: np.ndarray  # (G,) λ (signed), 0 for none
    count: int
    broad: np.ndarray  # (G,) broad program (0 .. _BROAD_COUNT - 1) of each gene, -1 for none

    @property
    def tau(self) -> np.ndarray:
        """Log-sd of each gene's program multiplier (its programs' activities are independent)."""
        return np.sqrt(self.loading**2 + np.where(self.broad >= 0, _BROAD_LOADING**2, 0.0))

    def multiplier(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean-one multipliers exp(Σ λ z − τ²/2) of n cells, for the genes with any program (returned first)."""
        genes = np.flatnonzero(self.tau > 0)
        z = rng.standard_normal((n, self.count + _BROAD_COUNT))
        eta = np.zeros((n, genes.size))
        pathway = self.member[genes] >= 0
        eta[:, pathway] += self.loading[genes][pathway] * z[:, self.member[genes][pathway]]
        broad = self.broad[genes] >= 0
        eta[:, broad] += _BROAD_LOADING * z[:, self.count + self.broad[genes][broad]]
        return genes, np.exp(eta - self.tau[genes] ** 2 / 2)


def _build_programs(net: _Network, rng: np.random.Generator, share: float) -> _Programs:
    _, sets = gene_universe()
    index = {g: i for i, g in enumerate(net.genes)}
    member = np.full(len(net.genes), -1, dtype=np.int64)
    loading = np.zeros(len(net.genes))
    count = 0
    for j in rng.permutation(len(net.pathways)):
        if (member >= 0).mean() >= share:
            break
        genes = [index[g] for g in sets[net.pathways[j]] if g in index and member[index[g]] < 0]
        if len(genes) < 4:
            continue
        genes = list(rng.permutation(genes)[:_PROGRAM_MAX])
        member[genes] = count
        sign = np.where(rng.random(len(genes)) < 0.8, 1.0, -1.0)
        loading[genes] = sign * rng.choice(_PROGRAM_LOADINGS, size=len(genes))
        count += 1
    broad = np.where(rng.random(len(net.genes)) < _BROAD_SHARE, rng.integers(0, _BROAD_COUNT, len(net.genes)), -1)
    return _Programs(member, loading, count, broad)


def _theta_levels() -> np.ndarray:
    from scipy.stats import norm

    return np.exp(np.log(3.0) + 0.6 * norm.ppf((np.arange(_THETA_LEVELS) + 0.5) / _THETA_LEVELS))


def _poisson_log1p(m: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """E[log1p(1e4·k / (k + rest))] for k ~ Poisson(m): exact sums for m < 40, a third-order expansion above."""
    from scipy.special import gammaln

    out = np.empty_like(m)
    small = m < 40
    done = np.zeros(m.shape, dtype=bool)
    for bound, k_max in ((2.0, 24), (10.0, 50), (40.0, 120)):  # terms beyond k_max weigh < 1e-9
        tier = np.flatnonzero(small & ~done & (m < bound))
        done[tier] = True
        k = np.arange(k_max + 1, dtype=np.float64)
        lgk = gammaln(k + 1)
        for start in range(0, tier.size, 32768):
            idx = tier[start : start + 32768]
            mm, rr = m[idx, None], rest[idx, None]
            with np.errstate(divide="ignore"):
                logpmf = k * np.log(mm) - mm - lgk
            logpmf[:, 0] = -mm[:, 0]
            out[idx] = (np.exp(logpmf) * np.log1p(TARGET_SUM * k / (k + rr))).sum(axis=1)
    big = ~small
    if big.any():
        mb, rb = m[big], rest[big]
        a = 1.0 + TARGET_SUM
        f = np.log(rb + a * mb) - np.log(rb + mb)
        f2 = -(a**2) / (rb + a * mb) ** 2 + 1.0 / (rb + mb) ** 2
        f3 = 2 * a**3 / (rb + a * mb) ** 3 - 2.0 / (rb + mb) ** 3
        out[big] = f + 0.5 * mb * f2 + mb * f3 / 6.0
    return out


def _expected_log1p(
    log_q: np.ndarray, theta: np.ndarray, tau: np.ndarray, library: float, library_sigma: float
) -> np.ndarray:
    """Noise-free expectation of the observed log1p(1e4·k/T) for expected UMI shares ``exp(log_q)``.

    Integrates over the cell's library size (log-normal), its program activity (log-normal multiplier with log-sd
    ``tau``), the NB's gamma mixing (dispersion ``theta``) and the Poisson count, by Gauss quadrature on a grid of
    ``log_q`` per distinct (θ, τ), then a cubic spline; the cell total is ``T = k + L·(1 − q)`` (the other genes at
    their expectation, whose fluctuations move the mean by far less than the sampling error; tests check it).
    """
    from scipy.interpolate import CubicSpline
    from scipy.special import gammaln, roots_genlaguerre, roots_hermitenorm

    out = np.empty(log_q.shape, dtype=np.float64)
    xl, wl = roots_hermitenorm(6)
    wl = wl / wl.sum()
    xz, wz = roots_hermitenorm(6)
    wz = wz / wz.sum()
    lib = library * np.exp(library_sigma * xl)  # (nL,)
    for th in np.unique(theta):
        xg, wg = roots_genlaguerre(12, th - 1.0)
        g_nodes, g_w = xg / th, np.exp(np.log(wg) - gammaln(th))
        for ta in np.unique(tau[theta == th]):
            sel = (theta == th) & (tau == ta)
            lo, hi = float(log_q[sel].min()), float(log_q[sel].max())
            grid = np.linspace(lo - 0.1, hi + 0.1, max(8, int((hi - lo) / 0.1) + 3))
            mult = np.exp(ta * xz - ta**2 / 2) if ta > 0 else np.ones(1)
            w_mult = wz if ta > 0 else np.ones(1)
            # nodes: (grid, L, program, gamma)
            q = np.exp(grid)[:, None, None, None]
            m = lib[None, :, None, None] * q * mult[None, None, :, None] * g_nodes[None, None, None, :]
            rest = np.broadcast_to(lib[None, :, None, None] * (1.0 - q), m.shape)
            vals = _poisson_log1p(m.ravel(), np.ascontiguousarray(rest).ravel()).reshape(m.shape)
            w = wl[:, None, None] * w_mult[None, :, None] * g_w[None, None, :]
            curve = (vals * w[None]).sum(axis=(1, 2, 3))
            out[sel] = CubicSpline(grid, curve)(log_q[sel])
    return out


def _choose_conditions(
    net: _Network, n_singles: int, n_doubles: int, n_triples: int, rng: np.random.Generator
) -> list[tuple[int, ...]]:
    g_count = len(net.genes)
    outdeg = np.diff(net.w.tocsr().indptr)
    if n_singles < 2 or n_singles > g_count:
        raise InputError(f"n_singles must lie between 2 and n_genes ({g_count}), got {n_singles}")
    strong = np.flatnonzero(outdeg > 0)
    n_strong = min(len(strong), round(0.8 * n_singles))
    weights = (outdeg[strong] + 1.0) / (outdeg[strong] + 1.0).sum()
    first = rng.choice(strong, size=n_strong, replace=False, p=weights) if n_strong else np.zeros(0, np.int64)
    others = np.setdiff1d(np.arange(g_count), first)
    second = rng.choice(others, size=n_singles - n_strong, replace=False)
    single_genes = np.sort(np.concatenate([first, second]).astype(np.int64))
    conds: list[tuple[int, ...]] = [(int(g),) for g in single_genes]
    max_pairs = len(single_genes) * (len(single_genes) - 1) // 2
    if n_doubles > max_pairs:
        raise InputError(f"{n_doubles} doubles need more singles: {n_singles} singles give at most {max_pairs} pairs")
    # half of the doubles among related genes (one regulates the other, or they share a target), half at random
    w = net.w.tocsr()
    targets = {int(g): set(w.indices[w.indptr[g] : w.indptr[g + 1]].tolist()) for g in single_genes}
    related = [
        (int(a), int(b))
        for i, a in enumerate(single_genes)
        for b in single_genes[i + 1 :]
        if int(b) in targets[int(a)] or int(a) in targets[int(b)] or targets[int(a)] & targets[int(b)]
    ]
    pairs: set[tuple[int, int]] = set()
    if related:
        take = rng.choice(len(related), size=min(len(related), round(_RELATED_SHARE * n_doubles)), replace=False)
        pairs.update(related[i] for i in take)
    while len(pairs) < n_doubles:
        a, b = sorted(rng.choice(single_genes, size=2, replace=False).tolist())
        pairs.add((int(a), int(b)))
    conds += sorted(pairs)
    triples: set[tuple[int, ...]] = set()
    if n_triples and len(single_genes) < 3:
        raise InputError("triples need at least 3 singles")
    while len(triples) < n_triples:
        triples.add(tuple(sorted(int(x) for x in rng.choice(single_genes, size=3, replace=False))))
    conds += sorted(triples)
    return conds


def simulate(
    preset: Preset = "small",
    *,
    seed: int = 0,
    n_genes: int | None = None,
    n_singles: int | None = None,
    n_doubles: int | None = None,
    n_triples: int | None = None,
    cells_per_condition: int | None = None,
    n_control: int | None = None,
    mode: Literal["activation", "interference", "mixed"] | None = None,
    n_contexts: int | None = None,
    p_pathway: float = 0.8,
    library_size: float | None = None,
    output: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> anndata.AnnData:
    """Simulate a Perturb-seq experiment with a known regulatory network (GEARS convention, log-normalised X).

    Args:
        preset: What to simulate: ``crispra`` / ``crispri`` (a CRISPRa / CRISPRi screen, ~2.7 k cells × 500 genes,
            30 singles, 30 doubles), ``mixed`` (the same, half the genes activated, half interfered), ``lines``
            (CRISPRi singles in three cell lines, ``obs['cell_type']``), ``norman`` (CRISPRa at Norman et al.'s
            size, ~91 k × 5 k); test-sized mixed screens with dense counts: ``tiny`` (~300 × 120), ``small``.
        seed: Seed of every random step (same seed, same file).
        n_genes: Measured genes (real human symbols from Reactome ∩ GO).
        n_singles: Single-gene perturbations.
        n_doubles: Two-gene perturbations (pairs of the single genes).
        n_triples: Three-gene perturbations.
        cells_per_condition: Mean cells per perturbation and cell line (varies ±25 % log-normally).
        n_control: Control cells per cell line.
        mode: ``activation`` (CRISPRa), ``interference`` (CRISPRi) or ``mixed`` (per gene at random).
        n_contexts: Cell lines: each has its own baseline and its own version of the shared network.
        p_pathway: Probability that a regulator is drawn from the target's own pathways.
        library_size: Median UMIs per cell over the whole transcriptome (default: the preset's).
        output: When given, also write the AnnData there (``.h5ad``, atomically).
        progress: Show a progress bar on stderr.

    Returns:
        The AnnData: X CSR float32 log1p(1e4-normalised counts); ``obs['condition']``, ``obs['cell_type']``,
        ``obs['n_counts']``; truth in ``uns['biodsnn_truth']`` (see module docstring).

    Example:
        >>> ad = simulate(preset="tiny", seed=0, progress=False)
        >>> ad.n_vars, "ctrl" in set(ad.obs["condition"]), "biodsnn_truth" in ad.uns
        (120, True, True)
    """
    import anndata

    blocks: list[sp.csr_matrix] = []
    overrides = {"n_genes": n_genes, "n_singles": n_singles, "n_doubles": n_doubles, "n_triples": n_triples,
                 "cells_per_condition": cells_per_condition, "n_control": n_control, "mode": mode,
                 "n_contexts": n_contexts, "library_size": library_size}
    obs, var, uns = _run(blocks.append, preset, seed=seed, p_pathway=p_pathway, progress=progress, overrides=overrides)
    x = sp.vstack(blocks, format="csr", dtype=np.float32)
    del blocks
    adata = anndata.AnnData(X=x, obs=obs, var=var, uns=uns)
    if output is not None:
        write_h5ad(adata, output)
    return adata


def write_simulation(output: str | os.PathLike[str], preset: Preset = "small", *, seed: int = 0,
                     p_pathway: float = 0.8, progress: bool = True, **overrides: Any) -> Path:
    """Simulate straight into an ``.h5ad`` file, a block of cells at a time: X is never held whole, so screens of
    millions of cells fit in memory. The file is the one :func:`simulate` writes with the same arguments (same seed,
    same numbers); it is written atomically.

    Args:
        output: The ``.h5ad`` file to write.
        preset, seed, p_pathway, progress: As :func:`simulate`.
        **overrides: :func:`simulate`'s preset overrides (``n_genes``, ``cells_per_condition``, ``n_control``, …).

    Example:
        >>> import tempfile, pathlib, anndata
        >>> p = write_simulation(pathlib.Path(tempfile.mkdtemp()) / "t.h5ad", "tiny", progress=False)
        >>> anndata.read_h5ad(p).n_vars
        120
    """
    import h5py
    from anndata.io import sparse_dataset, write_elem

    from reactomenet.io import atomic_output

    target = Path(output)
    with atomic_output(target, suffix=".h5ad") as tmp, h5py.File(tmp, "w") as f:
        def emit(block: sp.csr_matrix) -> None:
            if "X" in f:
                sparse_dataset(f["X"]).append(block)
            else:  # anndata writes CSR resizable, so later blocks append
                write_elem(f, "X", block)

        obs, var, uns = _run(emit, preset, seed=seed, p_pathway=p_pathway, progress=progress, overrides=overrides)
        for key, value in (("obs", obs), ("var", var), ("uns", uns)):
            write_elem(f, key, value)
        for key in ("obsm", "varm", "obsp", "varp", "layers"):
            write_elem(f, key, {})
        f.attrs["encoding-type"], f.attrs["encoding-version"] = "anndata", "0.1.0"
    return target


def _run(
    emit: Callable[[sp.csr_matrix], None],
    preset: Preset,
    *,
    seed: int,
    p_pathway: float,
    progress: bool,
    overrides: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The simulation (see :func:`simulate`; ``overrides``: its preset overrides, None = the preset's): hands the
    cells to ``emit`` in blocks of rows, in order, and returns obs, var and uns."""
    from reactomenet.console import progress_bar

    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    unknown = sorted(set(overrides) - set(_OVERRIDES))
    if unknown:
        raise TypeError(f"unexpected simulation option(s) {', '.join(unknown)}; known: {', '.join(_OVERRIDES)}")
    cfg = dict(PRESETS[preset])
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    if cfg["mode"] not in ("activation", "interference", "mixed"):
        raise InputError(f"mode must be activation, interference or mixed, got {cfg['mode']!r}")
    if cfg["cells_per_condition"] < 2 or cfg["n_control"] < 2:
        raise InputError("cells_per_condition and n_control must be at least 2")
    if cfg["n_doubles"] < 0 or cfg["n_triples"] < 0:
        raise InputError("n_doubles and n_triples must not be negative")
    if not 1 <= int(cfg["n_contexts"]) <= 26:
        raise InputError(f"n_contexts must lie between 1 and 26, got {cfg['n_contexts']}")
    rng = np.random.default_rng(seed)
    net = _build_network(int(cfg["n_genes"]), rng, p_pathway)
    g_count = len(net.genes)
    net.theta = _theta_levels()[rng.integers(0, _THETA_LEVELS, g_count)]
    perts = _choose_conditions(net, int(cfg["n_singles"]), int(cfg["n_doubles"]), int(cfg["n_triples"]), rng)
    pert_genes = sorted({g for c in perts for g in c})
    direction = {
        "activation": np.ones(len(pert_genes)),
        "interference": -np.ones(len(pert_genes)),
        "mixed": np.where(rng.random(len(pert_genes)) < 0.5, 1.0, -1.0),
    }[cfg["mode"]]
    strength = np.where(direction > 0, rng.uniform(1.5, 3.0, len(pert_genes)), rng.uniform(1.2, 2.5, len(pert_genes)))
    # CRISPRa drives its target to a level of its own, whatever the gene's baseline: at least the 99th percentile
    # of baseline expression (× U(0.5, 2)); real CRISPRa targets are often silent before (Norman et al. 2019)
    floor = np.quantile(net.base_log_p, 0.99) + np.log(rng.uniform(0.5, 2.0, len(pert_genes)))
    strength = np.where(direction > 0, np.maximum(strength, floor - net.base_log_p[pert_genes]), strength)
    clamp_value = {g: float(d * s) for g, d, s in zip(pert_genes, direction, strength, strict=True)}
    programs = _build_programs(net, rng, _PROGRAM_SHARE)
    tau = programs.tau

    # genetic interactions beyond the network's saturation and AND terms (calibrated against Norman's fits, whose
    # c1 + c2 has median 1.64 and quartiles 1.19 and 2.12): in a combination each perturbed gene passes on only a
    # factor ω of its activity, ω = β · d with a per-combination buffering β ~ log-normal(median 0.8, σ 0.6) and,
    # in 35 % of combinations, one gene dominated (d ~ U(0.15, 0.6), epistasis); 20 % of combinations also switch
    # on a regulator that neither single touches (neomorphic).
    reach: list[dict[int, float]] = [{}]
    for c in perts:
        beta = float(np.exp(np.log(_BUFFER_MEDIAN) + _BUFFER_SIGMA * rng.standard_normal()))
        factors = dict.fromkeys(c, beta)
        if len(c) > 1 and rng.random() < _DOMINATED_SHARE:
            factors[int(c[rng.integers(len(c))])] *= float(rng.uniform(*_DOMINATED_RANGE))
        reach.append(factors if len(c) > 1 else {})
    neo = {}
    for i, c in enumerate(perts):
        if len(c) > 1 and rng.random() < _NEOMORPHIC_SHARE:
            others = np.setdiff1d(net.regulators, np.asarray(c))
            gene = int(rng.choice(others))
            neo[i + 1] = (gene, float((1.0 if rng.random() < 0.5 else -1.0) * rng.uniform(0.8, 1.5)))

    n_ctx = int(cfg["n_contexts"])
    contexts = ["simulated"] if n_ctx == 1 else [f"line{chr(ord('A') + i)}" for i in range(n_ctx)]
    cond_names = [CONTROL] + [format_condition(net.genes[g] for g in c) for c in perts]
    clamps = [{}] + [{g: clamp_value[g] for g in c} for c in perts]
    for i, (gene, value) in neo.items():
        clamps[i][gene] = value
    share = float(cfg["measured_share"])
    rest = (1.0 - share) / share
    q_rows, ctx_of_row = [], []
    for c in range(n_ctx):
        # cell lines: own baseline (correlated _CONTEXT_R with the first line's) and own edge weights
        base_log = net.base_log_p
        if c:
            base_log = _CONTEXT_R * base_log + np.sqrt(1 - _CONTEXT_R**2) * rng.normal(0.0, _BASE_SD, g_count)
        line_net = net if c == 0 else _line_network(net, rng)
        states = line_net.states(clamps, reach)
        base = np.exp(base_log - base_log.max())
        base /= base.sum()
        weighted = base[None, :] * np.exp(states)
        q_rows.append(weighted / (weighted.sum(axis=1, keepdims=True) + rest))  # expected share of all UMIs
        ctx_of_row += [c] * len(cond_names)
    q = np.concatenate(q_rows)
    q_rest = 1.0 - q.sum(axis=1)
    row_names = cond_names * n_ctx
    median_lib = float(cfg["library_size"]) if cfg["library_size"] else 2.5 * g_count
    lib_sigma = float(cfg["library_sigma"])
    truth = _expected_log1p(
        np.log(q).ravel(), np.tile(net.theta, len(q)), np.tile(tau, len(q)), median_lib, lib_sigma
    ).reshape(q.shape).astype(np.float32)

    n_cells = np.maximum(
        2, np.round(cfg["cells_per_condition"] * rng.lognormal(0.0, 0.25, len(q))).astype(np.int64)
    )
    n_cells[:: len(cond_names)] = int(cfg["n_control"])
    labels = np.repeat(np.arange(len(q)), n_cells)
    labels = labels[rng.permutation(len(labels))]
    lib = median_lib * np.exp(lib_sigma * rng.standard_normal(len(labels)))

    totals = np.zeros(len(labels))
    with progress_bar(transient=True) as bar:
        task = bar.add_task("simulating cells", total=len(labels), info=f"{len(q)} conditions", visible=progress)
        for start in range(0, len(labels), _CHUNK):
            lab = labels[start : start + _CHUNK]
            mu = lib[start : start + _CHUNK, None] * q[lab]
            genes_p, mult = programs.multiplier(rng, len(lab))
            mu[:, genes_p] *= mult
            theta = net.theta[None, :]
            counts = rng.negative_binomial(theta, theta / (theta + mu)).astype(np.float32)
            block = sp.csr_matrix(counts)
            del counts, mu
            unmeasured = rng.poisson(lib[start : start + _CHUNK] * q_rest[lab])
            tot = np.asarray(block.sum(axis=1)).ravel() + unmeasured
            totals[start : start + len(lab)] = tot
            scale = np.divide(TARGET_SUM, tot, out=np.zeros_like(tot), where=tot > 0)
            block.data *= np.repeat(scale, np.diff(block.indptr)).astype(np.float32)
            np.log1p(block.data, out=block.data)
            emit(block)
            bar.advance(task, len(lab))

    row_ctx = np.asarray(ctx_of_row)
    obs = pd.DataFrame(
        {
            "condition": pd.Categorical([row_names[i] for i in labels]),
            "cell_type": pd.Categorical([contexts[row_ctx[i]] for i in labels], categories=contexts),
            "n_counts": totals.astype(np.float32),  # all UMIs of the cell, measured or not
            "control": np.isin(labels, np.arange(0, len(q), len(cond_names))).astype(np.int8),
        },
        index=[f"cell{i}" for i in range(len(labels))],
    )
    var = pd.DataFrame({"gene_name": net.genes}, index=pd.Index(net.genes, dtype=str))
    w = net.w.tocoo()
    truth_uns: dict[str, Any] = {
        "conditions": np.array(row_names, dtype=str),
        "means": truth,
        "kind": "E[log1p(1e4 * counts / cell total)]: the expectation of the observed log-normalised expression",
    }
    if n_ctx > 1:
        truth_uns["cell_type"] = np.array([contexts[c] for c in ctx_of_row], dtype=str)
    uns = {
        TRUTH_KEY: truth_uns,
        SIM_KEY: {
            "preset": preset,
            "seed": int(seed),
            "config": {k: (v if isinstance(v, str | int) else float(v)) for k, v in cfg.items() if v is not None},
            "p_pathway": float(p_pathway),
            "median_library_size": median_lib,
            "perturbed_genes": np.array([net.genes[g] for g in pert_genes], dtype=str),
            "perturbation_log_fold_change": np.array([clamp_value[g] for g in pert_genes]),
            "edge_regulator": np.array([net.genes[i] for i in w.row], dtype=str),
            "edge_target": np.array([net.genes[i] for i in w.col], dtype=str),
            "edge_weight": w.data.astype(np.float64),
            "and_target": np.array([net.genes[i] for i in net.and_target], dtype=str),
            "and_regulator1": np.array([net.genes[i] for i in net.and_r1], dtype=str),
            "and_regulator2": np.array([net.genes[i] for i in net.and_r2], dtype=str),
            "and_weight": net.and_w,
            "regulators": np.array([net.genes[i] for i in net.regulators], dtype=str),
            "pathways": np.array(net.pathways, dtype=str),
            "program_of_gene": programs.member,
            "program_loading": programs.loading,
            "broad_program_of_gene": programs.broad,
            "nb_theta": net.theta,
        },
    }
    return obs, var, uns


def _line_network(net: _Network, rng: np.random.Generator) -> _Network:
    """The shared network as one cell line runs it: each edge's weight scaled by exp(N(0, 0.3)), 15 % switched off."""
    from dataclasses import replace

    w = net.w.tocsc(copy=True)
    w.data = w.data * np.exp(rng.normal(0.0, 0.3, w.nnz)) * (rng.random(w.nnz) >= 0.15)
    return replace(net, w=w)


def write_h5ad(adata: anndata.AnnData, path: str | os.PathLike[str]) -> Path:
    """Write an AnnData atomically (no partial file on failure).

    Example:
        >>> import tempfile, pathlib
        >>> p = write_h5ad(simulate(preset="tiny", progress=False), pathlib.Path(tempfile.mkdtemp()) / "t.h5ad")
        >>> p.exists()
        True
    """
    from reactomenet.io import atomic_output

    target = Path(path)
    with atomic_output(target, suffix=".h5ad") as tmp:
        adata.write_h5ad(tmp)
    return target
