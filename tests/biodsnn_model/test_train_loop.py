"""The training loop by hand, on a one-parameter module (milliseconds): loss averages, the kept epoch, clipping, a
non-finite loss, the per-epoch noise generator, checkpoints, resume and the log. (Mutation check: with only the
model's fits covering it, these branches had no direct test.)"""

from __future__ import annotations

import math

import pytest
import torch

from biodsnn.config import epoch_seed
from biodsnn.train import CHECKPOINT, LOG_FILE, TrainConfig, epoch_generator, train
from reactomenet.errors import InputError


class One(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))


def _run(metrics=None, *, epochs=3, run_dir=None, resume=None, options=None, module=None, loss=None,
         grad_clip=0.0, seen=None):
    """Loss ``w`` (gradient 1: Adam moves w by exactly lr = 0.1 per step), two batches per epoch, validation
    metrics scripted per epoch."""
    module = module or One()
    scripted = iter(metrics or [])
    result = train(module, batches=lambda e: [e, e], n_batches=lambda e: 2,
                   loss=loss or (lambda b, g: module.w.sum()),
                   validate=lambda: next(scripted, float("nan")),
                   config=TrainConfig(epochs=epochs, lr=0.1, weight_decay=0.0, lr_step=100, lr_gamma=0.5,
                                      grad_clip=grad_clip, seed=5),
                   run_dir=run_dir, options=options, progress=False,
                   **({} if resume is None else {"resume": resume}))  # None: train's default (no resume)
    return module, result


def test_history_holds_each_epochs_mean_loss_and_the_lowest_validation_epoch_is_kept() -> None:
    # steps move w to -0.1, -0.2, …; an epoch's loss is the mean of w before its two steps
    module, res = _run([3.0, 1.0, 1.0, 2.0], epochs=4)
    assert [h["epoch"] for h in res.history] == [1, 2, 3, 4]
    assert [h["train_loss"] for h in res.history] == pytest.approx([-0.05, -0.25, -0.45, -0.65], rel=1e-6)
    assert [h["val_top20_de_mse"] for h in res.history] == [3.0, 1.0, 1.0, 2.0]
    assert [h["lr"] for h in res.history] == [0.1] * 4
    # epochs 2 and 3 tie at 1.0: the later is kept (its weights: six steps, w = -0.6)
    assert (res.best_epoch, res.best_metric) == (3, 1.0)
    assert float(module.w.detach()) == pytest.approx(-0.6, rel=1e-6)


def test_without_validation_the_last_epoch_is_kept() -> None:
    module, res = _run([], epochs=3)
    assert res.best_epoch == 3 and res.best_metric == math.inf
    assert float(module.w.detach()) == pytest.approx(-0.6, rel=1e-6)


def test_gradients_are_clipped_only_when_asked(monkeypatch) -> None:
    calls = []
    real = torch.nn.utils.clip_grad_norm_
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", lambda p, n: calls.append(n) or real(p, n))
    _run(epochs=1, grad_clip=0.5)
    assert calls == [0.5, 0.5]
    calls.clear()
    _run(epochs=1, grad_clip=0.0)
    assert calls == []


def test_a_non_finite_loss_stops_training_naming_epoch_step_and_rate() -> None:
    module = One()

    def loss(batch, gen):  # finite for epoch 1; NaN at the second step of epoch 2
        return module.w.sum() * (math.nan if batch == 1 and float(module.w.detach()) < -0.25 else 1.0)

    with pytest.raises(InputError, match=r"the loss is nan at epoch 2, step 2 \(lr 0\.1\)"):
        _run(epochs=3, module=module, loss=loss)


def test_each_epoch_draws_from_its_own_seeded_generator() -> None:
    seeds = []
    module = One()

    def loss(batch, gen):
        seeds.append(gen.initial_seed())
        return module.w.sum()

    _run(epochs=2, module=module, loss=loss)
    # seed 5; the noise generator is one past the epoch's batch-plan seed, rank 0
    assert seeds == [epoch_seed(5, 0) + 1] * 2 + [epoch_seed(5, 1) + 1] * 2
    assert epoch_generator(5, 1, rank=2).initial_seed() == epoch_seed(5, 1) + 1 + 2 * 1_000_000_007


def _noisy(module):
    return lambda b, g: module.w.sum() * (1.0 + torch.rand(1, generator=g, dtype=torch.float64).sum())


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path) -> None:
    metrics = [4.0, 2.0, 3.0, 1.0, 5.0]
    straight = One()
    _, full = _run(metrics, epochs=5, run_dir=tmp_path / "a", module=straight, loss=_noisy(straight),
                   options={"k": 1})
    half = One()
    _, first = _run(metrics[:2], epochs=2, run_dir=tmp_path / "b", module=half, loss=_noisy(half), options={"k": 1})
    ckpt = torch.load(tmp_path / "b" / CHECKPOINT, weights_only=True)
    assert (ckpt["epoch"], ckpt["best_epoch"], ckpt["best_metric"], ckpt["options"]) == (2, 2, 2.0, {"k": 1})
    assert torch.equal(ckpt["best_state"]["w"], ckpt["module"]["w"])
    again = One()
    _, resumed = _run(metrics[2:], epochs=5, run_dir=tmp_path / "b", resume=True, module=again, loss=_noisy(again),
                      options={"k": 1})
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3, 4, 5]
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in full.history]
    assert (resumed.best_epoch, resumed.best_metric) == (full.best_epoch, full.best_metric) == (4, 1.0)
    assert torch.equal(again.w, straight.w)
    log = (tmp_path / "b" / LOG_FILE).read_text()
    assert "resumed from" in log and "after epoch 2" in log and "epoch 5/5 loss" in log
    assert "kept the weights of epoch 4" in log
    # a resume with other options is refused, naming the option; without resume the run starts again
    with pytest.raises(InputError, match=r"options differ .*k 1 → 2"):
        _run(epochs=5, run_dir=tmp_path / "b", resume=True, options={"k": 2})
    with pytest.raises(InputError, match=r"options differ .*m None → 3"):  # a new option counts too
        _run(epochs=5, run_dir=tmp_path / "b", resume=True, options={"k": 1, "m": 3})
    fresh = One()
    _, restarted = _run(epochs=1, run_dir=tmp_path / "b", module=fresh, options={"k": 1})
    assert [h["epoch"] for h in restarted.history] == [1] and float(fresh.w.detach()) == pytest.approx(-0.2, rel=1e-6)
    assert first.best_epoch == 2


def test_a_checkpoint_of_the_best_epoch_survives_a_resume_that_improves_on_nothing(tmp_path) -> None:
    # best epoch 1 (1.0) in the first part; the resumed epochs are worse: epoch 1's weights come back from the file
    half = One()
    _run([1.0, 2.0], epochs=2, run_dir=tmp_path, module=half)
    again = One()
    _, res = _run([3.0], epochs=3, run_dir=tmp_path, resume=True, module=again)
    assert res.best_epoch == 1 and float(again.w.detach()) == pytest.approx(-0.2, rel=1e-6)
