"""Training batches: a random control cell as input, the perturbed cell as target (imports torch)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import scipy.sparse as sp

from biodsnn.data._loading import PerturbData
from biodsnn.data.conditions import canonical_condition, parse_condition
from reactomenet.errors import InputError

if TYPE_CHECKING:
    import torch

    from biodsnn.data._de import DEGenes


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("batches need torch: pip install 'biodsnn[model]'") from exc
    return torch


@dataclass(frozen=True)
class Batch:
    """One training batch.

    Attributes:
        control_x: FloatTensor[B, G], a random control cell per perturbed cell (the model's input).
        target_x: FloatTensor[B, G], the perturbed cells.
        condition_index: LongTensor[B] into ``conditions``.
        conditions: The distinct conditions of this batch (canonical names).
        de_index: LongTensor[n_cond, n_top], top DE gene indices of each condition.
        pert_index: LongTensor[n_cond, k], column of each perturbed gene in ``data.genes`` (-1: not measured or pad).
        cell_index: LongTensor[B], rows of the target cells in the data.
        control_index: LongTensor[B], rows of the paired control cells.
    """

    control_x: torch.Tensor
    target_x: torch.Tensor
    condition_index: torch.Tensor
    conditions: list[str]
    de_index: torch.Tensor
    pert_index: torch.Tensor
    cell_index: torch.Tensor
    control_index: torch.Tensor

    def __len__(self) -> int:
        return int(self.target_x.shape[0])

    def to(self, device: Any) -> Batch:
        """The same batch with every tensor on ``device``."""
        return replace(
            self,
            **{
                k: getattr(self, k).to(device)
                for k in (
                    "control_x",
                    "target_x",
                    "condition_index",
                    "de_index",
                    "pert_index",
                    "cell_index",
                    "control_index",
                )
            },
        )


class BatchIterator:
    """Re-iterable batches over the cells of ``conditions`` (default: all perturbations).

    Each pass yields the same batches for the same ``seed`` and epoch (:meth:`set_epoch` changes the shuffle, as
    torch's DistributedSampler). With ``group_by_condition`` (default) cells are ordered condition by condition, so a
    batch holds one or two distinct conditions and the model computes its knowledge stream once per condition; the
    order of conditions, of cells and of batches is shuffled with the seed. With ``single_condition`` every batch
    holds the cells of exactly one condition: a condition with ``n`` cells gives ``ceil(n / batch_size)`` batches of
    near-equal size (``drop_last``: ``n // batch_size`` batches of exactly ``batch_size``, the rest left out), so an
    epoch costs one knowledge-stream pass per batch. X is densified one batch at a time. With ``world_size`` > 1
    (multi-process training) this iterator yields rank ``rank``'s share of the epoch's batches
    (:func:`biodsnn.distributed.shard` applied to the seeded plan, the same on every rank).

    Example:
        >>> from biodsnn.data import simulate, load_perturb_data
        >>> data = load_perturb_data(simulate(preset="tiny", seed=0, progress=False))
        >>> it = data.batches(batch_size=16, seed=0)
        >>> sum(len(b) for b in it) == sum(len(data.cells_of(c)) for c in data.conditions)
        True
    """

    def __init__(
        self,
        data: PerturbData,
        conditions: Sequence[str] | None = None,
        *,
        batch_size: int = 32,
        seed: int = 0,
        group_by_condition: bool = True,
        single_condition: bool = False,
        de: DEGenes | None = None,
        de_kind: Literal["top", "non_dropout"] = "top",
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size}")
        conds = data.conditions if conditions is None else [canonical_condition(c) for c in conditions]
        conds = sorted(c for c in set(conds) if parse_condition(c))
        if not conds:
            raise InputError("no perturbation conditions to batch; give training conditions (not only ctrl)")
        if len(data.control_cells) == 0:
            raise InputError("no control cells to pair with perturbed cells")
        self.data = data
        self.conditions = conds
        self._rows = [data.cells_of(c) for c in conds]
        # each condition's control pool: its context's control cells (one pool for data of one context)
        contexts = [data.context_of(c) for c in conds]
        self._pools = {ctx: data.control_cells_of(ctx) for ctx in dict.fromkeys(contexts)}
        empty = [str(ctx) for ctx, pool in self._pools.items() if len(pool) == 0]
        if empty:
            raise InputError(f"context(s) {', '.join(empty)} have no control cells to pair with perturbed cells")
        self._context_of = contexts
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0
        self.group_by_condition = group_by_condition or single_condition
        self.single_condition = single_condition
        self.drop_last = drop_last
        # several training processes: each takes its share of the epoch's (identical, seeded) batch plan
        self.rank, self.world_size = int(rank), int(world_size)
        if de is None:
            from biodsnn.data._de import rank_de_genes

            de = rank_de_genes(data)
        table = de.top if de_kind == "top" else de.top_non_dropout
        missing = [c for c in conds if c not in table]
        if missing:
            raise InputError(
                f"DE genes missing for {len(missing)} condition(s) ({', '.join(missing[:5])}); "
                "compute them on this data with rank_de_genes"
            )
        self._de = np.stack([table[c] for c in conds]).astype(np.int64)
        k = max(len(parse_condition(c)) for c in conds)
        self._pert = np.full((len(conds), k), -1, dtype=np.int64)
        for i, c in enumerate(conds):
            for j, g in enumerate(parse_condition(c)):
                self._pert[i, j] = data.gene_index.get(g, -1)

    def set_epoch(self, epoch: int) -> None:
        """Use a different (still seeded) shuffle for another epoch."""
        self.epoch = int(epoch)

    def _plan(self) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, self.epoch])
        if self.group_by_condition:
            order = rng.permutation(len(self.conditions))
            cond_seq = np.concatenate([np.full(len(self._rows[i]), i) for i in order])
            cell_seq = np.concatenate([rng.permutation(self._rows[i]) for i in order])
        else:
            cond_seq = np.concatenate([np.full(len(r), i) for i, r in enumerate(self._rows)])
            cell_seq = np.concatenate(self._rows)
            perm = rng.permutation(len(cell_seq))
            cond_seq, cell_seq = cond_seq[perm], cell_seq[perm]
        if len(self._pools) == 1:
            ctrl = next(iter(self._pools.values()))
            ctrl_seq = ctrl[rng.integers(0, len(ctrl), size=len(cell_seq))]
        else:  # a control of the cell's own context
            ctrl_seq = np.empty(len(cell_seq), dtype=np.int64)
            u = rng.random(len(cell_seq))
            for ctx, pool in self._pools.items():
                at = np.isin(cond_seq, [i for i, c in enumerate(self._context_of) if c == ctx])
                ctrl_seq[at] = pool[np.minimum((u[at] * len(pool)).astype(np.int64), len(pool) - 1)]
        n = len(cell_seq)
        if self.single_condition:
            bounds, start = [], 0
            for i in order:
                bounds += self._condition_bounds(start, len(self._rows[i]))
                start += len(self._rows[i])
        else:
            cuts = list(range(0, n, self.batch_size))
            bounds = [np.arange(s, min(s + self.batch_size, n)) for s in cuts]
            if self.drop_last and bounds and len(bounds[-1]) < self.batch_size:
                bounds = bounds[:-1]
        bounds = [bounds[i] for i in rng.permutation(len(bounds))]
        if self.world_size > 1:
            from biodsnn.distributed import shard

            bounds = shard(bounds, self.rank, self.world_size)
        return bounds, cond_seq, cell_seq, ctrl_seq

    def _condition_bounds(self, start: int, n: int) -> list[np.ndarray]:
        """Positions of one condition's batches (its cells occupy ``start .. start + n``)."""
        if self.drop_last:
            return [np.arange(start + s, start + s + self.batch_size) for s in range(0, n - self.batch_size + 1,
                                                                                     self.batch_size)]
        return np.array_split(np.arange(start, start + n), -(-n // self.batch_size))

    def __len__(self) -> int:
        """Batches per epoch (this rank's share when several processes train: the same on every rank)."""
        if self.single_condition:
            sizes = [len(r) for r in self._rows]
            n_batches = sum(n // self.batch_size if self.drop_last else -(-n // self.batch_size) for n in sizes)
        else:
            n = sum(len(r) for r in self._rows)
            n_batches = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return -(-n_batches // self.world_size) if n_batches else 0

    def _dense(self, rows: np.ndarray) -> np.ndarray:
        x = self.data.X[rows]
        return (x.toarray() if sp.issparse(x) else np.asarray(x)).astype(np.float32, copy=False)

    def __iter__(self) -> Iterator[Batch]:
        torch = _torch()
        bounds, cond_seq, cell_seq, ctrl_seq = self._plan()
        for pos in bounds:
            cond = cond_seq[pos]
            distinct, local = np.unique(cond, return_inverse=True)
            yield Batch(
                control_x=torch.from_numpy(self._dense(ctrl_seq[pos])),
                target_x=torch.from_numpy(self._dense(cell_seq[pos])),
                condition_index=torch.from_numpy(local.astype(np.int64)),
                conditions=[self.conditions[i] for i in distinct],
                de_index=torch.from_numpy(self._de[distinct]),
                pert_index=torch.from_numpy(self._pert[distinct]),
                cell_index=torch.from_numpy(cell_seq[pos].astype(np.int64)),
                control_index=torch.from_numpy(ctrl_seq[pos].astype(np.int64)),
            )
