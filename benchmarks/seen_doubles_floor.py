"""How much room the additive baseline leaves on doubles of two measured singles (combo_seen2), on simulated data.

On the top-20 DE genes of each held-out double A+B whose singles A and B are training conditions, it prints:

* ``additive``: the MSE of A + B − ctrl (observed means) against the observed double, as ``accuracy_sim.py`` scores it;
* ``sampling noise``: the part of that MSE expected from the sampling noise of the four means alone,
  Σ var/n over A+B, A, B and control (what a model that knew the true means would still be scored at);
* ``true interaction``: the mean square of the noise-free interaction truth(A+B) − truth(A) − truth(B) + truth(ctrl)
  (the simulator's ``uns["biodsnn_truth"]``), the part a model could win back by predicting the interaction.

A model beats additive on combo_seen2 only by predicting part of the true interaction; if that is small against the
sampling noise, no model can beat it by much on these data.

    python benchmarks/seen_doubles_floor.py --preset norman --seed 0

About a minute on ``norman`` (2 CPU cores); every number depends only on the seeds.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np


def mean_and_noise(x: Any, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene mean of ``rows`` of ``x`` and the variance of that mean (sample variance / n)."""
    import scipy.sparse as sp

    block = x[rows]
    block = block.toarray() if sp.issparse(block) else np.asarray(block)
    return block.mean(0), block.var(0, ddof=1) / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="norman",
                        choices=["crispra", "crispri", "mixed", "lines", "norman", "tiny", "small"])
    parser.add_argument("--seed", type=int, default=0, help="simulator seed")
    parser.add_argument("--split-seed", type=int, default=1)
    args = parser.parse_args()

    from biodsnn.data import format_condition, load_perturb_data, make_split, parse_condition, rank_de_genes, simulate
    from biodsnn.data.conditions import CONTROL

    data = load_perturb_data(simulate(preset=args.preset, seed=args.seed, progress=False))
    split = make_split(data.conditions, kind="simulation", seed=args.split_seed)
    de = rank_de_genes(data, n_top=20)
    truth = data.true_means
    train = set(split.train)
    ctrl_mean, ctrl_noise = mean_and_noise(data.X, data.control_cells)
    rows = []
    for cond in split.test:
        genes = parse_condition(cond)
        singles = [format_condition([g]) for g in genes]
        if len(genes) != 2 or not all(s in train for s in singles):
            continue
        top = de.top[cond]
        double, double_noise = mean_and_noise(data.X, data.cells_of(cond))
        (a, a_noise), (b, b_noise) = (mean_and_noise(data.X, data.cells_of(s)) for s in singles)
        additive = np.mean(((a + b - ctrl_mean) - double)[top] ** 2)
        noise = np.mean((double_noise + a_noise + b_noise + ctrl_noise)[top])
        interaction = np.nan
        if truth is not None:
            inter = truth[cond] - truth[singles[0]] - truth[singles[1]] + truth[CONTROL]
            interaction = float(np.mean(inter[top] ** 2))
        rows.append((additive, noise, interaction))
    if not rows:
        raise SystemExit("no held-out double with both singles in training on this split: try another --split-seed")
    additive, noise, interaction = np.mean(rows, axis=0)
    print(f"{args.preset} seed {args.seed}, split seed {args.split_seed}: {len(rows)} held-out doubles of two "
          f"training singles; top-20 DE MSE")
    print(f"  additive (A + B − ctrl, observed means) vs observed double: {additive:.4f}")
    print(f"  expected from the sampling noise of the four means:       {noise:.4f}")
    print(f"  true interaction (noise-free), mean square:                {interaction:.4f}")


if __name__ == "__main__":
    main()
