"""Minimal accuracy check on simulated data: BioDSNN variants vs the no-change (control mean) and additive
(A + B − ctrl) predictions on held-out doubles, MSE on each condition's top-20 DE genes (true = observed means).

Deliberately minimal: the full evaluation (metrics registry, bootstrap, baselines) is `biodsnn.evaluate`.

    python benchmarks/accuracy_sim.py --preset small --epochs 5 --variants full additive_residual
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="small")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variants", nargs="+", default=["full", "additive_residual"])
    args = ap.parse_args()
    from biodsnn.data import load_perturb_data, make_split, parse_condition, rank_de_genes, simulate
    from biodsnn.model import BioDSNN
    from kg_build import KnowledgeBundle, build_bundle

    data = load_perturb_data(simulate(preset=args.preset, seed=args.seed, progress=False))
    split = make_split(data.conditions, kind="simulation", seed=1)
    de = rank_de_genes(data, n_top=20)
    kb_dir = tempfile.mkdtemp(prefix="kb-")
    build_bundle(data, split, kb_dir)
    kb = KnowledgeBundle.load(kb_dir)
    doubles = [c for c in split.test if len(parse_condition(c)) == 2]
    observed = set(data.conditions)
    true = data.condition_means(doubles)
    ctrl = data.control_mean

    def score(pred: np.ndarray) -> float:
        return float(np.mean([np.mean((pred[i, de.top[c]] - true[i, de.top[c]]) ** 2) for i, c in enumerate(doubles)]))

    preds = {"no-change": np.tile(ctrl, (len(doubles), 1))}
    add = []
    for c in doubles:
        singles = [f"{g}+ctrl" for g in parse_condition(c)]
        means = data.condition_means([s for s in singles if s in observed])
        add.append(ctrl + (means - ctrl).sum(0))  # an unmeasured single contributes no change
    preds["additive"] = np.stack(add)
    for v in args.variants:
        m = BioDSNN(data, kb, split=split, variant=v, seed=args.seed, de=de).fit(epochs=args.epochs, progress=False)
        preds[v] = m.predict_means(doubles)
    print(f"{args.preset}: {data}; {len(doubles)} held-out doubles; MSE on top-20 DE genes (lower is better)")
    for name, p in preds.items():
        print(f"  {name:20s} {score(p):.5f}")


if __name__ == "__main__":
    main()
