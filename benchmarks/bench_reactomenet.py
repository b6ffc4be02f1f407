"""ReactomeNet benchmark: load time, median query time, and a 5,000-gene level-3 mask against plain references.

Run:  python benchmarks/bench_reactomenet.py [--release DIR] [--genes 5000] [--level 3] [--seed 0]

Prints (no timed asserts; targets from issue 2: load ≤ 1 s, query ≤ 1 ms, mask ≤ 2 s):
- the time to import reactomenet and to load the release (parse + hash + levels; the full NetworkX graph
  with gene nodes is built on first use of ``.graph`` and timed separately);
- the median time of each query kind over many calls;
- the time of a ``--genes``-gene level-``--level`` mask (genes drawn with ``--seed`` from the release), checked
  equal to two plain references measured in the same run: a dense numpy product over the same genes, and a
  naive Python-set pair loop on a few hundred genes, extrapolated quadratically to the full list.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time


def _median_time(fn, args_list, repeat: int = 1) -> float:
    times = []
    for args in args_list:
        for _ in range(repeat):
            t = time.perf_counter()
            fn(*args)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", default=None)
    parser.add_argument("--genes", type=int, default=5000)
    parser.add_argument("--level", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--naive-genes", type=int, default=300)
    args = parser.parse_args(argv)

    t = time.perf_counter()
    import numpy as np

    from reactomenet import ReactomeGraph

    t_import = time.perf_counter() - t

    loads = []
    for _ in range(3):
        t = time.perf_counter()
        graph = ReactomeGraph.load(args.release, cache=False)
        loads.append(time.perf_counter() - t)
    t = time.perf_counter()
    _ = graph.graph
    t_full = time.perf_counter() - t

    rng = np.random.default_rng(args.seed)
    universe = graph.genes()
    pids = [p.id for p in graph.pathways()]
    q_genes = [(g,) for g in rng.choice(universe, 300, replace=False)]
    q_pids = [(p,) for p in rng.choice(pids, 300, replace=False)]
    graph.pathways_of(universe[0], level=3)  # build the gene index once, outside the timing
    queries = {
        "pathways_of(gene, level=3)": (lambda g: graph.pathways_of(g, level=3), q_genes),
        "pathways_of(gene, 'all')": (lambda g: graph.pathways_of(g, level="all"), q_genes),
        "genes_of(pathway)": (graph.genes_of, q_pids),
        "level_of(pathway)": (graph.level_of, q_pids),
        "children(pathway)": (graph.children, q_pids),
        "ancestors(pathway)": (graph.ancestors, q_pids),
        "descendants(pathway)": (graph.descendants, q_pids),
    }
    medians = {name: _median_time(fn, items) for name, (fn, items) in queries.items()}

    n = min(args.genes, len(universe))
    genes = [str(g) for g in rng.choice(universe, n, replace=False)]
    cold_graph = ReactomeGraph.load(args.release, cache=False)
    t = time.perf_counter()
    cold_graph.mask(genes, level=args.level)  # includes building the membership matrices (once per graph)
    t_cold = time.perf_counter() - t
    graph.mask(genes[:10], level=args.level)  # warm the per-level matrices of `graph`
    mask_times = []
    for _ in range(3):
        t = time.perf_counter()
        mask = graph.mask(genes, level=args.level)
        mask_times.append(time.perf_counter() - t)
    t_mask = min(mask_times)

    # Reference 1: dense numpy product over the same genes (same rule, no sparsity).
    member, _, _ = graph.membership_matrix()
    eff, _ = graph.effective_matrix(args.level)
    index = {g: k for k, g in enumerate(universe)}
    rows = np.asarray([index[g] for g in genes])
    t = time.perf_counter()
    e = eff[rows].toarray().astype(np.float32)
    s = member[rows].toarray().astype(np.float32)
    a = (e @ s.T) > 0
    dense = a | a.T | np.eye(n, dtype=bool)
    t_dense = time.perf_counter() - t
    same_dense = bool((mask.to_scipy().toarray() == dense).all())

    # Reference 2: naive Python sets, all pairs, on a few hundred genes; extrapolated as n².
    m = min(args.naive_genes, n)
    sub = genes[:m]
    members = {g: set(graph.pathways_of(g, level="all").ids) for g in sub}
    t = time.perf_counter()
    effective = {g: set(graph.pathways_of(g, level=args.level).ids) for g in sub}
    pairs = set()
    for a_i, ga in enumerate(sub):
        for b_i, gb in enumerate(sub):
            if a_i == b_i or effective[ga] & members[gb] or effective[gb] & members[ga]:
                pairs.add((a_i, b_i))
    t_naive = (time.perf_counter() - t) * (n / m) ** 2
    small = graph.mask(sub, level=args.level)
    same_naive = pairs == set(zip(small.i.tolist(), small.j.tolist(), strict=True))

    print(f"release: {graph.release.dir} ({graph.release.species}, {len(pids)} pathways, {len(universe)} genes)")
    print(f"import reactomenet:            {t_import:8.3f} s")
    print(f"load release (median of 3):    {statistics.median(loads):8.3f} s   (target ≤ 1 s)")
    print(f"full NetworkX graph, 1st use:  {t_full:8.3f} s   ({graph.graph.number_of_edges()} edges)")
    for name, value in medians.items():
        print(f"median {name:<28} {value * 1e3:8.3f} ms  (target ≤ 1 ms)")
    print(f"mask {n} genes, level {args.level} (best of 3): {t_mask:8.3f} s   (target ≤ 2 s)")
    print(f"  first mask on a fresh graph (builds the membership matrices): {t_cold:8.3f} s")
    print(f"  pairs incl. diagonal: {mask.n_pairs}, padded: {len(mask.padded)}, missing: {len(mask.missing)}")
    print(f"  dense numpy reference:       {t_dense:8.3f} s   ratio dense/sparse = {t_dense / t_mask:6.1f}x")
    print(
        f"  naive Python sets ({m} genes, extrapolated to {n}): {t_naive:8.3f} s   "
        f"ratio naive/sparse = {t_naive / t_mask:6.1f}x"
    )
    print(f"  equal to dense reference: {same_dense}; equal to naive reference on {m} genes: {same_naive}")
    return 0 if same_dense and same_naive else 1


if __name__ == "__main__":
    sys.exit(main())
