"""Multi-process training with PyTorch's own engine: ``torch.distributed`` + ``DistributedDataParallel``.

Nothing here is home-made: ``torchrun`` starts the processes and sets ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK``,
``torch.distributed`` connects them (gloo on CPU, NCCL on CUDA GPUs) and ``DistributedDataParallel`` averages the
gradients. This module only holds the few decisions of our own, each in one place:

* which of an epoch's batches a rank trains on (:func:`shard`: the seeded epoch's batch list dealt round-robin,
  padded so that every rank takes the same number of steps, as ``torch.utils.data.DistributedSampler`` does);
* which device a rank uses (``cuda:LOCAL_RANK`` for ``--device cuda``);
* that rank 0 alone writes the run folder and reads the checkpoint it then sends to the others.

Example (two CPU processes on one machine)::

    torchrun --standalone --nproc_per_node 2 -m biodsnn fit --data perturb.h5ad --knowledge knowledge/ -o run/
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, TypeVar

import torch

from reactomenet.errors import InputError

T = TypeVar("T")


def env_world_size() -> int:
    """The number of processes ``torchrun`` started (``WORLD_SIZE``; 1 outside torchrun).

    Example:
        >>> env_world_size() >= 1
        True
    """
    try:
        return max(int(os.environ.get("WORLD_SIZE", "1")), 1)
    except ValueError:
        raise InputError(f"WORLD_SIZE={os.environ['WORLD_SIZE']!r} is not a whole number; start the processes "
                         "with torchrun") from None


def is_distributed() -> bool:
    """Whether this process is one of several joined in a ``torch.distributed`` process group.

    Example:
        >>> is_distributed()
        False
    """
    return torch.distributed.is_available() and torch.distributed.is_initialized() \
        and torch.distributed.get_world_size() > 1


def rank_and_world() -> tuple[int, int]:
    """``(rank, world size)`` of this process; ``(0, 1)`` when it trains alone.

    Example:
        >>> rank_and_world()
        (0, 1)
    """
    if not is_distributed():
        return 0, 1
    return torch.distributed.get_rank(), torch.distributed.get_world_size()


def is_writer() -> bool:
    """Whether this process writes files (rank 0, or a process training alone).

    Example:
        >>> is_writer()
        True
    """
    return rank_and_world()[0] == 0


def shard(items: Sequence[T], rank: int, world_size: int) -> list[T]:
    """The items rank ``rank`` of ``world_size`` takes: every ``world_size``-th, starting at ``rank``.

    The list is first padded with its own first items to a multiple of ``world_size`` (as torch's
    ``DistributedSampler`` pads), so every rank gets the same count and ``DistributedDataParallel``'s collective
    calls stay in step; with ``world_size`` 1 the items are returned as they are. Apply it to the epoch's seeded batch
    plan (the same on every rank), never to a per-rank draw.

    Example:
        >>> shard([0, 1, 2, 3, 4], 0, 2), shard([0, 1, 2, 3, 4], 1, 2)
        ([0, 2, 4], [1, 3, 0])
        >>> shard(["a"], 1, 3)
        ['a']
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in 0..{world_size - 1}")
    items = list(items)
    if world_size == 1 or not items:
        return items
    total = -(-len(items) // world_size) * world_size
    padded = (items * (-(-total // len(items))))[:total]
    return padded[rank::world_size]


def setup(device: str | torch.device) -> torch.device:
    """Join the process group ``torchrun`` announced, if any, and return this rank's device.

    gloo for the CPU, NCCL for CUDA (each rank on ``cuda:LOCAL_RANK``). Without torchrun (``WORLD_SIZE`` unset or
    1) nothing is joined and the device is returned as given.

    Example:
        >>> setup("cpu")
        device(type='cpu')
    """
    device = torch.device(device)
    if env_world_size() == 1 or is_distributed():
        return device if not is_distributed() or device.type != "cuda" else _rank_device(device)
    if not torch.distributed.is_available():
        raise InputError("this torch build has no torch.distributed; run one process (python -m biodsnn fit)")
    if device.type not in ("cpu", "cuda"):
        raise InputError(f"multi-process training runs on cpu (gloo) or cuda (NCCL), not {device.type}; use "
                         "--device cpu or --device cuda")
    if device.type == "cuda":
        device = _rank_device(device)
        torch.cuda.set_device(device)
    torch.distributed.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return device


def _rank_device(device: torch.device) -> torch.device:
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if local >= torch.cuda.device_count():
        raise InputError(f"local rank {local} has no GPU: this machine has {torch.cuda.device_count()}; start at "
                         "most that many processes per node (--nproc_per_node)")
    return torch.device("cuda", local)


def teardown() -> None:
    """Leave the process group (when one was joined).

    Example:
        >>> teardown()
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def wrap(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``module`` under ``DistributedDataParallel`` when several processes train, else ``module`` itself.

    Buffers are not re-broadcast at every forward (ours are constants: graphs, masks, control means), and parameters
    a batch does not touch (the interaction head on a single, for one) are allowed.

    Example:
        >>> m = torch.nn.Linear(1, 1)
        >>> wrap(m, torch.device("cpu")) is m
        True
    """
    if not is_distributed():
        return module
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    # constant buffers need no sync at every forward (the option was renamed in torch 2.13)
    no_sync = ({"forward_sync_buffers": False}
               if "forward_sync_buffers" in inspect.signature(DistributedDataParallel.__init__).parameters
               else {"broadcast_buffers": False})
    return DistributedDataParallel(module, device_ids=ids, output_device=ids[0] if ids else None,
                                   find_unused_parameters=True, **no_sync)


def all_reduce_sum(values: Sequence[float], device: torch.device | str = "cpu") -> list[float]:
    """The element-wise sum of ``values`` over all ranks (the values themselves when training alone).

    Example:
        >>> all_reduce_sum([1.0, 2.0])
        [1.0, 2.0]
    """
    if not is_distributed():
        return [float(v) for v in values]
    dev = torch.device(device) if torch.distributed.get_backend() == "nccl" else torch.device("cpu")
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=dev)
    torch.distributed.all_reduce(t)
    return t.cpu().tolist()


def broadcast(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (pickled by ``torch.distributed``; tensors travel on the CPU).

    Example:
        >>> broadcast({"epoch": 3})
        {'epoch': 3}
    """
    if not is_distributed():
        return obj
    box = [obj]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


__all__ = ["all_reduce_sum", "broadcast", "env_world_size", "is_distributed", "is_writer", "rank_and_world",
           "setup", "shard", "teardown", "wrap"]
