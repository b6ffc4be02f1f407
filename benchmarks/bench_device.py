"""The Norman-shaped training epoch on every device of this machine, in one command.

    python benchmarks/bench_device.py                    # CPU always; each CUDA GPU; all GPUs together (DDP)
    python benchmarks/bench_device.py --max-steps 10     # fewer timed steps
    python benchmarks/bench_device.py --ddp-cpu 2        # also 2 CPU processes (gloo): checks the multi-process path
    python benchmarks/bench_device.py --autocast bf16    # the training forward under bfloat16 autocast

For each device: the epoch time extrapolated from ``--max-steps`` optimiser steps (``bench_epoch.time_steps``, the
same loop as ``benchmarks/bench_epoch.py``), cells per second, and the peak memory: the process's peak RSS on the
CPU, ``torch.cuda.max_memory_allocated`` on a GPU. With several GPUs, ``torchrun --standalone --nproc_per_node N``
starts this script once per GPU (``--worker``): one model under DistributedDataParallel (NCCL), each rank timing its
share of the same steps, and the sum of the ranks' cells per second is printed. Uses the data and bundle cached by
``bench_epoch.py`` under ``benchmarks/output/epoch/`` (built on first use: ~2 minutes). Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_epoch import OUT, peak_rss_gb, prepare, time_steps


def build(args: argparse.Namespace, device: torch.device):
    from biodsnn.model import BioDSNN

    data, kb, split = prepare(args.out, seed=0, preset=args.preset)
    opts = {"batch_size": args.batch_size} if args.batch_size else {}
    model = BioDSNN(data, kb, split=split, variant=args.variant, seed=0, device=device, autocast=args.autocast,
                    **opts)
    _ = model.de  # DE genes once, outside the timing
    model._keep = model._keep_table([*split.train, "ctrl"])
    n_total = sum(len(data.cells_of(c)) for c in split.train)
    return model, n_total


def one_device(args: argparse.Namespace, device: torch.device) -> dict:
    model, n_total = build(args, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    time_steps(model, 1)  # warm-up step (CUDA context, kernel choice, the CSR structure), not timed
    took, steps, cells = time_steps(model, args.max_steps)
    peak = (torch.cuda.max_memory_allocated(device) / 1024**3 if device.type == "cuda" else peak_rss_gb())
    row = {"device": str(device), "name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
           "threads": torch.get_num_threads(), "steps": steps, "cells": cells, "seconds": round(took, 2),
           "cells_per_s": round(cells / took, 1), "epoch_s": round(took * n_total / cells, 1),
           "peak_gb": round(peak, 2), "peak_kind": "max_memory_allocated" if device.type == "cuda" else "RSS",
           "autocast": args.autocast}
    print(f"{row['device']:>7} ({row['name']}, {row['threads']} threads): {steps} steps / {cells:,} cells in "
          f"{took:.1f}s = {row['cells_per_s']:,.0f} cells/s; epoch of {n_total:,} training cells "
          f"{row['epoch_s']:.1f}s (extrapolated); peak {row['peak_kind']} {row['peak_gb']:.2f} GB", flush=True)
    return row


def worker(args: argparse.Namespace) -> None:
    """One rank of a multi-process run (started by torchrun): DDP over this rank's share of the steps."""
    from biodsnn import distributed

    device = distributed.setup(args.device)
    rank, world = distributed.rank_and_world()
    model, n_total = build(args, device)
    model._net = distributed.wrap(model.module, device)
    time_steps(model, 1)
    took, steps, cells = time_steps(model, args.max_steps)
    times = [0.0] * world  # each rank's seconds, gathered by a sum
    times[rank] = took
    total_cells, *times = distributed.all_reduce_sum([cells, *times], device)
    if rank == 0:
        slowest = max(times)
        row = {"device": f"{world} x {device.type}", "processes": world, "steps_per_rank": steps,
               "cells": int(total_cells), "seconds": round(slowest, 2), "cells_per_s": round(total_cells / slowest, 1),
               "epoch_s": round(slowest * n_total / total_cells, 1), "autocast": args.autocast}
        print(f"{row['device']:>7} (DDP, {world} processes, "
              f"{torch.distributed.get_backend()}): {steps} steps per rank, {row['cells']:,} cells in {slowest:.1f}s "
              f"(slowest rank) = {row['cells_per_s']:,.0f} cells/s; epoch {row['epoch_s']:.1f}s (extrapolated)",
              flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(row) + "\n")
    distributed.teardown()


def several(args: argparse.Namespace, n: int, device: str) -> dict | None:
    """Start ``n`` processes of this script under torchrun and return rank 0's figures."""
    out = args.out / f"ddp-{device}-{n}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1", "--nproc_per_node",
           str(n), __file__, "--worker", "--device", device, "--max-steps", str(args.max_steps), "--variant",
           args.variant, "--batch-size", str(args.batch_size), "--out", str(args.out), "--preset", args.preset,
           "--autocast", args.autocast, "--json", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, args.threads // n) if device == "cpu" else 1)}
    r = subprocess.run(cmd, env=env)
    if r.returncode != 0 or not out.exists():
        print(f"{n} x {device}: torchrun failed (exit {r.returncode})")
        return None
    return json.loads(out.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=OUT, help="cache folder for the .h5ad and the bundle")
    ap.add_argument("--preset", default="norman", help="simulator preset (norman: 92 k cells × 5 k genes)")
    ap.add_argument("--variant", default="full")
    ap.add_argument("--batch-size", type=int, default=0, help="cells per step (0: the model's default)")
    ap.add_argument("--max-steps", type=int, default=20, help="timed optimiser steps per device")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads on the CPU (0: torch's default)")
    ap.add_argument("--autocast", default="none", choices=["none", "bf16"])
    ap.add_argument("--ddp-cpu", type=int, default=0, help="also time this many CPU processes (gloo)")
    ap.add_argument("--json", default=None, help="write the figures to this JSON file")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("BIODSNN_NO_PROGRESS", "1")
    if args.worker:
        worker(args)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    args.threads = torch.get_num_threads()
    t0 = time.perf_counter()
    prepare(args.out, seed=0, preset=args.preset)  # build the cache once, before any timing
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; torch {torch.__version__}; "
          f"CUDA GPUs: {torch.cuda.device_count()}", flush=True)
    rows = [one_device(args, torch.device("cpu"))]
    for i in range(torch.cuda.device_count()):
        rows.append(one_device(args, torch.device("cuda", i)))
    if torch.cuda.device_count() > 1:
        rows.append(several(args, torch.cuda.device_count(), "cuda"))
    if args.ddp_cpu > 1:
        rows.append(several(args, args.ddp_cpu, "cpu"))
    print(f"total {time.perf_counter() - t0:.0f}s")
    if args.json:
        Path(args.json).write_text(json.dumps([r for r in rows if r], indent=2) + "\n")


if __name__ == "__main__":
    main()
