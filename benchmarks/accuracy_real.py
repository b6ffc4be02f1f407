"""Accuracy on the real Perturb-seq subsets in ../shared/data/real/: BioDSNN variants against every baseline.

For every real file and each split kind it supports (Norman: simulation and combo_seen1; McFaline: unseen singles
and context transfer; Papalexi and Datlinger: unseen singles), over several split seeds: build the knowledge bundle
on the split's training cells, fit each variant, and score variants and baselines with `biodsnn evaluate`'s one code
path (`biodsnn.evaluate.evaluate`). Reported per subgroup: top-20 DE MSE and pearson_delta, MSE and pearson_delta
over all genes, the L2 over the 1,000 genes most expressed in control (Ahlmann-Eltze et al. 2025), and paired
bootstrap intervals of the default model minus each baseline, pooled over (seed, perturbation).

    python benchmarks/accuracy_real.py                       # every file, default variant, 3 seeds
    python benchmarks/accuracy_real.py --files norman --variants full noVAE --seeds 0 1 2 --epochs 20
    python benchmarks/accuracy_real.py --out benchmarks/output/accuracy_real.md --raw benchmarks/output/real.parquet

``--out`` and ``--raw`` replace only files this script wrote (checked before the run starts), atomically.

Nothing is tuned here: the figures are what the defaults give.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
#: how a markdown file written by --out begins; the Parquet file of --raw carries RAW_KIND in its metadata
OUT_MARK = "Command: `python benchmarks/accuracy_real.py"
RAW_KIND = "accuracy_real"


def _refuse(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def check_outputs(out: Path | None, raw: Path | None) -> None:
    """Refuse (one line, exit status 2) an ``--out``/``--raw`` path that holds a file this script did not write, or a
    folder, before an hour of fitting rather than after."""
    from reactomenet.io import read_parquet_metadata

    for path, flag in ((out, "--out"), (raw, "--raw")):
        if path is not None and path.is_dir():
            _refuse(f"{flag} {path} is a folder; give a file path")
    if out is not None and out.exists():
        with out.open("rb") as f:  # only the head: the file may be anything, of any size
            head = f.read(len(OUT_MARK.encode()))
        if head != OUT_MARK.encode():
            _refuse(f"{out} exists and was not written by accuracy_real.py; give a new file for --out")
    if raw is not None and raw.exists():
        try:
            kind = read_parquet_metadata(raw).get("kind")
        except Exception:  # not Parquet, or Parquet without our metadata
            kind = None
        if kind != RAW_KIND:
            _refuse(f"{raw} exists and was not written by accuracy_real.py; give a new file for --raw")

#: file → (h5ad name, loader options, split kinds it supports)
FILES: dict[str, tuple[str, dict[str, Any], tuple[str, ...]]] = {
    # the subset's doubles are mostly of genes with no single in it, so its held-out doubles are combo_seen0/1
    "norman": ("norman2019_k562_subset.h5ad", {"convention": "perturbench"}, ("simulation", "combo_seen1")),
    "mcfaline": ("mcfaline2023_gbm_subset.h5ad", {"convention": "perturbench"}, ("single", "transfer")),
    "papalexi": ("papalexi2021_thp1_subset.h5ad", {"condition_key": "gene_target", "normalize": True}, ("single",)),
    "datlinger": ("datlinger2017_jurkat_subset.h5ad",
                  {"convention": "pertpy", "normalize": True, "context_key": "stimulation"}, ("single",)),
}
#: Held-out fractions: these files have 9–28 perturbations, so GEARS' 10 % would test one or two.
SPLIT_OPTIONS: dict[str, dict[str, float]] = {
    "single": {"test_fraction": 0.25, "val_fraction": 0.15},
    "transfer": {"test_fraction": 0.34, "val_fraction": 0.2},
    "combo_seen1": {"test_fraction": 0.3, "val_fraction": 0.2},
    "simulation": {},
}
METRICS = ("mse_de20", "pearson_delta_de20", "mse", "pearson_delta", "l2_ctrl1000")
BASELINES = ("control", "mean", "additive", "linear")


def _reuse_go_graph() -> None:
    """The GO graph depends on the GO table and the perturbable genes only, never on the data or the split: build it
    once per process instead of once per bundle (the same object, so the same numbers)."""
    import kg_build.bundle as bundle

    if getattr(bundle.go_graph, "_memo", None) is not None:
        return
    original, memo = bundle.go_graph, {}

    def go_graph(annotations: Any, nodes: Any, **kw: Any) -> Any:
        key = (annotations.sha256, repr(annotations.options), tuple(nodes), tuple(sorted(kw.items())))
        if key not in memo:
            memo[key] = original(annotations, nodes, **kw)
        return memo[key]

    go_graph._memo = memo  # type: ignore[attr-defined]
    bundle.go_graph = go_graph


def _predictable_only(split: Any, data: Any) -> Any:
    """Move held-out conditions with a gene that no model of ours can embed (neither in GO, measured, nor perturbed
    in training, e.g. IER5L in Norman's subset) to ``excluded``, as every predictor is scored on the same set."""
    from dataclasses import replace

    from kg_build import load_go_annotations

    train_genes = {g for c in split.train for g in data.condition_genes(c)}
    known = set(load_go_annotations().genes) | set(data.genes) | train_genes
    drop = [c for c, s in split.assignment.items() if s != "train" and not set(data.condition_genes(c)) <= known]
    if not drop:
        return split
    print(f"  excluded (no embedding possible): {', '.join(drop)}", file=sys.stderr)
    return replace(split, assignment={c: s for c, s in split.assignment.items() if c not in drop},
                   subgroup={c: g for c, g in split.subgroup.items() if c not in drop},
                   excluded=sorted([*split.excluded, *drop]))


def run_one(name: str, kind: str, seed: int, variants: list[str], epochs: int, settings: dict[str, Any],
            n_boot: int) -> pd.DataFrame:
    """Per-condition metric values of every model on one (file, split kind, seed)."""
    from biodsnn.baselines import get_baseline
    from biodsnn.data import load_perturb_data, make_split, rank_de_genes
    from biodsnn.evaluate import evaluate
    from biodsnn.model import BioDSNN
    from kg_build import build_bundle

    _reuse_go_graph()
    fname, options, _ = FILES[name]
    data = load_perturb_data(REAL / fname, **options)
    split = make_split(data.conditions, kind=kind, seed=seed, **SPLIT_OPTIONS[kind])
    split = _predictable_only(split, data)
    de = rank_de_genes(data)
    predictors: dict[str, Any] = {b: get_baseline(b)(data, split).fit() for b in BASELINES}
    with tempfile.TemporaryDirectory() as tmp:
        build_bundle(data, split, Path(tmp) / "kb", progress=False)
        for v in variants:
            model = BioDSNN(data, Path(tmp) / "kb", split=split, variant=v, seed=seed, de=de, **settings)
            model.fit(epochs=epochs, progress=False)
            predictors[model.name] = model
    res = evaluate(predictors, data, split, de, metrics=list(METRICS), n_boot=n_boot, seed=seed, gi=False)
    m = res.metrics[res.metrics.reference == "observed"].copy()
    m["file"], m["kind"], m["seed"] = name, kind, seed
    return m


def summarise(frame: pd.DataFrame, reference_model: str, n_boot: int) -> str:
    """Markdown: per (file, kind) a models × subgroups table per metric, and paired intervals against baselines."""
    from biodsnn.evaluate._bootstrap import bootstrap_ci, bootstrap_indices
    from biodsnn.evaluate._metrics import get_metric

    lines: list[str] = []
    for (name, kind), part in frame.groupby(["file", "kind"], sort=False):
        seeds = sorted(part.seed.unique())
        n_cond = part.groupby("seed").condition.nunique().to_dict()
        lines += [f"### {name} — {kind} split (seeds {', '.join(map(str, seeds))}; held-out perturbations per seed: "
                  f"{', '.join(str(n_cond[s]) for s in seeds)})", ""]
        groups = [*sorted(part.subgroup.unique()), "overall"]
        for metric in METRICS:
            spec = get_metric(metric)
            sub = part[part.metric == metric]
            table = {}
            for model, rows in sub.groupby("model", sort=False):
                table[model] = {g: rows[rows.subgroup == g].value.mean() if g != "overall" else rows.value.mean()
                                for g in groups}
            t = pd.DataFrame(table).T[groups]
            arrow = "↑" if spec.higher_is_better else "↓"
            lines += [f"**{metric}** ({arrow} better; mean over seeds and perturbations)", "",
                      "| model | " + " | ".join(groups) + " |", "|---|" + "---|" * len(groups)]
            for model, row in t.iterrows():
                lines.append(f"| {model} | " + " | ".join("—" if not np.isfinite(v) else f"{v:.4g}" for v in row)
                             + " |")
            lines.append("")
        lines += [f"Paired differences {reference_model} − baseline over every (seed, perturbation), overall, "
                  f"95 % bootstrap interval ({n_boot} resamples); negative MSE / L2 and positive pearson favour "
                  f"{reference_model}:", "",
                  "| metric | " + " | ".join(b for b in BASELINES) + " |", "|---|" + "---|" * len(BASELINES)]
        for metric in METRICS:
            sub = part[part.metric == metric]
            wide = sub.pivot_table(index=["seed", "condition"], columns="model", values="value")
            cells = []
            for b in BASELINES:
                if reference_model not in wide or b not in wide:
                    cells.append("—")
                    continue
                d = (wide[reference_model] - wide[b]).to_numpy(dtype=np.float64)
                d = d[np.isfinite(d)]
                if len(d) < 2:
                    cells.append("—")
                    continue
                mean, lo, hi = bootstrap_ci(d, bootstrap_indices(len(d), n_boot, 0, f"{name}/{kind}/{metric}"), 0.95)
                cells.append(f"{mean:+.4g} [{lo:+.4g}, {hi:+.4g}]")
            lines.append(f"| {metric} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", nargs="*", default=list(FILES), choices=list(FILES))
    ap.add_argument("--kinds", nargs="*", default=None, help="split kinds (default: each file's own)")
    ap.add_argument("--variants", nargs="*", default=None, help="default: the default variant")
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=None, help="default: the model's own default")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="model option, repeatable")
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=None, help="also write the markdown tables to this file")
    ap.add_argument("--raw", type=Path, default=None, help="write every per-condition value as Parquet")
    args = ap.parse_args(argv)
    check_outputs(args.out, args.raw)
    if not REAL.exists():
        _refuse(f"the real data folder {REAL} is missing; run from a checkout beside shared/")

    from biodsnn.variants import DEFAULT_VARIANT, get_variant, run_name, validate_hparams
    from cli._common import setting_value
    from reactomenet.io import atomic_output, write_parquet

    args.variants = args.variants or [DEFAULT_VARIANT]
    settings = validate_hparams({k: setting_value(v) for k, v in (s.split("=", 1) for s in args.set)})
    first = get_variant(args.variants[0]).settings
    epochs = args.epochs or int(settings.get("epochs", first["epochs"]))
    frames = []
    t0 = time.perf_counter()
    for name in args.files:
        for kind in args.kinds or FILES[name][2]:
            if kind not in FILES[name][2]:
                continue
            for seed in args.seeds:
                t = time.perf_counter()
                frames.append(run_one(name, kind, seed, args.variants, epochs, settings, args.n_boot))
                print(f"{name} {kind} seed {seed}: {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    frame = pd.concat(frames, ignore_index=True)
    if args.raw:
        write_parquet(frame, args.raw, {"kind": RAW_KIND})
    reference = run_name(args.variants[0], {**first, **settings, "epochs": epochs})
    text = summarise(frame, reference, args.n_boot)
    header = (f"Command: `python benchmarks/accuracy_real.py {' '.join(argv if argv is not None else sys.argv[1:])}` "
              f"(variants {', '.join(args.variants)}, {epochs} epochs, settings {settings or 'defaults'}; "
              f"{time.perf_counter() - t0:.0f} s in all)\n\n")
    print(header + text)
    if args.out:
        with atomic_output(args.out) as tmp:
            tmp.write_text(header + text)


if __name__ == "__main__":
    main()
