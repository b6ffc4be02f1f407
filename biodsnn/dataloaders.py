"""Training batches (torch): a random control cell as input, the perturbed cell as target.

The layer between the torch-free data (``biodsnn.data``, which it reads) and the model (which reads its batches), as
scvi-tools' ``dataloaders`` sit between ``scvi.data`` and its models. The batch plan (which rows go together) is
drawn with numpy; only :meth:`BatchIterator.__iter__` makes tensors.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from biodsnn.config import TrainConfig, epoch_seed
from biodsnn.data import PerturbData, canonical_condition, parse_condition
from biodsnn.distributed import shard
from reactomenet.errors import InputError


@dataclass(frozen=True)
class Batch:
    """One training batch: perturbed cells (of one condition, or of several with ``mixed``) with a control cell each.

    Attributes:
        control_x: FloatTensor[B, G], a random control cell (of the condition's context) per perturbed cell.
        target_x: FloatTensor[B, G], the perturbed cells.
        condition_index: LongTensor[B] into ``conditions``.
        conditions: The distinct conditions of this batch (canonical names).
    """

    control_x: torch.Tensor
    target_x: torch.Tensor
    condition_index: torch.Tensor
    conditions: list[str]

    def __len__(self) -> int:
        return int(self.target_x.shape[0])


@dataclass(frozen=True)
class BatchRows:
    """The rows of one batch in the data (what :class:`Batch` densifies): numpy, no torch.

    Attributes:
        conditions: The distinct conditions of the batch.
        condition_index: int64 [B] into ``conditions``.
        cells: int64 [B], rows of the perturbed cells.
        controls: int64 [B], rows of their paired control cells.
    """

    conditions: list[str]
    condition_index: np.ndarray
    cells: np.ndarray
    controls: np.ndarray


class BatchIterator:
    """Re-iterable batches over the cells of ``conditions`` (default: all perturbations), one condition per batch.

    A condition with ``n`` cells gives ``ceil(n / batch_size)`` batches of near-equal size, so an epoch costs one
    knowledge-stream pass per batch. With ``mixed`` (GEARS' DataLoader, which the paper's code uses), the cells of
    all conditions are shuffled together and cut into ``ceil(N / batch_size)`` batches of near-equal size, so a batch
    holds several conditions (GEARS' BatchNorm needs them). Either way every cell comes once per epoch, with a random
    control cell of its own context. With ``with_control`` the control cells are trained on too, as GEARS' training
    set holds them: each context's control unit (``ctrl`` or ``CONTEXT|ctrl``) is one more condition whose cells are
    their own input (no perturbation: the network should predict no change). The order of conditions, of cells and
    of batches and the control partners are drawn from ``seed`` and ``epoch`` (:func:`biodsnn.config.epoch_seed`):
    each pass yields the same batches. X is densified one batch at a time. With ``world_size`` > 1 (multi-process
    training) it yields rank ``rank``'s share of the epoch's batches (:func:`biodsnn.distributed.shard` applied to the
    seeded plan, the same on every rank).

    Example:
        >>> from biodsnn.data import simulate, load_perturb_data
        >>> data = load_perturb_data(simulate(preset="tiny", seed=0, progress=False))
        >>> it = BatchIterator(data, batch_size=16, seed=0)
        >>> sum(len(b) for b in it) == sum(len(data.cells_of(c)) for c in data.conditions)
        True
    """

    def __init__(self, data: PerturbData, conditions: Sequence[str] | None = None, *,
                 batch_size: int = TrainConfig.batch_size, seed: int = 0, epoch: int = 0, rank: int = 0,
                 world_size: int = 1, mixed: bool = False, with_control: bool = False) -> None:
        if batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size}")
        conds = data.conditions if conditions is None else [canonical_condition(c) for c in conditions]
        conds = sorted(c for c in set(conds) if parse_condition(c))
        if not conds:
            raise InputError("no perturbation conditions to batch; give training conditions (not only ctrl)")
        if len(data.control_cells) == 0:
            raise InputError("no control cells to pair with perturbed cells")
        self.data = data
        self._rows = [data.cells_of(c) for c in conds]
        contexts = [data.context_of(c) for c in conds]
        self._n_perturbed = len(conds)  # conditions from here on are control units, each cell its own partner
        if with_control:
            for ctx in data.contexts:
                conds = [*conds, "ctrl" if ctx is None else f"{ctx}|ctrl"]
                self._rows.append(np.asarray(data.control_cells_of(ctx), dtype=np.int64))
                contexts.append(ctx)
        self.conditions = conds
        # each condition's control pool: its context's control cells (one pool for data of one context)
        self._pools = {ctx: data.control_cells_of(ctx) for ctx in dict.fromkeys(contexts)}
        empty = [str(ctx) for ctx, pool in self._pools.items() if len(pool) == 0]
        if empty:
            raise InputError(f"context(s) {', '.join(empty)} have no control cells to pair with perturbed cells")
        self._context_of = contexts
        self.batch_size = batch_size
        self.mixed = bool(mixed)
        self.seed, self.epoch = seed, epoch
        # several training processes: each takes its share of the epoch's (identical, seeded) batch plan
        self.rank, self.world_size = int(rank), int(world_size)

    def _plan(self) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
        if self.mixed:  # its own stream (1), so the one-condition plan (stream 0) stays that of earlier runs
            rng = np.random.default_rng([epoch_seed(self.seed, self.epoch), 1])
            mix = rng.permutation(sum(len(r) for r in self._rows))
            cond_seq = np.concatenate([np.full(len(r), i) for i, r in enumerate(self._rows)])[mix]
            cell_seq = np.concatenate(self._rows)[mix]
            ctrl_seq = self._controls(rng, cond_seq, cell_seq)
            bounds = np.array_split(np.arange(len(cell_seq)), -(-len(cell_seq) // self.batch_size))
        else:
            rng = np.random.default_rng([epoch_seed(self.seed, self.epoch), 0])  # 0: the stream of earlier runs
            order = rng.permutation(len(self.conditions))
            cond_seq = np.concatenate([np.full(len(self._rows[i]), i) for i in order])
            cell_seq = np.concatenate([rng.permutation(self._rows[i]) for i in order])
            ctrl_seq = self._controls(rng, cond_seq, cell_seq)
            bounds, start = [], 0
            for i in order:  # one condition's cells occupy start .. start + n
                n = len(self._rows[i])
                bounds += np.array_split(np.arange(start, start + n), -(-n // self.batch_size))
                start += n
            bounds = [bounds[i] for i in rng.permutation(len(bounds))]
        return shard(bounds, self.rank, self.world_size), cond_seq, cell_seq, ctrl_seq

    def _controls(self, rng: np.random.Generator, cond_seq: np.ndarray, cell_seq: np.ndarray) -> np.ndarray:
        """A random control cell of each cell's own context (its condition's); a control cell is its own."""
        if len(self._pools) == 1:
            ctrl = next(iter(self._pools.values()))
            ctrl_seq = ctrl[rng.integers(0, len(ctrl), size=len(cond_seq))]
        else:
            ctrl_seq = np.empty(len(cond_seq), dtype=np.int64)
            u = rng.random(len(cond_seq))
            for ctx, pool in self._pools.items():
                at = np.isin(cond_seq, [i for i, c in enumerate(self._context_of) if c == ctx])
                ctrl_seq[at] = pool[np.minimum((u[at] * len(pool)).astype(np.int64), len(pool) - 1)]
        own = cond_seq >= self._n_perturbed  # GEARS: a control cell is input and target at once
        ctrl_seq[own] = cell_seq[own]
        return ctrl_seq

    def __len__(self) -> int:
        """Batches per epoch (this rank's share when several processes train: the same on every rank)."""
        n_batches = (-(-sum(len(r) for r in self._rows) // self.batch_size) if self.mixed
                     else sum(-(-len(r) // self.batch_size) for r in self._rows))
        return -(-n_batches // self.world_size) if n_batches else 0

    def rows(self) -> Iterator[BatchRows]:
        """The batches as row indices into the data (no torch), in the order :meth:`__iter__` yields them.

        Example:
            >>> from biodsnn.data import simulate, load_perturb_data
            >>> data = load_perturb_data(simulate(preset="tiny", seed=0, progress=False))
            >>> first = next(BatchIterator(data, batch_size=8, seed=0).rows())
            >>> set(first.controls) <= set(data.control_cells)
            True
        """
        bounds, cond_seq, cell_seq, ctrl_seq = self._plan()
        for pos in bounds:
            distinct, local = np.unique(cond_seq[pos], return_inverse=True)
            yield BatchRows([self.conditions[i] for i in distinct], local.astype(np.int64),
                            cell_seq[pos].astype(np.int64), ctrl_seq[pos].astype(np.int64))

    def _dense(self, rows: np.ndarray) -> np.ndarray:
        x = self.data.X[rows]
        return (x.toarray() if sp.issparse(x) else np.asarray(x)).astype(np.float32, copy=False)

    def __iter__(self) -> Iterator[Batch]:
        for b in self.rows():
            yield Batch(control_x=torch.from_numpy(self._dense(b.controls)),
                        target_x=torch.from_numpy(self._dense(b.cells)),
                        condition_index=torch.from_numpy(b.condition_index), conditions=b.conditions)


__all__ = ["Batch", "BatchIterator", "BatchRows"]
