"""One BioDSNN training epoch on Norman-shaped data (~91 k cells × 5 k genes): time, peak RSS, and the speed-up of
computing the knowledge stream once per condition against the naive per-cell computation.

    python benchmarks/bench_epoch.py                    # same-shaped synthetic stand-in, full epoch
    python benchmarks/bench_epoch.py --max-batches 60   # time 60 batches and extrapolate to the epoch
    python benchmarks/bench_epoch.py --simulate         # the data layer's simulator (preset "norman")

Prints figures; asserts nothing about time (see docs/performance-model.md).
"""

from __future__ import annotations

import argparse
import resource
import time
from types import SimpleNamespace

import numpy as np
import scipy.sparse as sp
import torch


def stand_in(n_genes: int, n_cells: int, n_singles: int, n_doubles: int, seed: int):
    """A Norman-shaped sparse dataset with additive effects (used when the simulator is not asked for)."""
    import anndata
    import pandas as pd

    rng = np.random.default_rng(seed)
    genes = [f"G{i:05d}" for i in range(n_genes)]
    singles = genes[:n_singles]
    pairs = set()
    while len(pairs) < n_doubles:
        a, b = sorted(rng.choice(n_singles, 2, replace=False))
        pairs.add((singles[a], singles[b]))
    conds = ["ctrl"] + [f"{g}+ctrl" for g in singles] + [f"{a}+{b}" for a, b in sorted(pairs)]
    per = n_cells // len(conds)
    counts = np.full(len(conds), per)
    counts[0] = n_cells - per * (len(conds) - 1)
    nnz_per_row = int(0.3 * n_genes)
    indptr = np.arange(n_cells + 1, dtype=np.int64) * nnz_per_row
    indices = np.concatenate([np.sort(rng.choice(n_genes, nnz_per_row, replace=False)) for _ in range(n_cells)])
    values = rng.gamma(2.0, 0.6, n_cells * nnz_per_row).astype(np.float32)
    x = sp.csr_matrix((values, indices, indptr), shape=(n_cells, n_genes))
    obs = pd.DataFrame({"condition": pd.Categorical(np.repeat(conds, counts))}, index=[f"c{i}" for i in range(n_cells)])
    return anndata.AnnData(X=x, obs=obs, var=pd.DataFrame(index=genes))


def grouped_batches(data, conditions, batch_size, seed, **_):
    """Cells grouped by condition (the data layer's ``group_by_condition=True``), for when it is not there yet."""
    rng = np.random.default_rng(seed)
    ctrl = data.control_cells
    chunks = []
    for c in conditions:
        cells = rng.permutation(data.cells_of(c))
        chunks += [(c, cells[s : s + batch_size]) for s in range(0, len(cells), batch_size)]
    for j in rng.permutation(len(chunks)):
        c, cells = chunks[j]
        x = data.adata.X
        yield SimpleNamespace(
            control_x=torch.as_tensor(x[rng.choice(ctrl, len(cells))].toarray()),
            target_x=torch.as_tensor(x[cells].toarray()),
            condition_index=torch.zeros(len(cells), dtype=torch.long),
            conditions=[c],
        )


def fake_bundle(data, mask_density: float, seed: int):
    """Bundle shapes like kg_build's: co-expression top-20, GO top-20 over ~9 k genes, a Reactome-like block mask."""
    rng = np.random.default_rng(seed)
    n = len(data.genes)
    perturbable = list(data.genes) + [f"GO{i:05d}" for i in range(4000)]
    co = np.stack([rng.integers(0, n, 20 * n), np.repeat(np.arange(n), 20)])
    p = len(perturbable)
    go = np.stack([rng.integers(0, p, 20 * p), np.repeat(np.arange(p), 20)])
    # pathways: random gene sets whose union of within-set pairs reaches ~mask_density
    target = int(mask_density * n * n)
    src_l, dst_l, total = [], [], 0
    while total < target:
        members = rng.choice(n, int(rng.integers(20, 120)), replace=False)
        a, b = np.meshgrid(members, members)
        src_l.append(a.ravel())
        dst_l.append(b.ravel())
        total += a.size
    key = np.unique(np.concatenate(dst_l).astype(np.int64) * n + np.concatenate(src_l))
    mask = np.stack([key % n, key // n])
    edges = SimpleNamespace
    return SimpleNamespace(
        genes=list(data.genes),
        perturbable_genes=perturbable,
        coexpression=edges(edge_index=co, weight=np.ones(co.shape[1], np.float32)),
        go_graph=edges(edge_index=go, weight=np.ones(go.shape[1], np.float32)),
        mask=edges(edge_index=mask, source=None),
        manifest={"bench": seed},
        check_compatible=lambda d, s: None,
    )


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--simulate", action="store_true", help="use biodsnn.data.simulate(preset='norman')")
    ap.add_argument("--genes", type=int, default=5045)
    ap.add_argument("--cells", type=int, default=91205)
    ap.add_argument("--mask-density", type=float, default=0.03)
    ap.add_argument("--variant", default="full")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-batches", type=int, default=0, help="time this many batches and extrapolate (0: all)")
    ap.add_argument("--naive-batches", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from biodsnn.data import load_perturb_data, make_split
    from biodsnn.model import BioDSNN

    t0 = time.perf_counter()
    if args.simulate:
        from biodsnn.data import simulate

        adata = simulate(preset="norman", seed=0)
    else:
        adata = stand_in(args.genes, args.cells, 105, 131, seed=0)
    data = load_perturb_data(adata)
    print(f"data: {data} in {time.perf_counter() - t0:.1f}s")
    try:
        import biodsnn.data._batches  # noqa: F401
    except ImportError:
        data.batches = lambda conditions=None, **kw: grouped_batches(data, conditions, **kw)
        print("batches: the benchmark's grouped batcher (biodsnn.data batches not available)")
    split = make_split(data.conditions, kind="simulation", seed=1)
    kb = fake_bundle(data, args.mask_density, seed=0)
    print(
        f"bundle: mask {kb.mask.edge_index.shape[1]:,} edges ({kb.mask.edge_index.shape[1] / len(data.genes) ** 2:.2%})"
        f", co-expression {kb.coexpression.edge_index.shape[1]:,}, GO {kb.go_graph.edge_index.shape[1]:,}"
    )
    de = SimpleNamespace(top={c: np.arange(20) for c in data.conditions})
    model = BioDSNN(
        data, kb, split=split, variant=args.variant, seed=0, de=de, batch_size=args.batch_size, device=args.device
    )
    model._keep = model._keep_table([*split.train, "ctrl"])
    n_total = sum(len(data.cells_of(c)) for c in split.train)
    opt = torch.optim.Adam(model.module.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    model.module.train()
    t0, n_batches, n_cells, n_cond = time.perf_counter(), 0, 0, 0
    for batch in model._batches(0):
        opt.zero_grad()
        loss = model.batch_loss(batch, gen)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.module.parameters(), 1.0)
        opt.step()
        n_batches += 1
        n_cells += len(batch.condition_index)
        n_cond += len(batch.conditions)
        if args.max_batches and n_batches >= args.max_batches:
            break
    per_cell_s = (time.perf_counter() - t0) / n_cells
    epoch_s = per_cell_s * n_total
    print(
        f"train epoch ({args.variant}, batch {args.batch_size}, {torch.get_num_threads()} threads): "
        f"{n_batches} batches / {n_cells} cells / {n_cond} condition passes timed; "
        f"epoch ({n_total} cells) = {epoch_s:.1f}s{' (extrapolated)' if args.max_batches else ''}"
    )
    t0 = time.perf_counter()
    with torch.no_grad():
        model.validation_metric()
    print(f"validation pass ({len(split.val)} conditions): {time.perf_counter() - t0:.1f}s")
    # naive per-cell knowledge stream on a few batches (forward + backward), against once per condition
    fast_t = naive_t = 0.0
    for i, batch in enumerate(model._batches(1)):
        if i >= args.naive_batches:
            break
        conds = list(batch.conditions)
        cond_t = model.condition_tensor(conds)
        cell = torch.as_tensor(batch.condition_index)
        t = time.perf_counter()
        model.module.knowledge(cond_t)[cell].sum().backward()
        fast_t += time.perf_counter() - t
        t = time.perf_counter()
        for s in range(0, len(cell), 8):  # per cell, 8 cells at a time to bound memory
            model.module.knowledge(cond_t[cell[s : s + 8]]).sum().backward()
        naive_t += time.perf_counter() - t
    print(
        f"knowledge stream on {args.naive_batches} batches: once per condition {fast_t:.2f}s, "
        f"per cell {naive_t:.2f}s, ratio {naive_t / max(fast_t, 1e-9):.1f}x"
    )
    print(f"peak RSS: {peak_rss_gb():.2f} GB")


if __name__ == "__main__":
    main()
