"""BioDSNN: knowledge-guided prediction of genetic perturbation responses.

Layers (each imports only the ones below it; docs/architecture.md): ``biodsnn.config`` (defaults),
``biodsnn.data`` (AnnData → conditions, splits, DE genes; no torch), ``biodsnn.dataloaders`` (training batches as
tensors), ``biodsnn.modules`` (pure torch), ``biodsnn.train``, ``biodsnn.model`` (the class users touch),
``biodsnn.baselines``, ``biodsnn.evaluate`` with ``biodsnn.plots``, and ``biodsnn.benchmark`` (the pipelines). The
names below load lazily, so ``import biodsnn.data`` never pulls torch.

Example:
    >>> import biodsnn
    >>> sorted(biodsnn.VARIANTS)[:3]
    ['additive_residual', 'crossMLP', 'full']
"""

from __future__ import annotations

import importlib
from typing import Any

from reactomenet import __version__

_LAZY = {
    "BioDSNN": "biodsnn.model",
    "DEFAULT_HPARAMS": "biodsnn.model",
    "VARIANTS": "biodsnn.variants",
    "get_variant": "biodsnn.variants",
    "get_baseline": "biodsnn.baselines",
    "evaluate": "biodsnn.evaluate",
    "load_perturb_data": "biodsnn.data",
    "make_split": "biodsnn.data",
    "rank_de_genes": "biodsnn.data",
    "simulate": "biodsnn.data",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'biodsnn' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
