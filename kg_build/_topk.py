"""Deterministic top-k selection over dense blocks of a similarity matrix, and the edge-list type."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Graph:
    """A weighted directed graph over an ordered gene list, as an edge list.

    Edge ``(source[e], target[e])`` means: ``source`` is one of the top-k neighbours of ``target``, so in
    torch-geometric (messages flow ``edge_index[0] -> edge_index[1]``) every gene aggregates from its own top-k list.

    Example:
        >>> g = Graph(["A", "B"], np.array([1]), np.array([0]), np.array([0.5], dtype=np.float32))
        >>> g.edge_index.tolist(), g.n_edges
        ([[1], [0]], 1)
    """

    genes: list[str]
    source: np.ndarray
    target: np.ndarray
    weight: np.ndarray
    pearson: np.ndarray | None = None  # signed correlation, for the co-expression graph

    @property
    def n_edges(self) -> int:
        """Number of edges."""
        return int(self.source.shape[0])

    @property
    def edge_index(self) -> np.ndarray:
        """``np.int64 [2, E]``: row 0 the neighbour (source), row 1 the gene whose top-k list it is (target)."""
        return np.vstack([self.source, self.target]).astype(np.int64, copy=False)

    def to_frame(self) -> pd.DataFrame:
        """Edges as a DataFrame with columns ``source, target, weight, source_gene, target_gene``.

        Example:
            >>> Graph(["A", "B"], np.array([1]), np.array([0]), np.array([0.5])).to_frame().source_gene.tolist()
            ['B']
        """
        names = np.asarray(self.genes, dtype=object)
        frame = pd.DataFrame(
            {
                "source": self.source.astype(np.int64),
                "target": self.target.astype(np.int64),
                "weight": self.weight.astype(np.float32),
                "source_gene": names[self.source] if self.n_edges else np.array([], dtype=object),
                "target_gene": names[self.target] if self.n_edges else np.array([], dtype=object),
            }
        )
        if self.pearson is not None:
            frame.insert(3, "pearson", self.pearson.astype(np.float32))
        return frame


def topk_per_row(
    scores: np.ndarray,
    k: int,
    threshold: float,
    *,
    row_offset: int = 0,
    exclude_self: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pick, for each row of a dense score block, the ``k`` largest entries strictly above ``threshold``.

    Ties are broken by the smaller column index, so the result never depends on sort stability or on how the rows
    were split into blocks. NaN scores are never selected.

    Args:
        scores: ``(b, n)`` scores of rows ``row_offset … row_offset+b-1`` against all ``n`` columns.
        k: neighbours kept per row (at most).
        threshold: keep only scores ``> threshold``.
        row_offset: global index of the block's first row (for the self entry and the returned rows).
        exclude_self: never pick the entry ``(r, r)``.

    Returns:
        ``(rows, cols, values)``: global row index, column index and score, ordered by row, then descending score,
        then ascending column.

    Example:
        >>> s = np.array([[1.0, 0.5, 0.5, 0.9], [0.2, 1.0, 0.7, 0.7]])
        >>> r, c, v = topk_per_row(s, 2, 0.3)
        >>> r.tolist(), c.tolist(), v.tolist()
        ([0, 0, 1, 1], [3, 1, 2, 3], [0.9, 0.5, 0.7, 0.7])
    """
    b, n = scores.shape
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, scores.dtype))
    if b == 0 or n == 0 or k <= 0:
        return empty
    work = np.array(scores, dtype=scores.dtype, copy=True)
    if exclude_self:
        local = np.arange(b)
        cols = local + row_offset
        ok = (cols >= 0) & (cols < n)
        work[local[ok], cols[ok]] = -np.inf
    work[~(work > threshold)] = -np.inf  # also drops NaN
    if k < n:
        kth = -np.partition(-work, k - 1, axis=1)[:, k - 1]
        keep = (work >= kth[:, None]) & np.isfinite(work)
    else:
        keep = np.isfinite(work)
    rows, cols = np.nonzero(keep)
    if rows.size == 0:
        return empty
    vals = work[rows, cols]
    order = np.lexsort((cols, -vals, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    first = np.searchsorted(rows, rows, side="left")
    rank = np.arange(rows.size) - first
    sel = rank < k
    return rows[sel].astype(np.int64) + row_offset, cols[sel].astype(np.int64), vals[sel]
