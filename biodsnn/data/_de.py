"""Differentially expressed genes per condition against control (scanpy's rank_genes_groups, vectorised)."""

from __future__ import annotations

import hashlib
import os
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from biodsnn.data._backed import block_rows, is_backed
from biodsnn.data._loading import PerturbData
from reactomenet.errors import InputError, NotFoundError
from reactomenet.io import read_parquet_metadata, write_parquet

Method = Literal["t-test", "wilcoxon"]

#: Rankings already computed, per dataset (held as long as the dataset lives): (method, n_top, conditions) → DEGenes.
_MEMORY: weakref.WeakKeyDictionary[PerturbData, dict[tuple[object, ...], DEGenes]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class DEGenes:
    """Top differentially expressed genes of each condition against control.

    Attributes:
        genes: The measured genes (column order of the data).
        top: condition → int64 gene indices, ranked by absolute score (``n_top`` of them).
        top_non_dropout: The same, skipping genes that drop out (GEARS: zero in the condition but not in control).
        method: ``t-test`` (Welch, as scanpy's ``t-test``) or ``wilcoxon``.
        n_top: How many genes were kept per condition.
        fingerprint: The data fingerprint they were computed from.
    """

    genes: list[str]
    top: dict[str, np.ndarray]
    top_non_dropout: dict[str, np.ndarray]
    method: str
    n_top: int
    fingerprint: str

    def names(self, condition: str, *, non_dropout: bool = False) -> list[str]:
        """Gene symbols of a condition's top DE genes.

        Example:
            >>> from biodsnn.data import simulate, load_perturb_data
            >>> data = load_perturb_data(simulate(preset="tiny", seed=0, progress=False))
            >>> len(rank_de_genes(data).names(data.conditions[0]))
            20
        """
        table = self.top_non_dropout if non_dropout else self.top
        if condition not in table:
            raise NotFoundError(f"no DE genes for condition {condition!r}; compute them for the data it belongs to")
        return [self.genes[i] for i in table[condition]]

    def to_frame(self) -> pd.DataFrame:
        """A long table: condition, kind (``top`` | ``non_dropout``), rank, gene_index, gene."""
        rows = []
        for kind, table in (("top", self.top), ("non_dropout", self.top_non_dropout)):
            for cond, idx in table.items():
                for rank, i in enumerate(idx):
                    rows.append((cond, kind, rank, int(i), self.genes[i]))
        return pd.DataFrame(rows, columns=["condition", "kind", "rank", "gene_index", "gene"])

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write as Parquet (atomically) with method, n_top, fingerprint and genes in the metadata."""
        meta = {"method": self.method, "n_top": self.n_top, "fingerprint": self.fingerprint, "genes": self.genes}
        return write_parquet(self.to_frame(), path, meta)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DEGenes:
        """Read DE genes written by :meth:`save`."""
        p = Path(path)
        if not p.exists():
            raise NotFoundError(f"DE file {p} does not exist; compute it with `biodsnn data de -o {p}`")
        meta = read_parquet_metadata(p)
        if "fingerprint" not in meta:
            raise InputError(f"{p} is not a biodsnn DE file; compute it with `biodsnn data de`")
        frame = pd.read_parquet(p)
        tables: dict[str, dict[str, np.ndarray]] = {"top": {}, "non_dropout": {}}
        for (kind, cond), sub in frame.sort_values("rank").groupby(["kind", "condition"], sort=False):
            tables[str(kind)][str(cond)] = sub["gene_index"].to_numpy(np.int64)
        return cls(
            list(meta["genes"]),
            tables["top"],
            tables["non_dropout"],
            meta["method"],
            int(meta["n_top"]),
            meta["fingerprint"],
        )


def _group_stats(x: sp.csr_matrix | np.ndarray, groups: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Per-group n, mean and unbiased variance (float64).

    Sparse X: one pass over its non-zeros in row chunks, summing values and squares into (group, gene) bins with
    ``np.bincount`` (a cell belongs to at most one group), so nothing the size of X is allocated.
    """
    n_obs, n_genes = x.shape
    k = len(groups)
    n = np.array([len(g) for g in groups], dtype=np.float64)[:, None]
    label = np.full(n_obs, k, dtype=np.int64)  # k: in no group
    for i, g in enumerate(groups):
        label[g] = i
    if sp.issparse(x) or is_backed(x):
        s1 = np.zeros((k + 1) * n_genes)
        s2 = np.zeros((k + 1) * n_genes)
        step = max(1, 20_000_000 // max(n_genes, 1))
        if is_backed(x):
            step = min(step, block_rows())
        for start in range(0, n_obs, step):
            stop = min(start + step, n_obs)
            block = x[start:stop]  # CSR rows (backed: read from the file)
            rows = np.repeat(label[start:stop], np.diff(block.indptr))
            key = rows * n_genes + block.indices
            vals = block.data.astype(np.float64)
            s1 += np.bincount(key, weights=vals, minlength=s1.size)
            s2 += np.bincount(key, weights=vals * vals, minlength=s2.size)
        s1 = s1.reshape(k + 1, n_genes)[:k]
        s2 = s2.reshape(k + 1, n_genes)[:k]
    else:
        xd = np.asarray(x, dtype=np.float64)
        s1 = np.stack([xd[g].sum(axis=0) for g in groups])
        s2 = np.stack([(xd[g] ** 2).sum(axis=0) for g in groups])
    mean = s1 / n
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (s2 - n * mean**2) / (n - 1)
    var = np.maximum(var, 0.0)
    return n, mean, var


def _welch(data: PerturbData, conditions: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Welch t scores (n_cond, G), the conditions' means and each condition's own control mean (its context's)."""
    contexts = [data.context_of(c) for c in conditions]
    order = list(dict.fromkeys(contexts))
    controls = [data.control_cells_of(ctx) for ctx in order]
    groups = controls + [data.cells_of(c) for c in conditions]
    n, mean, var = _group_stats(data.X, groups)
    k = len(order)
    ref = np.array([order.index(ctx) for ctx in contexts], dtype=np.int64)  # each condition's control group
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = np.sqrt(var[k:] / n[k:] + var[ref] / n[ref])
        scores = (mean[k:] - mean[ref]) / denom
    scores[~np.isfinite(scores)] = 0.0
    return scores, mean[k:], mean[ref]


def welch_t_scores(data: PerturbData, conditions: Sequence[str]) -> np.ndarray:
    """Welch t statistic of each condition against control, per gene (scanpy's ``t-test``; NaN → 0).

    Example:
        >>> from biodsnn.data import simulate, load_perturb_data
        >>> data = load_perturb_data(simulate(preset="tiny", seed=0, progress=False))
        >>> welch_t_scores(data, data.conditions[:2]).shape == (2, len(data.genes))
        True
    """
    return _welch(data, conditions)[0]


def _wilcoxon_scores(data: PerturbData, conditions: Sequence[str]) -> np.ndarray:
    import scanpy as sc

    out = np.zeros((len(conditions), len(data.genes)))
    gene_pos = data.gene_index
    for i, cond in enumerate(conditions):
        ctrl = data.control_cells_of(data.context_of(cond))  # the unit's own control
        rows = np.concatenate([ctrl, data.cells_of(cond)])
        sub = data.subset_adata(rows)
        sub.obs["_group"] = pd.Categorical(["ctrl"] * len(ctrl) + ["pert"] * (len(rows) - len(ctrl)))
        sc.tl.rank_genes_groups(
            sub, "_group", groups=["pert"], reference="ctrl", method="wilcoxon", n_genes=sub.n_vars, use_raw=False
        )
        res = sub.uns["rank_genes_groups"]
        names = [str(g) for g in res["names"]["pert"]]
        out[i, [gene_pos[g] for g in names]] = np.nan_to_num(np.asarray(res["scores"]["pert"], dtype=np.float64))
    return out


def rank_de_genes(
    data: PerturbData,
    n_top: int = 20,
    *,
    method: Method = "t-test",
    conditions: Sequence[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> DEGenes:
    """Rank genes of each condition against its own control by absolute score and keep the top ``n_top``.

    With several contexts a unit ``CONTEXT|A`` is ranked against that context's control cells.

    ``t-test`` is computed here, vectorised over sparse X (Welch's t, as scanpy's ``rank_genes_groups(method=
    "t-test")``); ``wilcoxon`` uses scanpy per condition (slower). The non-dropout variant follows GEARS: genes whose
    mean is zero in the condition but not in control are skipped. Results are cached in memory on ``data`` and, with
    ``cache_dir``, as Parquet keyed by the data fingerprint.

    Args:
        data: The dataset.
        n_top: Genes kept per condition (capped at the number of genes).
        method: ``t-test`` or ``wilcoxon``.
        conditions: Conditions to rank (default: all).
        cache_dir: Folder for the Parquet cache.

    Example:
        >>> from biodsnn.data import simulate, load_perturb_data
        >>> data = load_perturb_data(simulate(preset="tiny", seed=0, progress=False))
        >>> de = rank_de_genes(data, n_top=20)
        >>> de.top[data.conditions[0]].shape
        (20,)
    """
    if method not in ("t-test", "wilcoxon"):
        raise InputError(f"unknown DE method {method!r}; choose t-test or wilcoxon")
    if n_top < 1:
        raise InputError(f"n_top must be at least 1, got {n_top}")
    n_top = min(n_top, len(data.genes))
    conds = list(data.conditions if conditions is None else conditions)
    for c in conds:
        data.cells_of(c)  # NotFoundError for unknown names
    key = (method, n_top, tuple(conds))
    memory = _MEMORY.setdefault(data, {})
    if key in memory:
        return memory[key]
    cache_path = None
    if cache_dir is not None:
        digest = hashlib.sha256("\n".join(conds).encode()).hexdigest()[:12]
        tag = "all" if conditions is None else f"n{len(conds)}-{digest}"
        cache_path = Path(cache_dir) / f"de-{data.fingerprint[:16]}-{method}-top{n_top}-{tag}.parquet"
        if cache_path.exists():
            cached = DEGenes.load(cache_path)
            if cached.fingerprint == data.fingerprint and set(cached.top) == set(conds):
                memory[key] = cached
                return cached
    if method == "t-test":
        scores, cond_means, ctrl_means = _welch(data, conds)
    else:
        scores = _wilcoxon_scores(data, conds)
        cond_means, ctrl_means = data.condition_means(conds), data.control_means(conds)
    ctrl_zero_all = ctrl_means == 0
    order = np.argsort(-np.abs(scores), axis=1, kind="stable")
    top, non_dropout = {}, {}
    for i, cond in enumerate(conds):
        top[cond] = order[i, :n_top].astype(np.int64)
        pert_zero = cond_means[i] == 0
        keep = ~pert_zero | ctrl_zero_all[i]  # non-zero in the condition, or a true zero (zero in control too)
        ranked = order[i][keep[order[i]]]
        non_dropout[cond] = ranked[:n_top].astype(np.int64)
    result = DEGenes(list(data.genes), top, non_dropout, method, n_top, data.fingerprint)
    if cache_path is not None:
        result.save(cache_path)
    memory[key] = result
    return result
