"""Accuracy on simulated data: BioDSNN variants against the control / mean / additive / linear baselines, all scored
by ``biodsnn.evaluate.evaluate`` on the test conditions of one ``simulation`` split, by subgroup (combo_seen0/1/2,
unseen_single), on the top-20 DE genes: MSE (lower is better) and ``pearson_delta`` (higher is better).

``additive_oracle`` is NOT a baseline: it adds the observed means of the test singles too (which a model never sees),
so it is what "additive" would be if every single had been measured; it is printed to explain older figures.

    python benchmarks/accuracy_sim.py --preset small --epochs 20 --variants full additive_residual
    python benchmarks/accuracy_sim.py --preset small --epochs 60 --set lr_gamma=0.95 --variants full --train-fit

Takes a few minutes on ``small`` (2,840 cells × 500 genes) on 2 CPU cores; every number depends only on the seeds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any

import numpy as np

METRICS = ("mse_de20", "pearson_delta_de20")


class _OracleAdditive:
    """A + B − ctrl from the observed means of every single, test singles included (a reference, not a baseline)."""

    name = "additive_oracle"

    def __init__(self, data: Any) -> None:
        from biodsnn.data import parse_condition

        self._data, self._parse = data, parse_condition
        self._observed = set(data.conditions)

    def predict_means(self, conditions: list[str]) -> np.ndarray:
        ctrl = np.asarray(self._data.control_mean, dtype=np.float64)
        out = []
        for c in conditions:
            singles = [f"{g}+ctrl" for g in self._parse(c)]
            singles = [s for s in singles if s in self._observed]
            means = np.asarray(self._data.condition_means(singles), dtype=np.float64) if singles else np.zeros((0,))
            out.append(ctrl + (means - ctrl).sum(0) if singles else ctrl)
        return np.stack(out)


def _own_gene_change(model: Any, data: Any, singles: list[str]) -> tuple[float, float, float, float] | None:
    """The perturbed gene's own change (mean − control mean) on ``singles``: true mean, predicted mean, MSE, and the
    MSE of predicting no change; None when no single's gene is measured."""
    from biodsnn.data import parse_condition

    singles = [c for c in singles if parse_condition(c)[0] in data.gene_index]
    if not singles:
        return None
    cols = [data.gene_index[parse_condition(c)[0]] for c in singles]
    rows = np.arange(len(singles))
    ctrl = np.asarray(data.control_mean, dtype=np.float64)[cols]
    true = np.asarray(data.condition_means(singles), dtype=np.float64)[rows, cols] - ctrl
    pred = np.asarray(model.predict_means(singles), dtype=np.float64)[rows, cols] - ctrl
    return float(true.mean()), float(pred.mean()), float(np.mean((pred - true) ** 2)), float(np.mean(true ** 2))


def _without_targets(res: Any, data: Any) -> Any:
    """Models × subgroups table of the top-20 DE MSE over each condition's DE genes minus its own perturbed genes,
    against the observed means (the same predictions ``evaluate`` scored)."""
    import pandas as pd

    from biodsnn.evaluate import mse

    rows = []
    for k, c in enumerate(res.conditions):
        targets = {data.gene_index[g] for g in data.condition_genes(c) if g in data.gene_index}
        genes = np.array([i for i in res.de_top[c] if int(i) not in targets], dtype=np.int64)
        for name, pred in res.predicted.items():
            value = mse(pred[k], res.observed[k], idx=genes)
            rows.append({"model": name, "subgroup": res.subgroups[c], "value": value})
    df = pd.DataFrame(rows)
    table = df.pivot_table(index="model", columns="subgroup", values="value", aggfunc="mean", sort=False)
    table["overall"] = df.groupby("model", sort=False)["value"].mean()
    return table.reindex(index=list(res.models))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="small")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0, help="simulator and model seed")
    ap.add_argument("--split-seed", type=int, default=1)
    ap.add_argument("--mode", choices=["activation", "interference", "mixed"], default=None,
                    help="screen direction of the simulated data (default: the preset's; small and tiny are mixed)")
    ap.add_argument("--variants", nargs="*", default=["full", "additive_residual"])
    ap.add_argument("--baselines", default="control,mean,additive,linear")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="BioDSNN option override (repeatable), e.g. lr_gamma=0.9")
    ap.add_argument("--n-boot", type=int, default=0, help="bootstrap resamples for the paired comparisons")
    ap.add_argument("--no-oracle", action="store_true", help="leave out the additive_oracle reference")
    ap.add_argument("--train-fit", action="store_true",
                    help="also print each variant's top-20 DE MSE on its own training conditions (fit, not accuracy) "
                         "and, with a VAE, how far its regenerated control mean drifted from the control mean")
    args = ap.parse_args()

    from biodsnn.baselines import get_baseline, resolve_baselines
    from biodsnn.data import load_perturb_data, make_split, parse_condition, rank_de_genes, simulate
    from biodsnn.evaluate import evaluate
    from biodsnn.model import BioDSNN
    from cli._common import setting_value
    from kg_build import KnowledgeBundle, build_bundle

    hp = {k: setting_value(v) for k, v in (s.split("=", 1) for s in args.set)}
    t0 = time.perf_counter()
    data = load_perturb_data(simulate(preset=args.preset, seed=args.seed, mode=args.mode, progress=False))
    split = make_split(data.conditions, kind="simulation", seed=args.split_seed)
    de = rank_de_genes(data, n_top=20)
    kb_dir = tempfile.mkdtemp(prefix="kb-")
    build_bundle(data, split, kb_dir)
    kb = KnowledgeBundle.load(kb_dir)
    predictors: dict[str, Any] = {b: get_baseline(b)(data, split).fit() for b in resolve_baselines(args.baselines)}
    if not args.no_oracle:
        predictors["additive_oracle"] = _OracleAdditive(data)
    fit_seconds = {}
    for v in args.variants:
        t = time.perf_counter()
        m = BioDSNN(data, kb, split=split, variant=v, seed=args.seed, de=de, **hp)
        m.fit(epochs=args.epochs, progress=False)
        fit_seconds[v] = time.perf_counter() - t
        predictors[v] = m
        print(f"  {v}: {fit_seconds[v]:.0f} s, best epoch {m.best_epoch}, val top-20 DE MSE by epoch "
              + " ".join(f"{h['val_top20_de_mse']:.3f}" for h in m.history), flush=True)
        if args.train_fit:
            train = list(split.train)
            pred, true = m.predict_means(train), data.condition_means(train)
            fit = np.mean([np.mean((pred[i, de.top[c]] - true[i, de.top[c]]) ** 2) for i, c in enumerate(train)])
            print(f"  {v}: top-20 DE MSE on its {len(train)} training conditions {fit:.4f}", flush=True)
            own = _own_gene_change(m, data, [c for c in split.test if len(parse_condition(c)) == 1])
            if own is not None:
                print(f"  {v}: perturbed gene's own change on the held-out singles: true mean {own[0]:.3f}, "
                      f"predicted mean {own[1]:.3f}, MSE {own[2]:.4f} (no change: {own[3]:.4f})", flush=True)
            if m.module.vae is not None:  # how far the data stream's baseline has moved from the control mean
                drift = (m._baseline_mean() - m.ctrl_mean).cpu().numpy()
                print(f"  {v}: regenerated control mean − control mean: mean |.| {np.abs(drift).mean():.4f}, "
                      f"mean square {np.mean(drift ** 2):.4f}", flush=True)
    res = evaluate(predictors, data, split, de, metrics=list(METRICS), n_boot=args.n_boot, seed=args.seed, gi=False)

    counts = {g: sum(1 for c in res.conditions if res.subgroups[c] == g) for g in dict.fromkeys(res.subgroups.values())}
    print(f"\n{args.preset}: {data}; simulator seed {args.seed}, split seed {args.split_seed}, "
          f"mode {args.mode or 'preset'}, epochs {args.epochs}, "
          f"options {hp or 'defaults'}; test conditions per subgroup {counts}; {time.perf_counter() - t0:.0f} s")
    for ref in dict.fromkeys(res.summary.reference):
        for metric in METRICS:
            table = res.table(metric, reference=ref)
            print(f"\n{metric} (reference: {ref}; {'higher' if 'pearson' in metric else 'lower'} is better)")
            print(table.to_string(float_format=lambda x: f"{x:.4f}"))
    print("\nmse_de20 without the perturbed genes (observed; the top-20 DE genes other than the condition's own "
          "targets, which a CRISPRa target's large own change would otherwise dominate)")
    print(_without_targets(res, data).to_string(float_format=lambda x: f"{x:.4f}"))
    scores = res.metrics[(res.metrics.metric == "mse_de20") & (res.metrics.reference == "observed")
                         & res.metrics.subgroup.str.startswith("combo_seen")]
    print("\nmse_de20 (observed) over every held-out combination: "
          + ", ".join(f"{k} {v:.4f}" for k, v in scores.groupby("model", sort=False)["value"].mean().items()))
    if args.n_boot:
        print("\npaired bootstrap, mse_de20 (observed): difference a − b and 95 % interval")
        for v in args.variants:
            for b in ("control", "additive"):
                if b not in predictors:
                    continue
                for g in ("combo_seen2", "combos", "overall"):
                    if g == "combo_seen2" and g not in counts:
                        continue
                    c = res.compare(v, b, "mse_de20", g)
                    print(f"  {v} − {b} [{g}]: {c.difference:+.4f} ({c.ci_low:+.4f}, {c.ci_high:+.4f}) "
                          f"better: {c.better}")


if __name__ == "__main__":
    main()
