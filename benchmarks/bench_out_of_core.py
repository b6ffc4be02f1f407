"""Out-of-core training: peak memory of one ``biodsnn fit --backed`` epoch on files of 100 k, 500 k and 1 M cells.

    python benchmarks/bench_out_of_core.py                          # 100 k, 500 k, 1 M cells × 5 k genes
    python benchmarks/bench_out_of_core.py --cells 20000 60000      # a quick look
    python benchmarks/bench_out_of_core.py --in-memory              # also the in-memory fit of the smallest file
    python benchmarks/bench_out_of_core.py --variant noAttention    # the recorded run (docs/scaling.md): same data
                                                                    # path, ~10x fewer CPU seconds per step
    python benchmarks/bench_out_of_core.py --prepare-only           # files and bundles only (slow; under any load)

Every step runs as its own process through the commands users run (``biodsnn simulate``, ``biodsnn data split``,
``kg-build bundle --backed``, ``biodsnn fit --backed --epochs 1``), and each process's peak resident memory is read
from the kernel when it exits (``os.wait4``), so no figure includes another step's memory. The simulated files are the
``norman`` preset (CRISPRa, 236 perturbations, 5 k genes) with more cells per perturbation; they are cached under
``benchmarks/output/out_of_core/`` (git-ignored). The bundle correlates 20 k training cells (``--coexpr-cells``) so
that its build does not dominate. Target (issue 17): the 1 M-cell fit within 1.5× the 100 k fit's peak and under
8 GB. Prints a table; asserts nothing. Results: docs/scaling.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "output" / "out_of_core"
N_CONTROL = 11_000
N_PERTURBATIONS = 236  # the norman preset's 105 singles + 131 doubles


def run(cmd: list[str], log: Path) -> tuple[float, float]:
    """Run one command to completion; (wall seconds, peak RSS in GiB of that process alone)."""
    t0 = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "100"})
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)} (see {log})")
    return wall, usage.ru_maxrss / 1024**2  # ru_maxrss is in KiB on Linux


def cli(name: str) -> list[str]:
    return [sys.executable, "-c", f"import sys; from cli.{name} import main; sys.argv[0] = '{name}'; main()"]


def prepare(n_cells: int, seed: int) -> tuple[Path, Path, dict[str, float]]:
    """The simulated file and its bundle (cached); their steps' wall time and peak memory when made now."""
    folder = OUT / f"cells-{n_cells}"
    folder.mkdir(parents=True, exist_ok=True)
    h5ad, split, bundle = folder / "data.h5ad", folder / "split.json", folder / "bundle"
    figures: dict[str, float] = {}
    if not h5ad.exists():
        per = max(2, round((n_cells - N_CONTROL) / N_PERTURBATIONS))
        figures["simulate_s"], figures["simulate_gb"] = run(
            [*cli("biodsnn"), "simulate", "--preset", "norman", "-o", str(h5ad), "--seed", str(seed),
             "--cells-per-condition", str(per), "--n-control", str(N_CONTROL)], folder / "simulate.log")
    if not split.exists():
        run([*cli("biodsnn"), "data", "split", "--data", str(h5ad), "--backed", "-o", str(split)], folder / "split.log")
    if not (bundle / "manifest.json").exists():
        figures["bundle_s"], figures["bundle_gb"] = run(
            [*cli("kg_build"), "bundle", "--data", str(h5ad), "--split", str(split), "--backed",
             "--coexpr-cells", "20000", "-o", str(bundle)], folder / "bundle.log")
    return h5ad, bundle, figures


def fit(h5ad: Path, bundle: Path, backed: bool, tag: str, batch_size: int | None, variant: str) -> dict[str, float]:
    """One epoch of ``biodsnn fit``: wall time, peak memory, and the run's epoch time and training cells."""
    tag = f"{tag}-{variant}"
    run_dir = h5ad.parent / f"run-{tag}"
    cmd = [*cli("biodsnn"), "fit", "--data", str(h5ad), "--knowledge", str(bundle), "-o", str(run_dir),
           "--epochs", "1", "--variant", variant, "--overwrite", *(["--backed"] if backed else []),
           *(["--batch-size", str(batch_size)] if batch_size else [])]
    wall, peak = run(cmd, h5ad.parent / f"fit-{tag}.log")
    out = {"fit_s": wall, "fit_gb": peak}
    history = run_dir / "history.parquet"
    if history.exists():
        import pandas as pd

        h = pd.read_parquet(history)
        for col in ("epoch_seconds", "seconds", "train_cells"):
            if col in h.columns:
                out[col] = float(h[col].iloc[-1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, nargs="+", default=[100_000, 500_000, 1_000_000])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--in-memory", action="store_true", help="also fit the smallest file in memory, for comparison")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="cells per batch (default: fit's); the peak grows with it, not with the file")
    ap.add_argument("--variant", default="full",
                    help="network to train (noAttention: ~10x fewer seconds per step on 2 cores, the same data path)")
    ap.add_argument("--prepare-only", action="store_true",
                    help="simulate the files and build their bundles, fit nothing (then time the fits on an idle "
                    "machine)")
    args = ap.parse_args()
    rows = []
    for n in sorted(args.cells):
        h5ad, bundle, figures = prepare(n, args.seed)
        print(f"{n} cells: {h5ad} ({h5ad.stat().st_size / 1024**3:.2f} GiB) ready {json.dumps(figures)}", flush=True)
        if args.prepare_only:
            continue
        rows.append({"cells": n, "file_gib": h5ad.stat().st_size / 1024**3, "mode": "backed", **figures,
                     **fit(h5ad, bundle, True, "backed", args.batch_size, args.variant)})
        print(json.dumps(rows[-1]), flush=True)
    if args.prepare_only:
        return
    if args.in_memory:  # the smallest file again, X loaded whole
        n = min(args.cells)
        h5ad, bundle, _ = prepare(n, args.seed)
        rows.append({"cells": n, "file_gib": h5ad.stat().st_size / 1024**3, "mode": "in memory",
                     **fit(h5ad, bundle, False, "memory", args.batch_size, args.variant)})
        print(json.dumps(rows[-1]), flush=True)
    load = os.getloadavg()[0]
    batch = args.batch_size or "fit's default"
    print(f"\nvariant {args.variant}, batch size {batch}; load average at the end: {load:.1f} "
          f"({os.cpu_count()} cores)\n")
    print("| cells | file (GiB) | X read | fit peak RSS (GiB) | fit wall (s) | simulate peak RSS (GiB) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        sim = f"{r['simulate_gb']:.2f}" if "simulate_gb" in r else "cached"
        print(f"| {r['cells']:,} | {r['file_gib']:.2f} | {r['mode']} | {r['fit_gb']:.2f} | {r['fit_s']:.0f} | {sim} |")
    backed = [r for r in rows if r["mode"] == "backed"]
    if len(backed) > 1:
        ratio = backed[-1]["fit_gb"] / backed[0]["fit_gb"]
        print(f"\npeak RSS, {backed[-1]['cells']:,} vs {backed[0]['cells']:,} cells: {ratio:.2f}× (target ≤ 1.5×; "
              f"largest {backed[-1]['fit_gb']:.2f} GiB, target < 8 GB)")


if __name__ == "__main__":
    main()
