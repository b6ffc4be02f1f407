"""Genetic-interaction scores of a double perturbation from its two singles (GEARS / Norman et al. 2019).

The double's change from control ``y`` is regressed on the two singles' changes ``A`` and ``B`` without intercept,
``y ≈ c1·A + c2·B``, by Theil–Sen. With two coefficients and no intercept, Theil–Sen (as in scikit-learn's
``TheilSenRegressor(fit_intercept=False)``, which GEARS uses) is: solve the 2×2 system exactly for every pair of
genes, then take the spatial (L1) median of those solutions. We enumerate all pairs when there are at most
``max_pairs`` of them and otherwise draw ``max_pairs`` distinct-gene pairs with a seeded generator; the spatial
median is found by Weiszfeld's iteration (scikit-learn's method too).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from biodsnn.evaluate._metrics import pearson
from reactomenet.errors import InputError

MAX_PAIRS = 20_000


def spatial_median(points: np.ndarray, *, max_iter: int = 500, tol: float = 1e-10) -> np.ndarray:
    """Point minimising the sum of Euclidean distances to ``points`` (Weiszfeld's algorithm).

    Example:
        >>> spatial_median(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [10.0, 10.0]])).round(3).tolist()
        [0.5, 0.5]
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.shape[0] == 0:
        raise InputError("spatial median of no points: give at least one point")
    y = np.median(pts, axis=0)
    for _ in range(max_iter):
        d = np.sqrt(((pts - y) ** 2).sum(axis=1))
        zero = d < 1e-12
        w = 1.0 / np.where(zero, 1.0, d)
        w[zero] = 0.0
        if w.sum() == 0:
            return y
        t = (pts * w[:, None]).sum(axis=0) / w.sum()
        n_zero = int(zero.sum())
        if n_zero:  # Vardi–Zhang correction when the iterate sits on a data point
            r = np.linalg.norm(((pts - y) * w[:, None]).sum(axis=0))
            eta = n_zero / r if r > 0 else np.inf
            t = max(0.0, 1 - eta) * t + min(1.0, eta) * y
        if np.linalg.norm(t - y) < tol * max(1.0, np.linalg.norm(y)):
            return t
        y = t
    return y


def pair_solutions(x: np.ndarray, y: np.ndarray, *, max_pairs: int = MAX_PAIRS, seed: int = 0) -> np.ndarray:
    """Exact solutions ``(c1, c2)`` of ``y_i = c1·x_i1 + c2·x_i2`` for pairs of rows (singular pairs dropped).

    Example:
        >>> x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
        >>> pair_solutions(x, x @ np.array([2.0, 3.0])).tolist()
        [[2.0, 3.0], [2.0, 3.0], [2.0, 3.0]]
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = x.shape[0]
    total = n * (n - 1) // 2
    if total <= max_pairs:
        i, j = np.triu_indices(n, k=1)
    else:
        rng = np.random.default_rng(seed)
        i = rng.integers(0, n, size=max_pairs)
        j = (i + rng.integers(1, n, size=max_pairs)) % n
    a, b, c, d = x[i, 0], x[i, 1], x[j, 0], x[j, 1]
    det = a * d - b * c
    scale = np.maximum(np.abs(a * d), np.abs(b * c))
    ok = np.abs(det) > 1e-9 * np.maximum(scale, 1e-300)
    ok &= np.abs(det) > 1e-12
    c1 = (y[i] * d - b * y[j])[ok] / det[ok]
    c2 = (a * y[j] - c * y[i])[ok] / det[ok]
    return np.column_stack([c1, c2])


def theil_sen_2(x: np.ndarray, y: np.ndarray, *, max_pairs: int = MAX_PAIRS, seed: int = 0) -> tuple[float, float]:
    """Theil–Sen fit of ``y ≈ c1·x[:, 0] + c2·x[:, 1]`` (no intercept); NaNs when no pair is solvable.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(50, 2)); y = x @ np.array([1.5, -0.5]); y[:5] += 100  # 10 % outliers
        >>> [round(v, 6) for v in theil_sen_2(x, y)]
        [1.5, -0.5]
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2 or y.shape != (x.shape[0],):
        raise InputError(f"theil_sen_2 needs x of shape (n, 2) and y of shape (n,), got {x.shape} and {y.shape}")
    sols = pair_solutions(x, y, max_pairs=max_pairs, seed=seed)
    if sols.shape[0] == 0:
        return float("nan"), float("nan")
    c = spatial_median(sols)
    return float(c[0]), float(c[1])


def distance_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Székely's distance correlation between samples ``x`` and ``y`` (rows are observations), in [0, 1].

    Example:
        >>> round(distance_correlation(np.arange(5.0), 2 * np.arange(5.0)), 6)
        1.0
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    x = x.reshape(x.shape[0], -1)
    y = y.reshape(y.shape[0], -1)

    def centred(z: np.ndarray) -> np.ndarray:
        d = np.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).sum(-1))
        return d - d.mean(0) - d.mean(1)[:, None] + d.mean()

    a, b = centred(x), centred(y)
    dcov = (a * b).mean()
    dvx, dvy = (a * a).mean(), (b * b).mean()
    if dvx <= 0 or dvy <= 0:
        return float("nan")
    return float(np.sqrt(max(dcov, 0.0) / np.sqrt(dvx * dvy)))


@dataclass(frozen=True)
class GIScores:
    """GEARS' genetic-interaction scores of one double, from changes from control.

    Attributes:
        c1, c2: Theil–Sen coefficients of the first and second single (genes sorted, as in the condition name).
        magnitude: ``√(c1² + c2²)``; large means synergy, small suppression.
        corr_fit: Pearson of the Theil–Sen fit ``c1·A + c2·B`` against the double.
        dominance: ``|log10(|c1| / |c2|)|``; one single dominates when large.
        dcor: distance correlation of the two singles (jointly) with the double.
        dcor_singles: distance correlation between the two singles (similarity of the singles).
        eq_contr: ``min(dcor_first, dcor_second) / max(…)``, equality of the singles' contributions.
    """

    c1: float
    c2: float
    magnitude: float
    corr_fit: float
    dominance: float
    dcor: float
    dcor_singles: float
    eq_contr: float


DCOR_MAX_GENES = 1000


def gi_scores(first: np.ndarray, second: np.ndarray, double: np.ndarray, *, seed: int = 0,
              max_pairs: int = MAX_PAIRS) -> GIScores:
    """GI scores of a double from the changes of its two singles and its own change (all ``(n_genes,)``).

    Distance correlations are computed on at most ``DCOR_MAX_GENES`` genes (those with the largest absolute double
    change) since they cost O(n²) memory.

    Example:
        >>> a = np.array([1.0, 0.0, 2.0, -1.0]); b = np.array([0.0, 1.0, 1.0, 3.0])
        >>> s = gi_scores(a, b, 2 * a + b)
        >>> round(s.c1, 6), round(s.c2, 6), round(s.magnitude, 6)
        (2.0, 1.0, 2.236068)
    """
    first = np.asarray(first, dtype=np.float64)
    second = np.asarray(second, dtype=np.float64)
    double = np.asarray(double, dtype=np.float64)
    x = np.column_stack([first, second])
    c1, c2 = theil_sen_2(x, double, seed=seed, max_pairs=max_pairs)
    fit = x @ np.array([c1, c2])
    corr_fit = pearson(fit, double) if np.isfinite(c1) else float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        dominance = float(np.abs(np.log10(np.abs(c1) / np.abs(c2))))
    keep = np.argsort(-np.abs(double), kind="stable")[:DCOR_MAX_GENES]
    dcor = distance_correlation(x[keep], double[keep])
    d_first = distance_correlation(first[keep], double[keep])
    d_second = distance_correlation(second[keep], double[keep])
    eq = min(d_first, d_second) / max(d_first, d_second) if max(d_first, d_second) > 0 else float("nan")
    return GIScores(
        c1=c1, c2=c2, magnitude=float(np.hypot(c1, c2)), corr_fit=corr_fit, dominance=dominance, dcor=dcor,
        dcor_singles=distance_correlation(first[keep], second[keep]), eq_contr=float(eq),
    )
