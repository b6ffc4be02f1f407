"""The training loop: Adam + StepLR + gradient clipping, best epoch on a validation metric, resumable checkpoints.

Model-agnostic: the caller gives a batch source, a loss function and a validation function (see
:class:`biodsnn.model.BioDSNN` for the BioDSNN wiring). Same seed → same numbers: batch order and VAE noise are drawn
from generators seeded by (seed, epoch), so a resumed run continues exactly where a run that was never killed would be.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from biodsnn.config import TrainConfig, epoch_seed
from reactomenet.console import progress_bar
from reactomenet.errors import InputError
from reactomenet.io import atomic_output

CHECKPOINT = "checkpoint.pt"
LOG_FILE = "train.log"
LOCK_FILE = ".biodsnn.lock"
#: What a run folder holds (the only names a fit replaces there).
RUN_FILES = ("config.json", "split.json", "model.pt", "history.parquet", LOG_FILE, CHECKPOINT, LOCK_FILE)


def resolve_device(name: str | torch.device) -> torch.device:
    """The torch device for ``name``; InputError for a name torch does not know or a GPU this machine lacks.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
        >>> resolve_device("banana")
        Traceback (most recent call last):
        ...
        reactomenet.errors.InputError: unknown device 'banana'; use cpu, cuda or cuda:N (a GPU), or mps (Apple)
    """
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise InputError(f"unknown device {str(name)!r}; use cpu, cuda or cuda:N (a GPU), or mps (Apple)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {str(name)!r}: no CUDA GPU is available on this machine; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(f"device {str(name)!r}: this machine has {torch.cuda.device_count()} GPU(s); "
                             "use cuda:0 … or cpu")
    elif device.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise InputError(f"device {str(name)!r}: no Apple GPU (MPS) is available on this machine; use --device cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise InputError(f"device {str(name)!r} is not supported; use cpu, cuda or mps")
    return device


@contextlib.contextmanager
def run_folder(run_dir: str | os.PathLike[str], *, inputs: Iterable[str | os.PathLike[str] | None] = (),
               overwrite: bool = False) -> Iterator[Path]:
    """Guard, lock and clean up a run folder around a fit.

    Refuses a folder holding other files or an input (unless ``overwrite``; see
    :func:`reactomenet.io.check_output_folder`), and one another fit holds (a lock that dies with its process). If
    the block fails, what it created goes (the whole folder if it was new), so a failed fit leaves no half run; an
    interrupt (Ctrl-C) keeps ``checkpoint.pt`` for ``--resume``.

    Example:
        >>> import tempfile, pathlib
        >>> run = pathlib.Path(tempfile.mkdtemp()) / "run"
        >>> try:
        ...     with run_folder(run):
        ...         raise ValueError("diverged")
        ... except ValueError:
        ...     pass
        >>> run.exists()
        False
    """
    import shutil

    from reactomenet.io import check_output_folder, folder_lock

    target = check_output_folder(run_dir, own=RUN_FILES, inputs=inputs, overwrite=overwrite, what="run folder")
    existed = target.exists()
    before = {p.name for p in target.iterdir()} if existed else set()
    with folder_lock(target, name=LOCK_FILE, what="run folder"):
        try:
            yield target
        except Exception:
            if not existed:
                shutil.rmtree(target, ignore_errors=True)
            else:
                for p in target.iterdir():
                    if p.name not in before and p.name != LOCK_FILE and p.is_file():
                        p.unlink(missing_ok=True)
            raise


def check_finite(module: torch.nn.Module, what: str) -> None:
    """Raise InputError naming the first parameter of ``module`` holding NaN or infinity.

    Example:
        >>> m = torch.nn.Linear(1, 1)
        >>> check_finite(m, "the weights")
        >>> with torch.no_grad():
        ...     _ = m.bias.fill_(float("nan"))
        >>> check_finite(m, "the weights")
        Traceback (most recent call last):
        ...
        reactomenet.errors.InputError: the weights hold NaN or infinite values (bias); ...
    """
    for name, tensor in module.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise InputError(f"{what} hold NaN or infinite values ({name}); lower the learning rate (--lr) or check "
                             "the loss options (--set), and fit again")


def parameter_groups(module: torch.nn.Module, weight_decay: float, *, decay_biases: bool = False
                     ) -> list[dict[str, Any]]:
    """Adam parameter groups: ``weight_decay`` on tensors with ndim ≥ 2, none on biases and norm gains.

    With ``decay_biases`` every parameter is decayed (one group), as GEARS and the paper's code do.

    Example:
        >>> groups = parameter_groups(torch.nn.Linear(3, 2), 5e-4)
        >>> [(len(g["params"]), g["weight_decay"]) for g in groups]
        [(1, 0.0005), (1, 0.0)]
    """
    params = [p for p in module.parameters() if p.requires_grad]
    if decay_biases:
        return [{"params": params, "weight_decay": weight_decay}]
    return [{"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]


@dataclass
class TrainResult:
    """What a fit leaves behind: per-epoch history and the epoch whose weights were kept."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_metric: float = math.inf


def epoch_generator(seed: int, epoch: int, device: torch.device | str = "cpu", rank: int = 0) -> torch.Generator:
    """A generator seeded by (seed, epoch, rank): the same numbers whether or not the run was resumed.

    Each rank of a multi-process fit draws its own noise (rank 0's is a single process's).

    Example:
        >>> a = torch.rand(1, generator=epoch_generator(0, 1))
        >>> bool(a == torch.rand(1, generator=epoch_generator(0, 1)))
        True
        >>> bool(a == torch.rand(1, generator=epoch_generator(0, 1, rank=1)))
        False
    """
    # + 1: the noise of an epoch does not start from the seed of its batch plan; each rank draws its own
    return torch.Generator(device=device).manual_seed(epoch_seed(seed, epoch) + 1 + int(rank) * 1_000_000_007)


def _logger(run_dir: Path | None) -> tuple[logging.Logger, logging.Handler | None]:
    log = logging.getLogger(f"biodsnn.train.{id(run_dir)}")
    log.setLevel(logging.INFO)
    log.propagate = False
    handler = None
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(run_dir / LOG_FILE, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(handler)
    return log, handler


def _read_checkpoint(path: Path, options: Mapping[str, Any] | None, run_path: Path | None,
                     device: torch.device | str) -> dict[str, Any] | None:
    """The checkpoint at ``path`` (None when there is none); InputError for an unreadable one or other options."""
    if not path.exists():
        return None
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # truncated or foreign file: torch raises several types
        raise InputError(f"cannot resume from {path}: not a readable checkpoint ({exc.__class__.__name__}); "
                         "remove it to start again") from exc
    recorded = ckpt.get("options") if isinstance(ckpt, dict) else None
    if options is not None and recorded is not None:
        changed = [k for k in sorted(set(options) | set(recorded)) if options.get(k) != recorded.get(k)]
        if changed:
            shown = ", ".join(f"{k} {recorded.get(k)!r} → {options.get(k)!r}" for k in changed[:6])
            raise InputError(f"cannot resume {run_path}: options differ from the checkpoint's ({shown}); resume "
                             "with the original options, or fit into a new folder without --resume")
    if not isinstance(ckpt, dict):
        raise InputError(f"cannot resume from {path}: not a BioDSNN checkpoint; remove it to start again")
    return ckpt


def train(module: torch.nn.Module, *, batches: Callable[[int], Iterable[Any]], n_batches: Callable[[int], int],
          loss: Callable[[Any, torch.Generator], torch.Tensor], validate: Callable[[], float],
          config: TrainConfig, run_dir: str | Path | None = None, resume: bool = False,
          device: torch.device | str = "cpu", progress: bool = True,
          options: Mapping[str, Any] | None = None) -> TrainResult:
    """Train ``module`` in place; on return it holds the weights of the best validation epoch.

    Args:
        module: the network. batches: ``epoch → iterable of batches``. n_batches: ``epoch → count`` (progress).
        loss: ``(batch, generator) → scalar loss``. validate: ``() → metric`` (lower is better; NaN = none).
        config: optimiser, schedule, epochs, seed.
        run_dir: where ``checkpoint.pt`` and ``train.log`` go (None: nowhere).
        resume: continue from ``run_dir/checkpoint.pt`` when it exists.
        options: what defines the run (recorded in the checkpoint); a resume whose options differ is refused.

    A non-finite loss stops training with an InputError naming the epoch and step; weights are checked finite after
    every epoch, so no checkpoint holds NaN.

    In a multi-process fit (``torch.distributed`` joined, :mod:`biodsnn.distributed`) every rank runs this loop on
    its own ``batches`` (the caller shards them and routes ``loss`` through DistributedDataParallel); only rank 0
    writes ``checkpoint.pt`` and ``train.log`` and shows progress, a resume reads rank 0's checkpoint on every rank,
    each rank draws its own noise (:func:`epoch_generator` with its rank), and the epoch's loss is averaged over ranks.

    Example:
        >>> m = torch.nn.Linear(1, 1)
        >>> data = [torch.ones(4, 1)]
        >>> res = train(m, batches=lambda e: data, n_batches=lambda e: 1,
        ...             loss=lambda b, g: (m(b) - 2).pow(2).mean(), validate=lambda: float("nan"),
        ...             config=TrainConfig(epochs=2), progress=False)
        >>> len(res.history)
        2
    """
    from biodsnn import distributed

    rank, world = distributed.rank_and_world()
    writer = rank == 0  # only rank 0 writes checkpoint.pt and train.log (and reads the checkpoint for the others)
    run_path = Path(run_dir) if run_dir is not None else None
    optimizer = torch.optim.Adam(parameter_groups(module, config.weight_decay,
                                                  decay_biases=config.weight_decay_biases), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.lr_step, gamma=config.lr_gamma)
    result = TrainResult()
    best_state: dict[str, torch.Tensor] | None = None
    start_epoch = 0
    ckpt_path = run_path / CHECKPOINT if run_path is not None else None
    if resume and ckpt_path is not None:
        loaded: Any = None
        if writer:
            try:
                loaded = _read_checkpoint(ckpt_path, options, run_path, "cpu" if world > 1 else device)
            except InputError as exc:
                loaded = exc
        loaded = distributed.broadcast(loaded)  # every rank resumes from rank 0's checkpoint (or fails with it)
        if isinstance(loaded, InputError):
            raise loaded
        if loaded is not None:
            ckpt = loaded
            try:
                module.load_state_dict(ckpt["module"])
                optimizer.load_state_dict(ckpt["optimizer"])
                scheduler.load_state_dict(ckpt["scheduler"])
            except (RuntimeError, KeyError, ValueError, TypeError) as exc:  # ValueError: other parameter groups
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
                raise InputError(f"cannot resume from {ckpt_path}: it does not fit this network ({first[:160]}); "
                                 "remove it to start again") from exc
            start_epoch = int(ckpt["epoch"])
            result.history = [dict(h) for h in ckpt["history"]]
            result.best_epoch, result.best_metric = int(ckpt["best_epoch"]), float(ckpt["best_metric"])
            best_state = ckpt["best_state"]
    if not writer:
        ckpt_path = None
    log, handler = _logger(run_path if writer else None)
    if start_epoch:
        log.info("resumed from %s after epoch %d", ckpt_path, start_epoch)
    if world > 1:
        log.info("training on %d processes (torch.distributed, %s)", world, torch.distributed.get_backend())
    try:
        with progress_bar(enabled=progress and writer) as bar:
            for epoch in range(start_epoch, config.epochs):
                total = n_batches(epoch)
                task = bar.add_task(f"epoch {epoch + 1}/{config.epochs}", total=total, info="")
                gen = epoch_generator(config.seed, epoch, device, rank=rank)
                module.train()
                t0, loss_sum, count = time.perf_counter(), 0.0, 0
                for step, batch in enumerate(batches(epoch), start=1):
                    optimizer.zero_grad(set_to_none=True)
                    value = loss(batch, gen)
                    if not bool(torch.isfinite(value.detach())):
                        raise InputError(
                            f"training stopped: the loss is {float(value.detach())} at epoch {epoch + 1}, step {step} "
                            f"(lr {optimizer.param_groups[0]['lr']:.3g}); lower the learning rate (--lr) or check "
                            "the loss options (--set gamma, direction_weight, …)"
                        )
                    value.backward()
                    if config.grad_clip > 0 and config.clip_by_value:
                        torch.nn.utils.clip_grad_value_(module.parameters(), config.grad_clip)
                    elif config.grad_clip > 0:
                        torch.nn.utils.clip_grad_norm_(module.parameters(), config.grad_clip)
                    optimizer.step()
                    loss_sum += float(value.detach())
                    count += 1
                    bar.update(task, advance=1, info=f"loss {loss_sum / count:.4g}")
                loss_sum, count = distributed.all_reduce_sum([loss_sum, count], device)  # the mean over all ranks
                check_finite(module, f"after epoch {epoch + 1} the weights")
                lr = optimizer.param_groups[0]["lr"]
                scheduler.step()
                module.eval()
                with torch.no_grad():
                    metric = float(validate())
                seconds = time.perf_counter() - t0
                train_loss = loss_sum / max(count, 1.0)
                result.history.append({"epoch": epoch + 1, "train_loss": train_loss, "val_top20_de_mse": metric,
                                       "lr": lr, "seconds": seconds})
                bar.update(task, info=f"loss {train_loss:.4g}  val mse_de20 {metric:.4g}")  # fits 80 columns
                log.info("epoch %d/%d loss %.6g val_top20_de_mse %.6g lr %.3g %.1fs", epoch + 1, config.epochs,
                         train_loss, metric, lr, seconds)
                # the best epoch: lowest validation metric; without validation conditions, the last epoch
                if math.isnan(metric) or metric <= result.best_metric or best_state is None:
                    result.best_metric = metric if not math.isnan(metric) else result.best_metric
                    result.best_epoch = epoch + 1
                    best_state = copy.deepcopy(module.state_dict())
                if ckpt_path is not None:
                    ckpt = {"epoch": epoch + 1, "module": module.state_dict(), "optimizer": optimizer.state_dict(),
                            "scheduler": scheduler.state_dict(), "history": result.history,
                            "best_epoch": result.best_epoch, "best_metric": result.best_metric,
                            "best_state": best_state, "options": dict(options) if options is not None else None}
                    with atomic_output(ckpt_path, suffix=".pt") as tmp:
                        torch.save(ckpt, tmp)
        if best_state is not None:
            module.load_state_dict(best_state)
            log.info("kept the weights of epoch %d (val top-20 DE MSE %.6g)", result.best_epoch, result.best_metric)
    finally:
        if handler is not None:
            log.removeHandler(handler)
            handler.close()
    return result
