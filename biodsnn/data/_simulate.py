"""A Perturb-seq simulator with a known regulatory network tied to Reactome pathways.

Model (documented in docs/data.md):

* Genes are real human symbols from the bundled Reactome release that also carry a GO annotation, picked mostly
  whole pathway by pathway, so that genes share pathways as real measured panels do.
* A hidden regulatory DAG: about 12 % of genes are regulators; each gene gets 0–4 regulators, chosen with
  probability ``p_pathway`` (0.8) among regulators sharing one of its pathways, else anywhere. Some genes also have an
  AND-like term on the product of two regulators' activities.
* State ``s`` (log fold change from control, natural log). A CRISPRa/CRISPRi perturbation clamps the perturbed gene
  at ``+a`` / ``-b``; every other gene, in topological order, takes
  ``s_g = c_g · tanh((Σ_r W_rg · tanh(s_r) + V_g · tanh(s_r1) · tanh(s_r2)) / c_g)``.
  Saturation (``tanh``), the products and the clamping make doubles non-additive: buffering/suppression,
  synergy, and epistasis (a clamped gene hides the effect of its upstream partner).
* Expected shares of a cell's UMIs ``q_g = p_g · exp(s_g) / (Σ p · exp(s) + R)``, where the unmeasured rest of the
  transcriptome ``R`` holds half the UMIs at baseline; counts ~ NegativeBinomial(mean = L · q, dispersion θ_g) with
  per-cell library size ``L`` log-normal; each cell is normalised by its total UMIs (measured + unmeasured, as when
  normalising before gene selection) to 1e4 and ``log1p``-transformed (stored in X, CSR float32).
* Truth: ``uns["biodsnn_truth"]`` = {"conditions": names (incl. ``ctrl``), "means": float32 (n, genes) =
  ``log1p(1e4 · q)``, the noise-free log-normalised expression}; the network and perturbation strengths are in
  ``uns["biodsnn_simulation"]``.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from biodsnn.data._loading import TARGET_SUM, TRUTH_KEY
from biodsnn.data.conditions import CONTROL, format_condition
from reactomenet.errors import InputError

if TYPE_CHECKING:
    import anndata

SIM_KEY = "biodsnn_simulation"
Preset = Literal["tiny", "small", "norman"]

#: Sizes of each preset (Norman et al. 2019 as distributed by GEARS: ~91 k cells, ~5 k genes, 105 singles, 131 doubles).
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "n_genes": 120,
        "n_singles": 12,
        "n_doubles": 10,
        "n_triples": 0,
        "cells_per_condition": 12,
        "n_control": 60,
        "mode": "mixed",
    },
    "small": {
        "n_genes": 500,
        "n_singles": 30,
        "n_doubles": 30,
        "n_triples": 0,
        "cells_per_condition": 40,
        "n_control": 300,
        "mode": "mixed",
    },
    "norman": {
        "n_genes": 5000,
        "n_singles": 105,
        "n_doubles": 131,
        "n_triples": 0,
        "cells_per_condition": 340,
        "n_control": 11000,
        "mode": "activation",
    },
}
_GO_FILE = "orgHsEgDb_3.16.0_gene2go_direct.tsv.gz"
_CHUNK = 2048
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

    def states(self, clamps: list[dict[int, float]]) -> np.ndarray:
        """Log fold changes (n_cond, G) for each clamp set {gene index: value}."""
        n, g = len(clamps), len(self.genes)
        s = np.zeros((n, g))
        rows = np.concatenate([np.full(len(c), i) for i, c in enumerate(clamps)]).astype(np.int64)
        cols = np.concatenate([np.fromiter(c.keys(), dtype=np.int64, count=len(c)) for c in clamps])
        vals = np.concatenate([np.fromiter(c.values(), dtype=np.float64, count=len(c)) for c in clamps])
        s[rows, cols] = vals
        and_pos = {int(t): i for i, t in enumerate(self.and_target)}
        for layer in self.layers[1:]:
            act = np.tanh(s)
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
        base_log_p=rng.normal(0.0, 1.6, g_count),
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
    p_pathway: float = 0.8,
    library_size: float | None = None,
    output: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> anndata.AnnData:
    """Simulate a Perturb-seq experiment with a known regulatory network (GEARS convention, log-normalised X).

    Args:
        preset: ``tiny`` (~300 cells × 120 genes), ``small`` (~3 k × 500) or ``norman`` (~91 k × 5 k).
        seed: Seed of every random step (same seed, same file).
        n_genes: Measured genes (real human symbols from Reactome ∩ GO).
        n_singles: Single-gene perturbations.
        n_doubles: Two-gene perturbations (pairs of the single genes).
        n_triples: Three-gene perturbations.
        cells_per_condition: Mean cells per perturbation (varies ±25 % log-normally).
        n_control: Control cells.
        mode: ``activation`` (CRISPRa), ``interference`` (CRISPRi) or ``mixed`` (per gene at random).
        p_pathway: Probability that a regulator is drawn from the target's own pathways.
        library_size: Median UMIs per cell over the whole transcriptome (default 2.5 × n_genes); the measured genes
            hold half of them at baseline.
        output: When given, also write the AnnData there (``.h5ad``, atomically).
        progress: Show a progress bar on stderr.

    Returns:
        The AnnData: X CSR float32 log1p(1e4-normalised counts); ``obs['condition']``, ``obs['n_counts']``;
        truth in ``uns['biodsnn_truth']`` (see module docstring).

    Example:
        >>> ad = simulate(preset="tiny", seed=0, progress=False)
        >>> ad.n_vars, "ctrl" in set(ad.obs["condition"]), "biodsnn_truth" in ad.uns
        (120, True, True)
    """
    import anndata

    from reactomenet.console import progress_bar

    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    cfg = dict(PRESETS[preset])
    overrides = {
        "n_genes": n_genes,
        "n_singles": n_singles,
        "n_doubles": n_doubles,
        "n_triples": n_triples,
        "cells_per_condition": cells_per_condition,
        "n_control": n_control,
        "mode": mode,
    }
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    if cfg["mode"] not in ("activation", "interference", "mixed"):
        raise InputError(f"mode must be activation, interference or mixed, got {cfg['mode']!r}")
    if cfg["cells_per_condition"] < 2 or cfg["n_control"] < 2:
        raise InputError("cells_per_condition and n_control must be at least 2")
    if cfg["n_doubles"] < 0 or cfg["n_triples"] < 0:
        raise InputError("n_doubles and n_triples must not be negative")
    rng = np.random.default_rng(seed)
    net = _build_network(int(cfg["n_genes"]), rng, p_pathway)
    g_count = len(net.genes)
    perts = _choose_conditions(net, int(cfg["n_singles"]), int(cfg["n_doubles"]), int(cfg["n_triples"]), rng)
    pert_genes = sorted({g for c in perts for g in c})
    direction = {
        "activation": np.ones(len(pert_genes)),
        "interference": -np.ones(len(pert_genes)),
        "mixed": np.where(rng.random(len(pert_genes)) < 0.5, 1.0, -1.0),
    }[cfg["mode"]]
    strength = np.where(direction > 0, rng.uniform(1.5, 3.0, len(pert_genes)), rng.uniform(1.2, 2.5, len(pert_genes)))
    clamp_value = {g: float(d * s) for g, d, s in zip(pert_genes, direction, strength, strict=True)}

    names = [CONTROL] + [format_condition(net.genes[g] for g in c) for c in perts]
    states = net.states([{}] + [{g: clamp_value[g] for g in c} for c in perts])
    # measured genes hold MEASURED_SHARE of a cell's UMIs at baseline; the unmeasured rest stays fixed, so activating
    # one gene dilutes the others only as much as it would in a whole transcriptome
    base = np.exp(net.base_log_p - net.base_log_p.max())
    base /= base.sum()
    weighted = base[None, :] * np.exp(states)
    rest = (1.0 - MEASURED_SHARE) / MEASURED_SHARE
    q = weighted / (weighted.sum(axis=1, keepdims=True) + rest)  # expected share of all UMIs, per gene
    q_rest = rest / (weighted.sum(axis=1) + rest)
    truth = np.log1p(TARGET_SUM * q).astype(np.float32)

    n_cells = np.maximum(
        2, np.round(cfg["cells_per_condition"] * rng.lognormal(0.0, 0.25, len(perts))).astype(np.int64)
    )
    counts_per = np.concatenate([[int(cfg["n_control"])], n_cells])
    labels = np.repeat(np.arange(len(names)), counts_per)
    labels = labels[rng.permutation(len(labels))]
    median_lib = float(library_size) if library_size else 2.5 * g_count
    lib = rng.lognormal(np.log(median_lib), 0.35, len(labels))

    blocks: list[sp.csr_matrix] = []
    totals = np.zeros(len(labels))
    starts = range(0, len(labels), _CHUNK)
    with progress_bar(transient=True) as bar:
        task = bar.add_task("simulating cells", total=len(labels), info=f"{len(names)} conditions", visible=progress)
        for start in starts:
            lab = labels[start : start + _CHUNK]
            mu = lib[start : start + _CHUNK, None] * q[lab]
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
            blocks.append(block)
            bar.advance(task, len(lab))
    x = sp.vstack(blocks, format="csr", dtype=np.float32)
    del blocks

    obs = pd.DataFrame(
        {
            "condition": pd.Categorical([names[i] for i in labels]),
            "cell_type": pd.Categorical(["simulated"] * len(labels)),
            "n_counts": totals.astype(np.float32),  # all UMIs of the cell, measured or not
            "control": (labels == 0).astype(np.int8),
        },
        index=[f"cell{i}" for i in range(len(labels))],
    )
    var = pd.DataFrame({"gene_name": net.genes}, index=pd.Index(net.genes, dtype=str))
    w = net.w.tocoo()
    uns = {
        TRUTH_KEY: {
            "conditions": np.array(names, dtype=str),
            "means": truth,
            "kind": "log1p(1e4 * expected proportion): noise-free log-normalised expression",
        },
        SIM_KEY: {
            "preset": preset,
            "seed": int(seed),
            "config": {k: (v if isinstance(v, str) else int(v)) for k, v in cfg.items()},
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
        },
    }
    adata = anndata.AnnData(X=x, obs=obs, var=var, uns=uns)
    if output is not None:
        write_h5ad(adata, output)
    return adata


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
