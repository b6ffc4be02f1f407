"""What kg_build needs of the objects it is given, and what it offers the model: small structural types.

kg_build sits below ``biodsnn`` and never imports it; ``biodsnn.data.PerturbData`` and ``biodsnn.data.Split`` satisfy
:class:`PerturbationData` and :class:`TrainingSplit` by their shape (as do the test fakes), and
:class:`kg_build.KnowledgeBundle` satisfies :class:`Knowledge`, the bundle as the model reads it.

Example:
    >>> import numpy as np
    >>> class S:  # any object with these members is a TrainingSplit
    ...     train = ["A+ctrl"]; fingerprint = "0" * 64; kind = "custom"; seed = None
    ...     def save(self, path): ...
    >>> isinstance(S(), TrainingSplit)
    True
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    import anndata


@runtime_checkable
class PerturbationData(Protocol):
    """A perturbation dataset (``biodsnn.data.PerturbData``): log-normalised cells with canonical condition names."""

    adata: anndata.AnnData  #: the cells' obs and the genes' var
    source: str | None  #: the file it was read from (recorded in the manifest)
    options: Mapping[str, Any]  #: the loader options (recorded in the manifest)

    @property
    def X(self) -> Any:
        """Cells × genes expression, read by rows (``X[rows]``: scipy CSR or dense), never densified whole; in
        memory or read from its file on demand (out-of-core)."""

    @property
    def genes(self) -> list[str]:
        """Measured gene names, in column order."""

    @property
    def conditions(self) -> list[str]:
        """Perturbation conditions (no control)."""

    @property
    def control_cells(self) -> np.ndarray:
        """Row indices of the control cells."""

    @property
    def fingerprint(self) -> str:
        """A hash of the cells, genes and conditions."""

    def cells_of(self, condition: str) -> np.ndarray:
        """Row indices of one condition's cells."""

    def condition_genes(self, condition: str) -> tuple[str, ...]:
        """The perturbed genes of a condition."""


@runtime_checkable
class TrainingSplit(Protocol):
    """A split of the conditions (``biodsnn.data.Split``): only its training conditions may shape the knowledge."""

    train: Sequence[str]
    fingerprint: str
    kind: str
    seed: int | None

    def save(self, path: str | os.PathLike[str]) -> Any:
        """Write it (the bundle keeps a copy of the split it was built with)."""


class Edges(Protocol):
    """Edges of one graph: ``edge_index`` int64 [2, E] (and ``weight`` float32 [E] where weighted)."""

    edge_index: np.ndarray
    weight: np.ndarray | None


@runtime_checkable
class Knowledge(Protocol):
    """A knowledge bundle as the model reads it (:class:`kg_build.KnowledgeBundle`)."""

    genes: list[str]  #: measured genes (the data's order)
    perturbable_genes: list[str]  #: nodes of the GO graph
    coexpression: Edges  #: over ``genes``
    go_graph: Edges  #: over ``perturbable_genes``
    mask: Edges  #: attention pairs over ``genes``, diagonal included
    manifest: Mapping[str, Any]
    path: Path | None  #: its folder (None: built in memory), recorded by a run
    split_file: Path | None  #: the split it was built with (None: not kept)

    def check_compatible(self, data: PerturbationData, split: TrainingSplit) -> None:
        """Raise ``InputError`` unless the bundle was built for this data and split."""


__all__ = ["Edges", "Knowledge", "PerturbationData", "TrainingSplit"]
