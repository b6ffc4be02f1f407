"""GEARS 0.1.2 against BioDSNN on the same simulated data and split, in one run.

    pip install cell-gears==0.1.2 dcor          # benchmark-only (GEARS' own deps: scanpy, sklearn, torch_geometric)
    python benchmarks/bench_gears.py --preset tiny --epochs 5
    python benchmarks/bench_gears.py --preset small --epochs 10 --variant full

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


def train_gears(data, split, epochs: int, seed: int, device: str, workdir: Path, quiet: bool):
    """Train GEARS on ``data``/``split``; returns (model, seconds, cells per epoch)."""
    import torch
    from gears import GEARS, PertData

    adata = data.adata.copy()
    adata.obs = adata.obs[["condition"]].copy()
    adata.obs["condition"] = adata.obs["condition"].astype(str)
    adata.obs["cell_type"] = "simulated"
    adata.var["gene_name"] = list(data.genes)
    adata.var_names = list(data.genes)
    gears_dir = workdir / "gears_data"
    gears_dir.mkdir(parents=True, exist_ok=True)
    (workdir / "data").mkdir(exist_ok=True)  # GEARS writes ./data/go_essential_<name>.csv
    n_go = write_gene2go(gears_dir / "gene2go_all.pkl")
    split_file = workdir / "gears_split.pkl"
    with open(split_file, "wb") as fh:
        pickle.dump({"train": ["ctrl", *split.train], "val": list(split.val), "test": list(split.test)}, fh)
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
    args = parser.parse_args(argv)
    try:
        import gears  # noqa: F401
    except ImportError:
        raise SystemExit("this benchmark needs GEARS: pip install cell-gears==0.1.2 dcor") from None

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
