"""Small stand-ins for the data layer and Reactome (per docs/architecture.md), so kg_build tests stay tiny."""

from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace
from typing import ClassVar

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

# real symbols: most are in Reactome and GO; two made-up names are in neither
GENES = [
    "TP53",
    "MDM2",
    "CDKN1A",
    "BAX",
    "KLF1",
    "GATA1",
    "TAL1",
    "CEBPA",
    "SPI1",
    "MYC",
    "ACTB",
    "GAPDH",
    "CDK4",
    "CCND1",
    "RB1",
    "E2F1",
    "JUN",
    "FOS",
    "EGR1",
    "ZZ_NOVEL1",
    "ZZ_NOVEL2",
]


class FakeData:
    """The PerturbData attributes kg_build uses."""

    def __init__(self, X, genes, conditions_per_cell, source=None):
        self.adata = anndata.AnnData(
            X=X,
            obs=pd.DataFrame({"condition": conditions_per_cell}, index=[f"c{i}" for i in range(X.shape[0])]),
            var=pd.DataFrame(index=genes),
        )
        self.genes = list(genes)
        cond = np.asarray(conditions_per_cell)
        self.conditions = sorted(set(cond) - {"ctrl"})
        self._cond = cond
        self.source = source
        self.options = {}

    @property
    def X(self):
        return self.adata.X

    @property
    def control_cells(self):
        return np.flatnonzero(self._cond == "ctrl")

    def cells_of(self, c):
        return np.flatnonzero(self._cond == c)

    @staticmethod
    def condition_genes(c):
        return tuple(g for g in c.split("+") if g != "ctrl")

    @property
    def fingerprint(self):
        X = self.adata.X
        dense = X.toarray() if sp.issparse(X) else X
        h = hashlib.sha256(np.ascontiguousarray(dense, dtype=np.float32).tobytes())
        h.update("\n".join(self.genes).encode() + "\n".join(self._cond).encode())
        return h.hexdigest()


class FakeSplit:
    def __init__(self, assignment):
        self.assignment = dict(assignment)
        self.kind, self.seed = "custom", None

    def _of(self, s):
        return sorted(c for c, v in self.assignment.items() if v == s)

    train = property(lambda self: self._of("train"))
    val = property(lambda self: self._of("val"))
    test = property(lambda self: self._of("test"))

    @property
    def fingerprint(self):
        return hashlib.sha256(json.dumps(sorted(self.assignment.items())).encode()).hexdigest()

    def save(self, path):
        path.write_text(json.dumps({"assignment": self.assignment}))
        return path


class FakeReactome:
    """mask(): genes share a 'pathway' when they are in the same group below; others are missing."""

    groups: ClassVar[list[list[str]]] = [
        ["TP53", "MDM2", "CDKN1A", "BAX"],
        ["KLF1", "GATA1", "TAL1"],
        ["CDK4", "CCND1", "RB1", "E2F1", "MYC"],
        ["JUN", "FOS", "EGR1"],
    ]
    release = SimpleNamespace(sha256={"ReactomePathways.gmt": "f" * 64}, species="R-HSA")

    def mask(self, genes, level=3):
        index = {g: k for k, g in enumerate(genes)}
        pairs = {(k, k) for k in range(len(genes))}
        known = set()
        for grp in self.groups:
            members = [index[g] for g in grp if g in index]
            known.update(members)
            pairs |= {(a, b) for a in members for b in members}
        ij = np.array(sorted(pairs), dtype=np.int64)
        return SimpleNamespace(
            genes=list(genes),
            i=ij[:, 0],
            j=ij[:, 1],
            level=level,
            missing=[g for k, g in enumerate(genes) if k not in known],
        )


CONDITIONS = ["TP53+ctrl", "KLF1+ctrl", "MYC+ctrl", "GATA1+ctrl", "CEBPA+ctrl", "TP53+MYC"]
SPLIT = {
    "TP53+ctrl": "train",
    "KLF1+ctrl": "train",
    "MYC+ctrl": "train",
    "GATA1+ctrl": "val",
    "CEBPA+ctrl": "test",
    "TP53+MYC": "test",
}


def make_data(seed=0, n_per=25, genes=GENES, sparse=True):
    """Correlated log-expression: a few latent factors, condition shifts, sparse zeros."""
    rng = np.random.default_rng(seed)
    conds = ["ctrl"] * (2 * n_per) + [c for c in CONDITIONS for _ in range(n_per)]
    n, g = len(conds), len(genes)
    z = rng.normal(size=(n, 3))
    load = rng.normal(size=(3, g))
    X = np.clip(1.0 + z @ load * 0.6 + rng.normal(scale=0.5, size=(n, g)), 0, None).astype(np.float32)
    X[X < 0.3] = 0
    return FakeData(sp.csr_matrix(X) if sparse else X, genes, conds)


@pytest.fixture
def data():
    return make_data()


@pytest.fixture
def split():
    return FakeSplit(SPLIT)


@pytest.fixture
def reactome():
    return FakeReactome()


@pytest.fixture
def fakes():
    """The helpers above, for tests (conftest is not importable under --import-mode=importlib)."""
    return SimpleNamespace(
        make_data=make_data, FakeSplit=FakeSplit, FakeReactome=FakeReactome, SPLIT=SPLIT, GENES=GENES, FakeData=FakeData
    )
