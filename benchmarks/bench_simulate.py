"""Time and peak memory of the data layer at Norman's size: simulate → write → load → fingerprint → DE → batches.

Usage:
    python benchmarks/bench_simulate.py [--preset norman] [--seed 0] [--out DIR] [--batches 200] [--compare-scanpy]

Prints one line per phase: wall seconds and the process's peak resident memory so far (ru_maxrss). With
--compare-scanpy it also times scanpy's rank_genes_groups (t-test) on the same file and prints the speed ratio
and whether both pick the same top-20 genes. No timed asserts: figures go to docs/performance-data.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="norman",
                        choices=["crispra", "crispri", "mixed", "lines", "norman", "tiny", "small"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="Folder for the .h5ad (default: a temporary folder).")
    parser.add_argument("--batches", type=int, default=200, help="Batches of 64 cells to draw.")
    parser.add_argument("--compare-scanpy", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("BIODSNN_NO_PROGRESS", "1")

    from biodsnn.data import load_perturb_data, rank_de_genes, simulate
    from biodsnn.dataloaders import BatchIterator

    out = Path(args.out or tempfile.mkdtemp())
    path = out / f"sim_{args.preset}.h5ad"
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; python {sys.version.split()[0]}")

    t = time.perf_counter()
    ad = simulate(preset=args.preset, seed=args.seed, output=path, progress=False)
    shape, nnz = ad.shape, ad.X.nnz
    del ad
    print(
        f"simulate+write  {time.perf_counter() - t:7.1f} s   peak {peak_gb():.2f} GB   {shape[0]} cells × {shape[1]} "
        f"genes, {nnz / (shape[0] * shape[1]):.1%} non-zero, file {path.stat().st_size / 1e9:.2f} GB"
    )

    t = time.perf_counter()
    data = load_perturb_data(path)
    print(f"load            {time.perf_counter() - t:7.1f} s   peak {peak_gb():.2f} GB   {data!r}")

    t = time.perf_counter()
    fp = data.fingerprint
    print(f"fingerprint     {time.perf_counter() - t:7.1f} s   peak {peak_gb():.2f} GB   {fp[:16]}")

    t = time.perf_counter()
    de = rank_de_genes(data)
    t_de = time.perf_counter() - t
    print(f"DE (t-test)     {t_de:7.1f} s   peak {peak_gb():.2f} GB   {len(de.top)} conditions")

    t = time.perf_counter()
    n = 0
    n_cond = 0
    for i, batch in enumerate(BatchIterator(data, batch_size=64, seed=0)):
        n += len(batch)
        n_cond += len(batch.conditions)
        if i + 1 >= args.batches:
            break
    dt = time.perf_counter() - t
    print(
        f"batches         {dt:7.1f} s   peak {peak_gb():.2f} GB   {n} cells, {n / dt:.0f} cells/s, "
        f"{n_cond / max(i + 1, 1):.2f} distinct conditions per batch"
    )

    if args.compare_scanpy:
        import warnings

        import scanpy as sc

        warnings.simplefilter("ignore")  # scanpy's DataFrame fragmentation warnings

        t = time.perf_counter()
        sc.tl.rank_genes_groups(
            data.adata, "condition", reference="ctrl", method="t-test", rankby_abs=True, n_genes=20, use_raw=False
        )
        t_sc = time.perf_counter() - t
        names = data.adata.uns["rank_genes_groups"]["names"]
        same = sum(set(map(str, names[c])) == set(de.names(c)) for c in data.conditions)
        print(
            f"scanpy t-test   {t_sc:7.1f} s   peak {peak_gb():.2f} GB   ours is {t_sc / t_de:.1f}× faster; "
            f"same top-20 set for {same}/{len(data.conditions)} conditions"
        )


if __name__ == "__main__":
    main()
