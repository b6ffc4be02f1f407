"""One BioDSNN training epoch on the simulator's Norman-shaped data (~91 k cells × 5 k genes), on the real pipeline.

    python benchmarks/bench_epoch.py                     # simulate → split → kg_build bundle → one epoch
    python benchmarks/bench_epoch.py --max-steps 40      # time 40 optimiser steps and extrapolate to the epoch

The simulated ``.h5ad`` and the knowledge bundle are cached under ``benchmarks/output/epoch/`` (git-ignored), so
reruns skip the ~2-minute simulation and the ~40 s bundle build. Prints the epoch time, knowledge-stream passes per
epoch, the validation pass, peak RSS, and two ratios measured here on the bundle's real Reactome mask: the CSR
attention kernel against the previous gather/index_add edge kernel, and the knowledge stream once per condition
against once per cell. Asserts nothing about time (see docs/performance-model.md).
"""

from __future__ import annotations

import argparse
import math
import resource
import time
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parent / "output" / "epoch"


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def prepare(out: Path, seed: int, preset: str = "norman"):
    """The cached simulated data (Norman-shaped by default), split and knowledge bundle (built on first use)."""
    from biodsnn.data import Split, load_perturb_data, make_split, simulate
    from kg_build import KnowledgeBundle, build_bundle

    out.mkdir(parents=True, exist_ok=True)
    h5ad, bundle = out / f"{preset}.h5ad", out / ("bundle" if preset == "norman" else f"bundle-{preset}")
    t0 = time.perf_counter()
    if not h5ad.exists():
        simulate(preset=preset, seed=seed, output=h5ad, progress=True)
        print(f"simulated {h5ad} in {time.perf_counter() - t0:.0f}s")
    data = load_perturb_data(h5ad)
    if not (bundle / "manifest.json").exists():
        t = time.perf_counter()
        build_bundle(data, make_split(data.conditions, kind="simulation", seed=seed), bundle, progress=True)
        print(f"built the knowledge bundle in {time.perf_counter() - t:.0f}s")
    kb = KnowledgeBundle.load(bundle)
    split = Split.load(bundle / "split.json")
    print(f"data + bundle ready in {time.perf_counter() - t0:.0f}s: {data}")
    return data, kb, split


def gather_attention(q, k, v, src, dst):
    """The previous kernel (forward and autograd backward): gather per edge, segment softmax, index_add."""
    scores = (q[:, dst] * k[:, src]).sum(-1) / math.sqrt(q.shape[-1])  # [C, E, H]
    row_max = scores.new_full((q.shape[0], q.shape[1], q.shape[2]), -math.inf)
    row_max = row_max.scatter_reduce(1, dst.view(1, -1, 1).expand_as(scores), scores.detach(), reduce="amax")
    alpha = (scores - row_max[:, dst]).exp()
    denom = alpha.new_zeros(row_max.shape).index_add(1, dst, alpha)
    alpha = alpha / denom[:, dst]
    return torch.zeros_like(v).index_add(1, dst, alpha[..., None] * v[:, src])


def time_call(fn, repeats: int) -> float:
    fn()  # warm-up (and the CSR structure cache)
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t) / repeats


def compare_kernels(model, repeats: int) -> None:
    from biodsnn.modules import dense_masked_attention, edge_attention
    from biodsnn.modules._attention import SparseMask

    ei = model.module.mask_edge_index
    n = len(model.data.genes)
    mask = SparseMask(ei, n)
    g = torch.Generator().manual_seed(0)
    hp = model.hparams
    heads, d = hp["n_heads"], hp["hidden"] // hp["n_heads"]
    q, k, v = (torch.randn(1, n, heads, d, generator=g, requires_grad=True) for _ in range(3))
    w = torch.randn(1, n, heads, d, generator=g)
    new = time_call(lambda: torch.autograd.grad((edge_attention(q, k, v, mask) * w).sum(), (q, k, v)), repeats)
    old = time_call(lambda: torch.autograd.grad((gather_attention(q, k, v, ei[0], ei[1]) * w).sum(), (q, k, v)),
                    max(1, repeats // 2))
    with torch.no_grad():
        diff = (edge_attention(q, k, v, mask) - gather_attention(q, k, v, ei[0], ei[1])).abs().max().item()
    print(f"attention kernel, 1 condition × {heads} heads × {n} genes, mask {mask.n_edges:,} edges "
          f"({mask.n_edges / n**2:.2%}), forward + backward: CSR {new * 1e3:.0f} ms, previous gather/index_add "
          f"{old * 1e3:.0f} ms: {old / new:.1f}x (max |diff| {diff:.1e})")
    with torch.no_grad():  # the dense alternative (no mask sparsity) for scale: forward only
        allowed = mask.csr(torch.ones(mask.n_edges)).to_dense().bool()
        dense = time_call(lambda: dense_masked_attention(q, k, v, allowed), 1)
    print(f"  dense masked attention (G × G, forward only): {dense * 1e3:.0f} ms")


def compare_per_cell(model, n_steps: int, n_cells: int) -> None:
    """Knowledge stream once per condition (forward + backward) vs once per cell, on a few training batches."""
    fast = naive = 0.0
    for i, batch in enumerate(model._batches(1)):
        if i >= n_steps:
            break
        cond_t = model.condition_tensor(list(batch.conditions))
        cell = batch.condition_index
        t = time.perf_counter()
        model.module.knowledge(cond_t)[cell].sum().backward()
        fast += time.perf_counter() - t
        t = time.perf_counter()
        for j in range(n_cells):  # per cell, timed on n_cells cells and scaled to the batch
            model.module.knowledge(cond_t[cell[j : j + 1]]).sum().backward()
        naive += (time.perf_counter() - t) * len(cell) / n_cells
    print(f"knowledge stream on {n_steps} batches: once per condition {fast:.2f}s, per cell {naive:.1f}s "
          f"(extrapolated from {n_cells} cells per batch): {naive / fast:.0f}x")


def batch_words(model) -> str:
    """What one training batch holds, from the model's own setting (``mixed_batches``)."""
    n = model.hparams["batch_size"]
    return f"{n} cells mixed over conditions" if model.hparams["mixed_batches"] else f"{n} cells of one condition"


def passes_words(model) -> str:
    """Knowledge-stream passes per step: one per condition in the batch (mixed) or one (three for a double with
    compose_members)."""
    if model.hparams["mixed_batches"]:
        return "one knowledge pass per condition in the batch"
    return "one knowledge pass each; three for a double with compose_members"


def time_steps(model, max_steps: int = 0, epoch: int = 0) -> tuple[float, int, int]:
    """Train ``max_steps`` optimiser steps (0: the whole epoch) of ``model`` as ``fit`` does (Adam, clipping);
    returns (seconds, steps, cells). Goes through DistributedDataParallel when ``model._net`` holds it."""
    opt = torch.optim.Adam(model.module.parameters(), lr=1e-3)
    gen = torch.Generator(device=model.device).manual_seed(0)
    model.module.train()
    sync = torch.cuda.synchronize if model.device.type == "cuda" else (lambda: None)
    sync()
    t0, steps, cells = time.perf_counter(), 0, 0
    for batch in model._batches(epoch):
        opt.zero_grad(set_to_none=True)
        model.batch_loss(batch, gen).backward()
        torch.nn.utils.clip_grad_norm_(model.module.parameters(), 1.0)
        opt.step()
        steps += 1
        cells += len(batch)
        if max_steps and steps >= max_steps:
            break
    sync()
    return time.perf_counter() - t0, steps, cells


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=OUT, help="cache folder for the .h5ad and the bundle")
    ap.add_argument("--variant", default="full")
    ap.add_argument("--batch-size", type=int, default=0, help="cells per step (0: the model's default)")
    ap.add_argument("--max-steps", type=int, default=0, help="time this many steps and extrapolate (0: all)")
    ap.add_argument("--kernel-repeats", type=int, default=4, help="0: skip the kernel and per-cell comparisons")
    ap.add_argument("--per-cell-steps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (0: torch's default)")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from biodsnn.model import BioDSNN

    data, kb, split = prepare(args.out, seed=0)
    opts = {"batch_size": args.batch_size} if args.batch_size else {}
    model = BioDSNN(data, kb, split=split, variant=args.variant, seed=0, device=args.device, **opts)
    t = time.perf_counter()
    _ = model.de
    print(f"DE genes (once per model): {time.perf_counter() - t:.1f}s")
    model._keep = model._keep_table([*split.train, "ctrl"])
    n_steps = model._n_batches(0)
    n_total = sum(len(data.cells_of(c)) for c in split.train)
    took, steps, cells = time_steps(model, args.max_steps)
    epoch_s = took * n_total / cells
    print(f"train epoch ({args.variant}, batch {batch_words(model)}, "
          f"{torch.get_num_threads()} threads): {n_steps} steps per epoch ({passes_words(model)}) over {n_total:,} "
          f"training cells; timed {steps} steps / {cells:,} cells in {took:.1f}s; "
          f"epoch {epoch_s:.1f}s{' (extrapolated)' if cells < n_total else ''}")
    model.module.eval()
    t = time.perf_counter()
    with torch.no_grad():
        metric = model.validation_metric()
    print(f"validation pass ({len(split.val)} conditions, {model.hparams['n_control_predict']} control cells): "
          f"{time.perf_counter() - t:.1f}s (top-20 DE MSE {metric:.4g})")
    print(f"epoch + validation: {epoch_s + time.perf_counter() - t:.1f}s; peak RSS so far: {peak_rss_gb():.2f} GB")
    if not args.kernel_repeats:
        return
    model.module.train()
    if model.module.transformer is not None:
        compare_kernels(model, args.kernel_repeats)
    compare_per_cell(model, args.per_cell_steps, n_cells=4)
    print(f"peak RSS (including the previous kernel's per-edge tensors): {peak_rss_gb():.2f} GB")


if __name__ == "__main__":
    main()
