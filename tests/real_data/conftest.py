"""The real public Perturb-seq subsets in ../shared/data/real/ (see its README), as a user has them."""

from __future__ import annotations

from pathlib import Path

import pytest

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"

#: file → (h5ad name, the flags its convention needs, the split kind the test uses, its extra split flags)
FILES: dict[str, tuple[str, list[str], str, list[str]]] = {
    "norman": ("norman2019_k562_subset.h5ad", ["--convention", "perturbench"], "simulation", []),
    "mcfaline": ("mcfaline2023_gbm_subset.h5ad", ["--convention", "perturbench"], "transfer",
                 ["--test-fraction", "0.34", "--val-fraction", "0.2"]),
    "papalexi": ("papalexi2021_thp1_subset.h5ad", ["--condition-key", "gene_target", "--normalize"], "single",
                 ["--test-fraction", "0.25", "--val-fraction", "0.15"]),
    "datlinger": ("datlinger2017_jurkat_subset.h5ad",
                  ["--convention", "pertpy", "--normalize", "--context-key", "stimulation"], "single",
                  ["--test-fraction", "0.25", "--val-fraction", "0.15"]),
}


def real_file(name: str) -> Path:
    """The path of a real file; skips (with the reason) when the shared data folder is not beside the checkout."""
    path = REAL / FILES[name][0]
    if not path.exists():
        pytest.skip(f"real data file {path} is not here (it lives in shared/data/real beside the checkout)")
    return path
