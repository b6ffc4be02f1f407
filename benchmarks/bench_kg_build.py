"""Benchmark kg_build: GO graph over all ~20 k annotated genes, co-expression on a Norman-sized sparse matrix, and
the whole bundle on the simulator's Norman-shaped data. Prints times and ratios; no timed asserts.

    python benchmarks/bench_kg_build.py [--skip-bundle]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import scipy.sparse as sp

os.environ.setdefault("BIODSNN_NO_PROGRESS", "1")


def bench_go() -> None:
    from kg_build.go import jaccard_topk, load_go_annotations

    t0 = time.perf_counter()
    ann = load_go_annotations()
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    t, _, _ = jaccard_topk(ann.matrix, top_k=20, min_similarity=0.1)
    t_all = time.perf_counter() - t0
    print(f"GO: load {t_load:.1f} s; blocked Jaccard top-20 over {len(ann.genes)} genes: {t_all:.1f} s, {t.size} edges")
    # plain reference: Python-set Jaccard for 200 genes against all genes, extrapolated to all genes
    rng = np.random.default_rng(0)
    sample = rng.choice(len(ann.genes), 200, replace=False)
    sets = [set(ann.matrix.indices[ann.matrix.indptr[i] : ann.matrix.indptr[i + 1]]) for i in range(len(ann.genes))]
    t0 = time.perf_counter()
    for i in sample[:20]:
        a = sets[i]
        _ = [len(a & b) / len(a | b) for b in sets]
    t_ref = (time.perf_counter() - t0) / 20 * len(ann.genes)
    print(f"GO: plain Python-set reference, extrapolated from 20 genes: {t_ref:.0f} s  (speed-up x{t_ref / t_all:.0f})")


def bench_coexpression(n_cells: int = 91_000, n_genes: int = 5_000, density: float = 0.15) -> None:
    from kg_build.coexpression import coexpression_graph, pearson_matrix

    X = sp.random(n_cells, n_genes, density=density, format="csr", dtype=np.float32, random_state=1)
    X.data = np.log1p(X.data * 10).astype(np.float32)
    t0 = time.perf_counter()
    corr = pearson_matrix(X)
    g = coexpression_graph(corr, [f"g{i}" for i in range(n_genes)], top_k=20, threshold=0.4)
    t = time.perf_counter() - t0
    print(f"co-expression: {n_cells} x {n_genes} CSR (density {density}): {t:.1f} s, {g.n_edges} edges")
    sub = 5000
    t0 = time.perf_counter()
    ref = np.corrcoef(X[:sub].toarray(), rowvar=False)
    t_ref = (time.perf_counter() - t0) * n_cells / sub
    print(
        f"co-expression: dense numpy corrcoef reference (5000 cells, extrapolated): {t_ref:.1f} s, "
        f"max |diff| on those cells {np.abs(pearson_matrix(X, np.arange(sub)) - ref).max():.1e}"
    )


def bench_bundle() -> None:
    try:
        from biodsnn.data import load_perturb_data, make_split, simulate
    except ImportError as exc:
        print(f"bundle: skipped ({exc})")
        return
    from kg_build import build_bundle

    t0 = time.perf_counter()
    data = load_perturb_data(simulate(preset="norman", seed=0, progress=False))
    split = make_split(data.conditions, kind="simulation", seed=1)
    t_sim = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        build_bundle(data, split, os.path.join(tmp, "kb"))
        t = time.perf_counter() - t0
    print(f"bundle: simulated Norman-shaped data {data.adata.shape} (simulate+load {t_sim:.0f} s): build {t:.1f} s")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-bundle", action="store_true")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    bench_go()
    bench_coexpression()
    if not args.skip_bundle:
        bench_bundle()
