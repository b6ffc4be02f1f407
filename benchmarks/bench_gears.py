"""GEARS 0.1.2 against BioDSNN on the same simulated data and split, in one run.

    pip install cell-gears==0.1.2 dcor          # benchmark-only (GEARS' own deps: scanpy, sklearn, torch_geometric)
    python benchmarks/bench_gears.py --preset tiny --epochs 5
    python benchmarks/bench_gears.py --preset small --epochs 10 --variant full
    python benchmarks/bench_gears.py --preset norman --max-steps 20     # Norman-shaped, timed steps (see below)

Steps: simulate → `simulation` split → knowledge bundle → train BioDSNN (``--variant``) and GEARS for the same
number of epochs on the same training conditions → score both (and the additive baseline) with
``biodsnn.evaluate.evaluate`` → print the training throughput ratio (cells per second) and the top-20 DE MSE and
``pearson_delta`` of both.

GEARS is given a custom split (the same train/val/test conditions, control cells in train as GEARS does itself)
and the small perturbation graph (``default_pert_graph=False``: the measured and perturbed genes). It would
download ``gene2go_all.pkl`` at start; we write that file first from the bundled GO table
(``kg_build/data/go/orgHsEgDb_3.16.0_gene2go_direct.tsv.gz``) in the format GEARS reads: a pickled
``dict[symbol, set[GO id]]`` (GEARS' own input format; only this benchmark writes a pickle). GEARS writes its GO graph
to ``./data/go_essential_<name>.csv`` relative to the working directory, so it runs inside a temporary folder.

Throughput is the number of training cells seen per second of ``fit`` / ``GEARS.train`` (both include their
per-epoch validation; GEARS' also evaluates the whole training set every epoch and the test set at the end, which
is part of what a GEARS user waits for). Prints figures; asserts nothing.

With ``--max-steps N`` (the Norman-shaped mode) neither model finishes an epoch: both train on the same cached data
and split as ``benchmarks/bench_epoch.py`` (``benchmarks/output/epoch/``), each for one untimed warm-up step and then
``N`` timed optimiser steps of its own training loop (BioDSNN: ``bench_epoch.time_steps``, the variant's own
batch: 256 cells of one condition for ``full``, 32 mixed over conditions for ``gears``; GEARS: the body of
``GEARS.train``'s loop, 32 cells per step), converted to cells per second; no validation, no scoring.
GEARS' cell-graph dataset is built from ``--gears-cells`` cells per condition (control: 20 times that) of
the same data: its per-step cost depends on the batch and the genes, not on how many cells the dataset holds, and
building all 92 k pickled cell graphs costs minutes and gigabytes before its first step (its build rate is printed).
GEARS' GO graph (``make_GO``: Jaccard of GO-term sets > 0.1 between all pairs of its ~5 k genes, in a Python
double loop over a 25-process pool that pickles the whole table for every gene) is written first by
:func:`write_go_graph`, the same rows in the same order from one sparse product (``--gears-go`` lets GEARS build it).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GO_TABLE = ROOT / "kg_build" / "data" / "go" / "orgHsEgDb_3.16.0_gene2go_direct.tsv.gz"


def write_gene2go(path: Path) -> int:
    """Write GEARS' ``gene2go_all.pkl`` (symbol → set of GO ids) from the bundled table; returns the gene count."""
    import pandas as pd

    with gzip.open(GO_TABLE, "rt") as fh:
        table = pd.read_csv(fh, sep="\t", usecols=["symbol", "go_id"])
    gene2go = {str(g): set(ids) for g, ids in table.groupby("symbol").go_id}
    with open(path, "wb") as fh:
        pickle.dump(gene2go, fh)
    return len(gene2go)


def write_go_graph(path: Path, pert_list, gene2go: dict) -> int:
    """Write what GEARS' ``make_GO`` writes (``source,target,importance``: every ordered pair of ``pert_list`` genes
    whose GO-term Jaccard exceeds 0.1, self-pairs included, rows ordered by source then target as its double loop
    yields them) from one sparse product; returns the edge count."""
    import pandas as pd
    import scipy.sparse as sp

    genes = np.asarray(list(pert_list), dtype=object)
    terms = {t: i for i, t in enumerate(sorted(set().union(*(gene2go[g] for g in genes))))}
    rows = np.concatenate([np.full(len(gene2go[g]), i) for i, g in enumerate(genes)])
    cols = np.concatenate([[terms[t] for t in gene2go[g]] for g in genes])
    m = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(genes), len(terms)))
    inter = (m @ m.T).toarray()
    size = np.asarray(m.sum(1)).ravel()
    score = inter / (size[:, None] + size[None, :] - inter)
    i, j = np.nonzero(score > 0.1)  # row-major: source outer, target inner, as make_GO's loops
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"source": genes[i], "target": genes[j], "importance": score[i, j]}).to_csv(path, index=False)
    return len(i)


def _series_safe(x):
    """GEARS 0.1.2 indexes X with a pandas boolean Series, which scipy ≥ 1.13 refuses; convert such keys."""
    import pandas as pd
    import scipy.sparse as sp

    class SeriesSafeCSR(sp.csr_matrix):
        def __getitem__(self, key):
            if isinstance(key, pd.Series):
                key = key.to_numpy()
            elif isinstance(key, tuple):
                key = tuple(k.to_numpy() if isinstance(k, pd.Series) else k for k in key)
            return super().__getitem__(key)

    return SeriesSafeCSR(sp.csr_matrix(x))


class GearsPredictor:
    """A ``biodsnn.evaluate.Predictor`` over a trained GEARS model."""

    name = "GEARS-0.1.2"

    def __init__(self, model, data) -> None:
        self.model, self.data = model, data

    def predict_means(self, conditions):
        from biodsnn.data import parse_condition

        out = []
        for c in conditions:
            genes = list(parse_condition(c))
            with contextlib.redirect_stdout(io.StringIO()):
                pred = self.model.predict([genes])
            out.append(np.asarray(pred["_".join(genes)], dtype=np.float64))
        return np.stack(out)


def _gears_adata(adata, genes):
    """The AnnData as GEARS' PertData reads it: a string condition, one cell type, gene names in var."""
    adata.obs = adata.obs[["condition"]].copy()
    adata.obs["condition"] = adata.obs["condition"].astype(str)
    adata.obs["cell_type"] = "simulated"
    adata.var["gene_name"] = list(genes)
    adata.var_names = list(genes)
    return adata


def _gears_workdir(workdir: Path, split) -> tuple[Path, Path, int]:
    """GEARS' data folder with its GO annotations, and our split as GEARS' split pickle; (folder, split, GO rows)."""
    gears_dir = workdir / "gears_data"
    gears_dir.mkdir(parents=True, exist_ok=True)
    (workdir / "data").mkdir(exist_ok=True)  # GEARS writes ./data/go_essential_<name>.csv
    n_go = write_gene2go(gears_dir / "gene2go_all.pkl")
    split_file = workdir / "gears_split.pkl"
    with open(split_file, "wb") as fh:
        pickle.dump({"train": ["ctrl", *split.train], "val": list(split.val), "test": list(split.test)}, fh)
    return gears_dir, split_file, n_go


def train_gears(data, split, epochs: int, seed: int, device: str, workdir: Path, quiet: bool):
    """Train GEARS on ``data``/``split``; returns (model, seconds, cells per epoch)."""
    import torch
    from gears import GEARS, PertData

    adata = _gears_adata(data.adata.copy(), data.genes)
    gears_dir, split_file, n_go = _gears_workdir(workdir, split)
    sink = io.StringIO() if quiet else sys.stdout
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        torch.manual_seed(seed)
        np.random.seed(seed)  # noqa: NPY002 - GEARS draws from numpy's global generator
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            pert = PertData(str(gears_dir), default_pert_graph=False)
            pert.new_data_process(dataset_name="sim", adata=adata)
            pert.prepare_split(split="custom", split_dict_path=str(split_file))
            pert.get_dataloader(batch_size=32, test_batch_size=128)
            pert.adata.X = _series_safe(pert.adata.X)
            model = GEARS(pert, device=device)
            model.model_initialize(hidden_size=64)
            n_cells = len(pert.dataloader["train_loader"].dataset)
            start = time.perf_counter()
            model.train(epochs=epochs, lr=1e-3)
            seconds = time.perf_counter() - start
    finally:
        os.chdir(cwd)
    print(f"GEARS: gene2go for {n_go} genes written; trained {epochs} epochs on {n_cells} cells in {seconds:.1f} s")
    return model, seconds, n_cells


def _rss_gb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def gears_steps(data, split, args, workdir: Path) -> dict:
    """GEARS' own training step, timed over ``args.max_steps`` steps after one warm-up step (see the module doc)."""
    import torch
    from gears import GEARS, PertData
    from gears.utils import loss_fct

    rng = np.random.default_rng(args.seed)
    obs = data.adata.obs["condition"].astype(str).to_numpy()
    keep = []
    for cond in np.unique(obs):
        cells = np.flatnonzero(obs == cond)
        n = args.gears_cells * (20 if cond == "ctrl" else 1)
        keep.append(np.sort(rng.choice(cells, min(n, len(cells)), replace=False)))
    adata = _gears_adata(data.adata[np.sort(np.concatenate(keep))].copy(), data.genes)
    gears_dir, split_file, _ = _gears_workdir(workdir, split)
    sink = io.StringIO() if not args.verbose else sys.stdout
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        torch.manual_seed(args.seed)
        np.random.seed(args.seed)  # noqa: NPY002 - GEARS draws from numpy's global generator
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            t0 = time.perf_counter()
            pert = PertData(str(gears_dir), default_pert_graph=False)
            pert.new_data_process(dataset_name="sim", adata=adata)
            pert.prepare_split(split="custom", split_dict_path=str(split_file))
            pert.get_dataloader(batch_size=32, test_batch_size=128)
            build_s = time.perf_counter() - t0
            pert.adata.X = _series_safe(pert.adata.X)
            t0 = time.perf_counter()
            go_edges = None
            if not args.gears_go:
                go_edges = write_go_graph(workdir / "data" / "go_essential_sim.csv", pert.pert_names, pert.gene2go)
            model = GEARS(pert, device=args.device)
            model.model_initialize(hidden_size=64)
            init_s = time.perf_counter() - t0
        net = model.model.to(args.device)
        net.train()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=5e-4)
        loader = pert.dataloader["train_loader"]
        n_train = len(loader.dataset)

        def batches():
            while True:
                yield from loader

        took, steps, cells = 0.0, 0, 0
        for i, batch in enumerate(batches()):
            if i > args.max_steps:
                break
            t = time.perf_counter()
            batch.to(args.device)  # the body of GEARS.train's loop (gears/gears.py, 0.1.2)
            opt.zero_grad()
            pred = net(batch)
            loss = loss_fct(pred, batch.y, batch.pert, ctrl=model.ctrl_expression, dict_filter=model.dict_filter,
                            direction_lambda=model.config["direction_lambda"])
            loss.backward()
            torch.nn.utils.clip_grad_value_(net.parameters(), clip_value=1.0)
            opt.step()
            if i:  # step 0 is the warm-up
                took += time.perf_counter() - t
                steps += 1
                cells += int(batch.num_graphs)
    finally:
        os.chdir(cwd)
    go = f"{go_edges:,} edges" if go_edges is not None else "built by GEARS"
    print(f"GEARS 0.1.2: dataset of {n_train:,} training cell graphs ({adata.n_obs:,} cells kept) built in "
          f"{build_s:.0f}s ({adata.n_obs / build_s:.0f} cells/s); GO graph ({go}) and model in {init_s:.0f}s; "
          f"{steps} steps / {cells} cells in {took:.1f}s = {cells / took:.1f} cells/s; peak RSS so far "
          f"{_rss_gb():.2f} GB", flush=True)
    return {"cells_per_s": cells / took, "steps": steps, "cells": cells, "seconds": took, "build_s": build_s,
            "built_cells": int(adata.n_obs), "init_s": init_s}


def steps_main(args) -> dict:
    """Both models on the Norman-shaped cache of bench_epoch.py, timed over ``--max-steps`` steps each."""
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_epoch import OUT, batch_words, prepare, time_steps

    from biodsnn.model import BioDSNN

    torch.set_num_threads(args.threads)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {torch.get_num_threads()} torch threads",
          flush=True)
    data, kb, split = prepare(OUT, seed=args.seed, preset=args.preset)
    ours = BioDSNN(data, kb, split=split, variant=args.variant, seed=args.seed, device=args.device)
    _ = ours.de
    ours._keep = ours._keep_table([*split.train, "ctrl"])
    time_steps(ours, 1)  # warm-up
    took, steps, cells = time_steps(ours, args.max_steps)
    ours_tp = cells / took
    print(f"{ours.name}: {steps} steps / {cells:,} cells in {took:.1f}s = {ours_tp:.1f} cells/s "
          f"(batch {batch_words(ours)}); peak RSS so far {_rss_gb():.2f} GB",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_gears_") as tmp:
        g = gears_steps(data, split, args, Path(tmp))
    ratio = ours_tp / g["cells_per_s"]
    print(f"\nthroughput on {data.adata.n_obs:,} cells × {len(data.genes):,} genes ({args.preset}), "
          f"{args.max_steps} timed steps each: {ours.name} {ours_tp:.1f} cells/s, GEARS {g['cells_per_s']:.1f} "
          f"cells/s, ratio {ratio:.1f}×")
    figures = {"preset": args.preset, "max_steps": args.max_steps, "variant": ours.name,
               "cells": int(data.adata.n_obs), "genes": len(data.genes), "load_average": os.getloadavg()[0],
               "throughput_cells_per_s": {ours.name: round(ours_tp, 1), "GEARS-0.1.2": round(g["cells_per_s"], 1)},
               "throughput_ratio": round(ratio, 2), "gears": g, "peak_rss_gb": round(_rss_gb(), 2)}
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return figures


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="tiny",
                        choices=["crispra", "crispri", "mixed", "lines", "norman", "tiny", "small"])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variant", default="full", help="BioDSNN variant to compare")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--json", default=None, help="Also write the figures to this JSON file")
    parser.add_argument("--verbose", action="store_true", help="Show GEARS' own output")
    parser.add_argument("--max-steps", type=int, default=0,
                        help="Time this many training steps of each model on bench_epoch's cached data (no epochs)")
    parser.add_argument("--gears-cells", type=int, default=20, help="--max-steps: cells per condition in GEARS' "
                        "cell-graph dataset (control: 20 times as many)")
    parser.add_argument("--gears-go", action="store_true", help="--max-steps: let GEARS build its GO graph itself")
    parser.add_argument("--threads", type=int, default=2, help="--max-steps: torch threads")
    args = parser.parse_args(argv)
    try:
        import gears  # noqa: F401
    except ImportError:
        raise SystemExit("this benchmark needs GEARS: pip install cell-gears==0.1.2 dcor") from None
    if args.max_steps:
        os.environ.setdefault("BIODSNN_NO_PROGRESS", "1")
        return steps_main(args)

    os.environ.setdefault("BIODSNN_NO_PROGRESS", "1")
    from biodsnn.baselines import get_baseline
    from biodsnn.data import load_perturb_data, make_split, rank_de_genes, simulate
    from biodsnn.evaluate import evaluate
    from biodsnn.model import BioDSNN
    from kg_build import KnowledgeBundle, build_bundle

    with tempfile.TemporaryDirectory(prefix="bench_gears_") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        ad = simulate(preset=args.preset, seed=args.seed, progress=False)
        data = load_perturb_data(ad)
        split = make_split(data.conditions, kind="simulation", seed=args.seed)
        build_bundle(data, split, work / "knowledge")
        kb = KnowledgeBundle.load(work / "knowledge")
        de = rank_de_genes(data, n_top=20)
        print(
            f"data: {data.adata.n_obs} cells × {len(data.genes)} genes, {len(split.train)} train / "
            f"{len(split.val)} val / {len(split.test)} test conditions "
            f"(prepared in {time.perf_counter() - t0:.1f} s)"
        )

        ours = BioDSNN(data, kb, split=split, variant=args.variant, seed=args.seed, de=de, device=args.device)
        ours_cells = int(sum(len(data.cells_of(c)) for c in split.train))
        start = time.perf_counter()
        ours.fit(epochs=args.epochs, progress=False)
        ours_s = time.perf_counter() - start
        print(f"{ours.name}: trained {args.epochs} epochs on {ours_cells} cells in {ours_s:.1f} s")

        gears_model, gears_s, gears_cells = train_gears(
            data, split, args.epochs, args.seed, args.device, work, quiet=not args.verbose
        )
        gp = GearsPredictor(gears_model, data)
        additive = get_baseline("additive")(data, split).fit()
        result = evaluate([additive, gp, ours], data, split, de, n_boot=args.n_boot, seed=args.seed)

    ours_tp = ours_cells * args.epochs / ours_s
    gears_tp = gears_cells * args.epochs / gears_s
    figures = {
        "preset": args.preset,
        "epochs": args.epochs,
        "seed": args.seed,
        "variant": ours.name,
        "cells": int(data.adata.n_obs),
        "genes": len(data.genes),
        "throughput_cells_per_s": {ours.name: round(ours_tp, 1), gp.name: round(gears_tp, 1)},
        "throughput_ratio": round(ours_tp / gears_tp, 2),
        "scores": {},
    }
    print(
        f"\nthroughput: {ours.name} {ours_tp:.0f} cells/s, GEARS {gears_tp:.0f} cells/s, "
        f"ratio {ours_tp / gears_tp:.2f}×"
    )
    for metric in ("mse_de20", "pearson_delta_de20"):
        for ref in ("observed", "noise_free"):
            for g in ("overall", *sorted({split.subgroup[c] for c in split.test})):
                row = {}
                for name in result.models:
                    try:
                        s = result.score(name, metric, g, ref)
                    except ValueError:
                        continue
                    row[name] = [round(s.mean, 4), round(s.ci_low, 4), round(s.ci_high, 4)]
                figures["scores"][f"{metric}/{ref}/{g}"] = row
    for key, row in figures["scores"].items():
        if key.endswith("/overall"):
            print(f"{key:38s} " + "  ".join(f"{n}: {v[0]:.4f} [{v[1]:.3f}, {v[2]:.3f}]" for n, v in row.items()))
    ov = figures["scores"]["mse_de20/observed/overall"]
    if gp.name in ov and ours.name in ov:
        change = 1 - ov[ours.name][0] / ov[gp.name][0]
        figures["mse_de20_reduction_vs_gears"] = round(change, 4)
        print(f"top-20 DE MSE of {ours.name} is {100 * change:.1f} % lower than GEARS' (negative: higher)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return figures


if __name__ == "__main__":
    main()
