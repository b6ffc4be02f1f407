"""The co-expression graph (G_gene): Pearson correlation between measured genes over training cells only.

The correlation matrix is accumulated from row chunks of the (sparse or dense) expression matrix: each chunk is
densified, centred by the column means and multiplied by its own transpose (BLAS), so the whole cells × genes matrix
is never dense in memory; memory is ``O(genes² + chunk × genes)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from kg_build._topk import Graph, topk_per_row
from kg_build.protocols import PerturbationData, TrainingSplit
from reactomenet.console import progress_bar
from reactomenet.errors import InputError


def training_cells(data: PerturbationData, split: TrainingSplit) -> np.ndarray:
    """Row indices of the cells the knowledge may see: control cells plus cells of the split's training conditions.

    Validation and test cells are never included. ``data`` is a ``biodsnn.data.PerturbData`` (``control_cells``,
    ``cells_of``), ``split`` a ``biodsnn.data.Split`` (``train``).

    Example:
        >>> class D:  # a two-condition stand-in for PerturbData
        ...     control_cells = np.array([0, 1]); conditions = ["A+ctrl", "B+ctrl"]
        ...     def cells_of(self, c): return {"A+ctrl": np.array([2]), "B+ctrl": np.array([3])}[c]
        >>> class S: train = ["A+ctrl"]
        >>> training_cells(D(), S()).tolist()
        [0, 1, 2]
    """
    known = set(getattr(data, "conditions", []))
    unknown = [c for c in split.train if known and c not in known]
    if unknown:
        raise InputError(
            f"the split's training conditions are not in the data (e.g. {', '.join(unknown[:3])}); "
            "use the split made for this data file"
        )
    parts = [np.asarray(data.control_cells, dtype=np.int64)]
    parts += [np.asarray(data.cells_of(c), dtype=np.int64) for c in split.train]
    rows = np.unique(np.concatenate(parts))  # parts holds at least the control cells
    if rows.size < 3:
        raise InputError(f"only {rows.size} training cells (control + train conditions): need at least 3 for Pearson")
    return rows


def _column_means(X: Any, rows: np.ndarray, chunk_size: int) -> np.ndarray:
    total = np.zeros(X.shape[1], dtype=np.float64)
    for start in range(0, rows.size, chunk_size):
        block = X[rows[start : start + chunk_size]]
        total += np.asarray(block.sum(axis=0), dtype=np.float64).ravel()
    return total / rows.size


def pearson_matrix(
    X: Any,
    rows: np.ndarray | None = None,
    *,
    chunk_size: int = 4096,
    progress: bool = False,
) -> np.ndarray:
    """Gene × gene Pearson correlation over the cells ``rows`` of ``X`` (cells × genes, scipy sparse or dense).

    Streams over row chunks: ``C = Σ_chunks (X_c − μ)ᵀ(X_c − μ)`` in float32 BLAS products accumulated in float64.
    Genes with zero variance over these cells get correlation 0 with every gene (and 1 with themselves).

    Example:
        >>> X = sp.csr_matrix(np.array([[1.0, 2.0, 0.0], [2.0, 4.1, 1.0], [3.0, 6.0, 0.0], [4.0, 7.9, 1.0]]))
        >>> np.allclose(pearson_matrix(X, chunk_size=3), np.corrcoef(X.toarray(), rowvar=False))
        True
    """
    if sp.issparse(X):
        X = X.tocsr()
    n_rows, n_genes = X.shape
    rows = np.arange(n_rows, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    if rows.size < 2:
        raise InputError(f"Pearson correlation needs at least 2 cells; got {rows.size}")
    mean = _column_means(X, rows, chunk_size)
    mean32 = mean.astype(np.float32)
    cov = np.zeros((n_genes, n_genes), dtype=np.float64)
    starts = range(0, rows.size, chunk_size)
    with progress_bar(enabled=progress) as bar:
        task = bar.add_task("co-expression", total=len(starts), info="")
        for start in starts:
            block = X[rows[start : start + chunk_size]]
            dense = block.toarray() if sp.issparse(block) else np.asarray(block)
            dense = dense.astype(np.float32, copy=False) - mean32
            cov += dense.T @ dense
            bar.advance(task)
    # the chunk products used float32 means; correct for the rounding of the mean (exact in float64 algebra)
    delta = mean32.astype(np.float64) - mean  # Σ (x − m32) = n (μ − m32) = −n·delta
    cov -= rows.size * np.outer(delta, delta)
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    tiny = sd <= 1e-12 * max(1.0, float(sd.max(initial=0.0)))
    sd[tiny] = 1.0
    corr = cov / sd[:, None] / sd[None, :]
    corr[tiny, :] = 0.0
    corr[:, tiny] = 0.0
    np.clip(corr, -1.0, 1.0, out=corr)
    np.fill_diagonal(corr, 1.0)
    return corr


def correlation_topk(
    corr: np.ndarray,
    *,
    top_k: int = 20,
    threshold: float = 0.4,
    rows: Sequence[int] | np.ndarray | None = None,
    block_size: int = 1024,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each gene (or only ``rows``): its ``top_k`` partners by ``|r|`` with ``|r| > threshold``, never itself.

    Returns ``(gene, partner, r)`` with the signed correlation, ordered by gene, descending ``|r|``, partner index.

    Example:
        >>> c = np.array([[1.0, -0.9, 0.5], [-0.9, 1.0, 0.1], [0.5, 0.1, 1.0]])
        >>> g, p, r = correlation_topk(c, top_k=1, threshold=0.4)
        >>> g.tolist(), p.tolist(), r.tolist()
        ([0, 1, 2], [1, 0, 0], [-0.9, -0.9, 0.5])
    """
    n = corr.shape[0]
    which = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    out_g, out_p = [], []
    for start in range(0, which.size, block_size):
        idx = which[start : start + block_size]
        scores = np.abs(corr[idx])
        scores[np.arange(idx.size), idx] = -np.inf
        r, c, _ = topk_per_row(scores, top_k, threshold, exclude_self=False)
        out_g.append(idx[r])
        out_p.append(c)
    if not out_g:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, corr.dtype)
    g, p = np.concatenate(out_g), np.concatenate(out_p)
    return g, p, corr[g, p]


def coexpression_graph(
    corr: np.ndarray,
    genes: Sequence[str],
    *,
    top_k: int = 20,
    threshold: float = 0.4,
) -> Graph:
    """G_gene from a correlation matrix: edge ``partner → gene`` for each gene's top-k ``|r| > threshold``.

    The edge weight is ``|r|`` (as in GEARS); the signed value is kept in ``Graph.pearson``.

    Example:
        >>> c = np.array([[1.0, -0.9, 0.5], [-0.9, 1.0, 0.1], [0.5, 0.1, 1.0]])
        >>> g = coexpression_graph(c, ["A", "B", "C"], top_k=1)
        >>> g.edge_index.tolist(), g.weight.astype(float).round(3).tolist(), g.pearson.astype(float).round(3).tolist()
        ([[1, 0, 0], [0, 1, 2]], [0.9, 0.9, 0.5], [-0.9, -0.9, 0.5])
    """
    if corr.shape != (len(genes), len(genes)):
        raise InputError(f"correlation matrix is {corr.shape} but there are {len(genes)} genes")
    g, p, r = correlation_topk(corr, top_k=top_k, threshold=threshold)
    return Graph(list(genes), p, g, np.abs(r).astype(np.float32), pearson=r.astype(np.float32))
