"""Small fakes with the PerturbData / Split / DE contract (docs/architecture.md), so tests need no simulator."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pytest


def _genes_of(cond: str) -> tuple[str, ...]:
    return tuple(sorted(g for g in cond.split("+") if g != "ctrl"))


class FakeData:
    """Per-condition means given directly; condition names follow GEARS' convention."""

    def __init__(self, genes: list[str], control: np.ndarray, means: dict[str, np.ndarray],
                 true_means: dict[str, np.ndarray] | None = None) -> None:
        self.genes = list(genes)
        self.control_mean = np.asarray(control, dtype=np.float32)
        self._means = {k: np.asarray(v, dtype=np.float64) for k, v in means.items()}
        self.conditions = sorted(means)
        self.true_means = true_means

    def condition_genes(self, cond: str) -> tuple[str, ...]:
        return _genes_of(cond)

    def condition_means(self, conds: Sequence[str]) -> np.ndarray:
        return np.stack([self._means[c] for c in conds])


@dataclass
class FakeSplit:
    train: list[str]
    val: list[str]
    test: list[str]
    subgroup: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeDE:
    top: dict[str, np.ndarray]
    top_non_dropout: dict[str, np.ndarray]


def make_fake(seed: int = 0, n_genes: int = 40, n_singles: int = 8) -> tuple[FakeData, FakeSplit, FakeDE]:
    """Singles G0..G{n-1}, all doubles among the first 6 genes; a simulation-like split with all subgroups."""
    rng = np.random.default_rng(seed)
    genes = [f"G{i}" for i in range(n_genes)]
    ctrl = rng.uniform(0.5, 3.0, n_genes)
    effect = {g: rng.normal(0, 0.5, n_genes) for g in genes[:n_singles]}
    means: dict[str, np.ndarray] = {}
    truth: dict[str, np.ndarray] = {}
    for g in genes[:n_singles]:
        truth[f"{g}+ctrl"] = ctrl + effect[g]
    for i in range(6):
        for j in range(i + 1, 6):
            a, b = genes[i], genes[j]
            truth[f"{a}+{b}"] = ctrl + (1 + 0.3 * i) * effect[a] + (1 - 0.1 * j) * effect[b]
    for c, t in truth.items():
        means[c] = t + rng.normal(0, 0.05, n_genes)
    # G6, G7 unseen singles; G0..G3 seen singles; doubles by how many of their genes are seen
    seen = {"G0", "G1", "G2", "G3"}
    train = [f"{g}+ctrl" for g in sorted(seen)] + ["G0+G1", "G2+G3"]
    test, subgroup = [], {}
    for c in sorted(means):
        if c in train:
            continue
        gs = _genes_of(c)
        if len(gs) == 1 and gs[0] in seen:  # G4, G5 singles: validation
            continue
        test.append(c)
        subgroup[c] = "unseen_single" if len(gs) == 1 else f"combo_seen{sum(g in seen for g in gs)}"
    val = [c for c in sorted(means) if c not in train and c not in test]
    de_top, de_nd = {}, {}
    for c, m in means.items():
        order = np.argsort(-np.abs(m - ctrl), kind="stable")
        de_top[c] = order[:20].astype(np.int64)
        de_nd[c] = np.array([i for i in order if ctrl[i] > 1.0][:20], dtype=np.int64)
    data = FakeData(genes, ctrl, means, truth)
    return data, FakeSplit(train, val, test, subgroup), FakeDE(de_top, de_nd)


class Oracle:
    """A predictor that returns the observed means (optionally shifted)."""

    def __init__(self, data: FakeData, name: str = "oracle", shift: float = 0.0) -> None:
        self.data, self.name, self.shift = data, name, shift

    def predict_means(self, conditions: Sequence[str]) -> np.ndarray:
        return self.data.condition_means(conditions) + self.shift


@pytest.fixture
def fake():
    return make_fake()
