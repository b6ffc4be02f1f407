"""Library-size normalisation and log1p (scanpy's ``normalize_total`` + ``log1p``), for whole matrices or row blocks."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

#: Counts per cell after normalisation.
TARGET_SUM = 1e4


def normalize_log1p(x: sp.spmatrix | np.ndarray, target_sum: float = TARGET_SUM) -> sp.csr_matrix | np.ndarray:
    """Scale each cell to ``target_sum`` counts then take ``log1p`` (scanpy's normalize_total + log1p), float32.

    Example:
        >>> import numpy as np
        >>> [round(float(v), 3) for v in normalize_log1p(np.array([[1.0, 3.0]]), target_sum=4)[0]]
        [0.693, 1.386]
    """
    if sp.issparse(x):
        out = sp.csr_matrix(x, dtype=np.float32, copy=True)
        totals = np.asarray(out.sum(axis=1)).ravel()
        scale = np.divide(target_sum, totals, out=np.zeros_like(totals, dtype=np.float64), where=totals > 0)
        out.data *= np.repeat(scale, np.diff(out.indptr)).astype(np.float32)
        np.log1p(out.data, out=out.data)
        return out
    arr = np.asarray(x, dtype=np.float64)
    totals = arr.sum(axis=1, keepdims=True)
    scale = np.divide(target_sum, totals, out=np.zeros_like(totals), where=totals > 0)
    return np.log1p(arr * scale).astype(np.float32)


__all__ = ["TARGET_SUM", "normalize_log1p"]
