"""Tiny data and a fake knowledge bundle that follow the contracts in docs/architecture.md.

The real ``biodsnn.data`` batches / DE ranking and ``kg_build.KnowledgeBundle`` are used when they exist; the fakes
below implement the same contract so that these tests never depend on another package's progress.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anndata
import numpy as np
import pandas as pd
import pytest
import torch

from biodsnn.data import PerturbData, make_split

N_GENES = 60


def random_mask(n: int, density: float, seed: int, isolated: tuple[int, ...] = ()) -> torch.Tensor:
    """A random attention mask ``[2, E]`` (source = key, destination = query) with the diagonal; ``isolated`` genes
    only see themselves."""
    g = torch.Generator().manual_seed(seed)
    allowed = torch.rand(n, n, generator=g) < density
    for i in isolated:  # rows (queries) and columns that only see themselves
        allowed[i, :] = False
        allowed[:, i] = False
    allowed |= torch.eye(n, dtype=torch.bool)
    dst, src = allowed.nonzero(as_tuple=True)  # allowed[query, key]
    return torch.stack([src, dst])


def tiny_adata(seed: int = 0) -> anndata.AnnData:
    """~500 cells × 60 genes: control + 8 singles + 10 doubles with additive effects plus a small interaction."""
    rng = np.random.default_rng(seed)
    genes = [f"G{i:02d}" for i in range(N_GENES)]
    base = rng.uniform(0.5, 2.0, N_GENES)
    pert_genes = genes[:8]
    effects = {g: rng.normal(0, 0.6, N_GENES) * (rng.random(N_GENES) < 0.3) for g in pert_genes}
    conds: list[tuple[str, ...]] = [()] + [(g,) for g in pert_genes]
    conds += [tuple(sorted(p)) for p in itertools.combinations(pert_genes, 2)][:10]
    rows, names = [], []
    for c in conds:
        n = 80 if not c else 25
        mean = base + sum((effects[g] for g in c), np.zeros(N_GENES)) + (0.3 if len(c) == 2 else 0.0)
        x = np.clip(mean + rng.normal(0, 0.25, (n, N_GENES)), 0, None)
        x[rng.random(x.shape) < 0.1] = 0.0
        rows.append(x)
        names += ["ctrl" if not c else ("+".join(c) if len(c) == 2 else f"{c[0]}+ctrl")] * n
    adata = anndata.AnnData(X=np.vstack(rows).astype(np.float32), var=pd.DataFrame(index=genes))
    adata.obs["condition"] = pd.Categorical(names)
    adata.obs_names = [f"c{i}" for i in range(adata.n_obs)]
    return adata


class TinyData(PerturbData):
    """PerturbData built directly from an AnnData (no loader checks), for the tests."""


@dataclass
class FakeEdges:
    edge_index: np.ndarray
    weight: np.ndarray
    source: np.ndarray | None = None


@dataclass
class FakeKnowledge:
    genes: list[str]
    perturbable_genes: list[str]
    coexpression: FakeEdges
    go_graph: FakeEdges
    mask: FakeEdges
    manifest: dict[str, Any] = field(default_factory=dict)
    path: str | None = None
    split_file: str | None = None

    def check_compatible(self, data: Any, split: Any) -> None:
        if list(data.genes) != self.genes:
            from reactomenet.errors import InputError

            raise InputError("bundle genes differ from the data")


def fake_knowledge(data: PerturbData, seed: int = 0) -> FakeKnowledge:
    rng = np.random.default_rng(seed)
    n = len(data.genes)
    perturbable = [f"G{i:02d}" for i in range(12)] + ["UNMEASURED1", "UNMEASURED2"]
    co = rng.integers(0, n, (2, 4 * n))
    go = rng.integers(0, len(perturbable), (2, 40))
    blocks = np.arange(n) // 10  # "pathways" of 10 genes, plus a few isolated genes
    i, j = np.nonzero((blocks[:, None] == blocks[None, :]) & (np.arange(n) % 13 != 5)[:, None])
    mask = np.stack([j, i]).astype(np.int64)
    manifest = {"genes": hashlib.sha256("\n".join(data.genes).encode()).hexdigest(), "seed": seed}
    return FakeKnowledge(list(data.genes), perturbable, FakeEdges(co, rng.random(co.shape[1]).astype(np.float32)),
                         FakeEdges(go, rng.random(go.shape[1]).astype(np.float32)), FakeEdges(mask, np.ones(0)),
                         manifest)


def fake_de(data: PerturbData, n_top: int = 20) -> SimpleNamespace:
    means = data.condition_means(data.conditions)
    top = {c: np.argsort(-np.abs(m - data.control_mean), kind="stable")[:n_top]
           for c, m in zip(data.conditions, means, strict=True)}
    return SimpleNamespace(top=top, top_non_dropout=top)


@pytest.fixture(scope="session")
def tiny() -> SimpleNamespace:
    data = TinyData(tiny_adata())
    split = make_split(data.conditions, kind="simulation", seed=1)
    return SimpleNamespace(data=data, knowledge=fake_knowledge(data), split=split, de=fake_de(data))


def simulated_screen(folder: Path) -> dict[str, Path]:
    """A tiny simulated screen on disk, as the CLI takes it: ``perturb.h5ad``, a ``simulation`` split (seed 0) and a
    knowledge bundle built on it (every perturbed gene perturbable)."""
    from biodsnn.data import load_perturb_data, make_split, simulate
    from kg_build import build_bundle

    h5ad, split_path, kb = folder / "perturb.h5ad", folder / "split.json", folder / "knowledge"
    simulate(preset="tiny", seed=0, progress=False).write_h5ad(h5ad)
    data = load_perturb_data(h5ad)
    split = make_split(data.conditions, kind="simulation", seed=0)
    split.save(split_path)
    build_bundle(data, split, kb, perturbable=sorted({g for c in data.conditions for g in data.condition_genes(c)}))
    return {"tmp": folder, "data": h5ad, "split": split_path, "knowledge": kb}

