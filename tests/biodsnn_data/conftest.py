"""Small hand-made perturbation AnnData files for the data-layer tests."""

from __future__ import annotations

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp


def _make_adata(
    *,
    conditions: list[str] | None = None,
    cells_per: int = 6,
    n_genes: int = 12,
    key: str = "condition",
    control: str = "ctrl",
    sparse: bool = True,
    counts: bool = False,
    seed: int = 0,
) -> anndata.AnnData:
    """Cells of each condition with a per-condition shift in expression; genes G0..G{n-1}."""
    rng = np.random.default_rng(seed)
    conditions = conditions or [control, "G0+ctrl", "G1+ctrl", "G0+G1", "G2+ctrl"]
    labels = [c for c in conditions for _ in range(cells_per)]
    lam = np.tile(rng.uniform(0.5, 5.0, n_genes), (len(labels), 1))
    for i, c in enumerate(labels):
        lam[i, hash(c) % n_genes] *= 4.0
    x = rng.poisson(lam * (30 if counts else 1)).astype(np.float32)
    if not counts:
        x = np.log1p(x)
    obs = pd.DataFrame({key: labels}, index=[f"c{i}" for i in range(len(labels))])
    var = pd.DataFrame(index=[f"G{i}" for i in range(n_genes)])
    return anndata.AnnData(sp.csr_matrix(x) if sparse else x, obs=obs, var=var)


@pytest.fixture
def make_adata():
    """The factory :func:`_make_adata`."""
    return _make_adata


@pytest.fixture
def adata() -> anndata.AnnData:
    return _make_adata()
