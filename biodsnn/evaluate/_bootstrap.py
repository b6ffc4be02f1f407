"""Percentile bootstrap over perturbations, seeded, and paired across models."""

from __future__ import annotations

import zlib

import numpy as np


def bootstrap_indices(n: int, n_boot: int, seed: int, stream: str = "") -> np.ndarray:
    """``(n_boot, n)`` resampling indices, the same for the same ``(n, n_boot, seed, stream)``.

    ``stream`` (a subgroup name, say) gives each subgroup its own independent draw while every model and metric
    within it shares one, so that differences between models are paired.

    Example:
        >>> bootstrap_indices(3, 2, seed=0).shape
        (2, 3)
        >>> bool((bootstrap_indices(5, 4, 1, "a") == bootstrap_indices(5, 4, 1, "a")).all())
        True
    """
    rng = np.random.default_rng([seed, zlib.crc32(stream.encode())])
    return rng.integers(0, n, size=(n_boot, n)) if n else np.zeros((n_boot, 0), dtype=np.int64)


def bootstrap_ci(values: np.ndarray, idx: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``values`` (NaNs skipped) and its percentile bootstrap interval from resampling indices ``idx``.

    ``values`` may be ``(n,)`` or ``(n, m)`` (then each column gets its interval; the three results are arrays).

    Example:
        >>> v = np.array([1.0, 2.0, 3.0, 4.0])
        >>> mean, lo, hi = bootstrap_ci(v, bootstrap_indices(4, 2000, seed=0))
        >>> mean, bool(1.0 <= lo < 2.5 < hi <= 4.0)
        (2.5, True)
    """
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"), _quiet():
        mean = np.nanmean(v, axis=0) if v.shape[0] else np.full(v.shape[1:], np.nan)
        if v.shape[0] == 0 or idx.shape[0] == 0:
            nan = np.full(v.shape[1:], np.nan)
            return _out(mean), _out(nan), _out(nan)
        boots = np.nanmean(v[idx], axis=1)
        alpha = (1 - level) / 2
        lo = np.nanquantile(boots, alpha, axis=0)
        hi = np.nanquantile(boots, 1 - alpha, axis=0)
    return _out(mean), _out(lo), _out(hi)


def _out(x: np.ndarray) -> float | np.ndarray:
    return float(x) if np.ndim(x) == 0 else x


class _quiet:
    """Silence numpy's 'mean of empty slice' warnings (all-NaN columns are expected: a metric may not apply)."""

    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)
