"""Multi-process training (torchrun, gloo, DistributedDataParallel) on a tiny simulated screen.

Two CPU processes train one model under ``torchrun -m biodsnn fit``: once from a fresh start on backed (out-of-core)
data, once with ``--resume`` from a checkpoint (rank 0 reads it and sends it on). The weights must equal those of one
process that takes, at every optimiser step, the mean loss of the same two batches (what DDP's averaged gradient
is), with the same VAE noise per rank; the run folder must hold the files a single-process run writes. Two torchrun
starts only: each costs seconds of imports per process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from biodsnn import distributed
from biodsnn.model import BioDSNN
from biodsnn.train import CHECKPOINT, epoch_generator
from cli.biodsnn import main as biodsnn

from .conftest import simulated_screen

ROOT = Path(__file__).resolve().parents[2]
WORLD = 2
TRAIN = ["--batch-size", "16", "--seed", "0", "--set", "hidden=16", "--set", "d_ff=32", "--set", "n_control_predict=64"]
HPARAMS = {"batch_size": 16, "hidden": 16, "d_ff": 32, "n_control_predict": 64}


@pytest.fixture(scope="module")
def screen(tmp_path_factory) -> dict[str, Path]:
    return simulated_screen(tmp_path_factory.mktemp("ddp"))


def _torchrun(screen: dict[str, Path], run: Path, *extra: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "BIODSNN_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1", "--nproc_per_node",
           str(WORLD), "-m", "biodsnn", "fit", "--data", str(screen["data"]), "--knowledge", str(screen["knowledge"]),
           "--split", str(screen["split"]), "-o", str(run), *TRAIN, *extra]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


def _reference(screen: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> BioDSNN:
    """One process; each step takes the mean loss of rank 0's and rank 1's batch, each with its rank's noise."""
    ref = BioDSNN(str(screen["data"]), screen["knowledge"], split=screen["split"], seed=0, **HPARAMS)
    noise: list[torch.Generator] = []

    def rank_batches(rank: int, epoch: int):
        with monkeypatch.context() as m:  # the iterator keeps the rank it was built for
            m.setattr(distributed, "rank_and_world", lambda: (rank, WORLD))
            return ref._batch_iterator(epoch)

    def grouped(epoch: int):
        noise[:] = [epoch_generator(ref.seed, epoch, ref.device, rank=r) for r in range(WORLD)]
        return zip(*(rank_batches(r, epoch) for r in range(WORLD)), strict=True)

    def group_loss(group, _generator):
        return sum(BioDSNN.batch_loss(ref, b, g) for b, g in zip(group, noise, strict=True)) / WORLD

    ref._batches = grouped
    ref._n_batches = lambda epoch: len(rank_batches(0, epoch))
    ref.batch_loss = group_loss
    return ref


def test_shard_deals_the_same_plan_to_every_rank_with_equal_counts() -> None:
    items = list(range(7))
    parts = [distributed.shard(items, r, 3) for r in range(3)]
    assert [len(p) for p in parts] == [3, 3, 3]
    assert sorted(x for p in parts for x in p) == sorted([*items, 0, 1])  # padded with the first items
    assert distributed.shard(items, 0, 1) == items
    with pytest.raises(ValueError):
        distributed.shard(items, 3, 3)


def test_two_gloo_processes_train_the_weights_of_one_process_with_the_same_batches(screen, monkeypatch) -> None:
    # epoch 1 by the one-process reference; epoch 2 by both: two torchrun processes resuming from the checkpoint
    # (rank 0 reads it and sends it to rank 1), and the reference resuming in-process
    ref = _reference(screen, monkeypatch)
    ref_dir, ddp = screen["tmp"] / "reference", screen["tmp"] / "ddp"
    ref.fit(1, run_dir=ref_dir, progress=False)
    ddp.mkdir()
    shutil.copy(ref_dir / CHECKPOINT, ddp / CHECKPOINT)
    _torchrun(screen, ddp, "--epochs", "2", "--resume")
    log = (ddp / "train.log").read_text()
    assert "resumed from" in log and "training on 2 processes (torch.distributed, gloo)" in log
    ref.fit(2, run_dir=ref_dir, resume=True, progress=False)

    got = torch.load(ddp / "model.pt", weights_only=True)
    want = ref.module.state_dict()
    assert set(got) == set(want)
    for key, value in want.items():
        torch.testing.assert_close(got[key], value.cpu(), rtol=1e-4, atol=1e-5, msg=lambda m, k=key: f"{k}: {m}")

    single = screen["tmp"] / "single"
    r = CliRunner().invoke(biodsnn, ["fit", "--data", screen["data"], "--knowledge", screen["knowledge"], "--split",
                                     screen["split"], "-o", single, "--epochs", "2", *TRAIN])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in ddp.iterdir()) == sorted(p.name for p in single.iterdir())
    # one process over all batches takes twice the steps: other weights (the comparison above can fail)
    alone = torch.load(single / "model.pt", weights_only=True)
    assert max(float((alone[k] - got[k]).abs().max()) for k in got if got[k].is_floating_point()) > 1e-3


def test_two_gloo_processes_from_a_fresh_start_on_backed_data_train_the_weights_of_one_process(screen,
                                                                                            monkeypatch) -> None:
    # a fresh start (no checkpoint: each rank initialises from the seed, DDP checks they agree) with X left in the
    # file (--backed), as a multi-process run on a large screen goes; the reference reads the data in memory
    ref = _reference(screen, monkeypatch)
    ref.fit(1, run_dir=screen["tmp"] / "reference-fresh", progress=False)
    ddp = screen["tmp"] / "ddp-fresh"
    _torchrun(screen, ddp, "--epochs", "1", "--backed")
    assert "training on 2 processes (torch.distributed, gloo)" in (ddp / "train.log").read_text()
    got, want = torch.load(ddp / "model.pt", weights_only=True), ref.module.state_dict()
    assert set(got) == set(want)
    for key, value in want.items():
        torch.testing.assert_close(got[key], value.cpu(), rtol=1e-4, atol=1e-5, msg=lambda m, k=key: f"{k}: {m}")
