"""Values, not ranges: hand-computed cases for the discrimination score as ``evaluate`` wires it (target genes left
out) and for the distance-correlation GI scores (``dcor``, ``dcor_singles``, ``eq_contr``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from biodsnn.evaluate import evaluate
from biodsnn.evaluate._gi import distance_correlation, gi_scores

from .conftest import FakeData, FakeDE, FakeSplit


class Fixed:
    """A predictor with fixed predictions per condition."""

    def __init__(self, name: str, table: dict[str, np.ndarray]) -> None:
        self.name, self.table = name, table

    def predict_means(self, conditions):
        return np.stack([self.table[c] for c in conditions])


def test_discrimination_score_through_evaluate_leaves_each_targets_own_gene_out():
    # three singles, each targeting its own measured gene; true changes from control, rows = G0, G1, G2
    ctrl = np.ones(3)
    true = np.array([[5.0, 1.0, 0.0], [0.0, 5.0, 1.0], [1.0, 0.0, 5.0]])
    conds = ["G0+ctrl", "G1+ctrl", "G2+ctrl"]
    data = FakeData(["G0", "G1", "G2"], ctrl, {c: ctrl + t for c, t in zip(conds, true, strict=True)})
    split = FakeSplit(train=[], val=[], test=conds, subgroup=dict.fromkeys(conds, "unseen_single"))
    de = FakeDE({c: np.arange(3) for c in conds}, {c: np.arange(3) for c in conds})
    pred = true.copy()
    pred[0] = [0.0, 1.0, 0.0]  # G0's prediction misses its own target gene only
    model = Fixed("m", {c: ctrl + p for c, p in zip(conds, pred, strict=True)})
    result = evaluate([model], data, split, de, metrics=["pds_l1"], n_boot=0, gi=False)
    got = result.metrics.set_index("condition").loc[conds, "value"].tolist()
    # G0 without gene 0: its prediction (1, 0) is its true change (1, 0), distance 0, nothing closer: rank 0.
    # Were gene 0 kept, G0's own distance 5 would tie with G1's (5) and beat G2's (7): rank 0.5 / 2 = 0.25.
    # G1 without gene 1: own distance 0; G0 (5, 0) is 6 away, G2 (1, 5) is 5 away: rank 0. G2 likewise.
    assert got == [0.0, 0.0, 0.0]
    # swapping G1's and G2's predictions: G1 predicts (1, 0, 5), i.e. (1, 5) without gene 1; its own true change is
    # (0, 1) there (distance 5), G2's is (1, 5) (distance 0: closer), G0's is (5, 0) (distance 9): rank 1/2.
    # G2 predicts (0, 5, 1), i.e. (0, 5) without gene 2: own (1, 0) at 6, G1's (0, 5) at 0, G0's (5, 1) at 9: 1/2
    swapped = Fixed("s", {"G0+ctrl": ctrl + true[0], "G1+ctrl": ctrl + true[2], "G2+ctrl": ctrl + true[1]})
    result = evaluate([swapped], data, split, de, metrics=["pds_l1"], n_boot=0, gi=False)
    assert result.metrics.set_index("condition").loc[conds, "value"].tolist() == [0.0, 0.5, 0.5]


def test_distance_correlation_three_points_by_hand():
    # x = (0, 0, 1), y = (0, 1, 0): the double-centred distance matrices are A = [[-2,-2,4],[-2,-2,4],[4,4,-8]]/9 and
    # B = [[-2,4,-2],[4,-8,4],[-2,4,-2]]/9, so dCov² = ΣAB/9 = 4/81, dVar = ΣA²/9 = 16/81 and dCor = √(1/4)
    assert distance_correlation(np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0])) == pytest.approx(0.5)


def test_gi_dcor_and_eq_contr_by_hand():
    first, second = np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0])
    s = gi_scores(first, second, first.copy())  # the double is the first single's change
    assert (s.c1, s.c2, s.magnitude) == pytest.approx((1.0, 0.0, 1.0))
    # dcor(first, double) = 1 and dcor(second, double) = 1/2 (the case above): eq_contr = min/max = 1/2
    assert s.eq_contr == pytest.approx(0.5)
    assert s.dcor_singles == pytest.approx(0.5)
    # joint dcor of the points (0,0), (0,1), (1,0) with (0, 0, 1): with s = √2 the double-centred matrices give
    # dCov² = (36 + 72s)/729, dVar_x = (324 − 72s)/729, dVar_y = 144/729, so dCor² = (3 + 6s)/√(324 − 72s)
    r2 = math.sqrt(2)
    assert s.dcor == pytest.approx(math.sqrt((3 + 6 * r2) / math.sqrt(324 - 72 * r2)), rel=1e-12)
    # swapped singles: the same scores with c1 and c2 exchanged
    t = gi_scores(second, first, first.copy())
    assert (t.c1, t.c2) == pytest.approx((0.0, 1.0))
    assert (t.eq_contr, t.dcor, t.dcor_singles) == pytest.approx((s.eq_contr, s.dcor, s.dcor_singles))


def test_per_perturbation_metrics_on_a_gene_subset_by_hand():
    from biodsnn.evaluate._metrics import direction_correct, l2_distance, mse, pearson_expression, within_fraction

    ctrl = np.ones(5)
    true = np.array([3.0, 9.0, 0.0, 9.0, 2.0])
    pred = np.array([2.0, -9.0, 0.5, 9.0, 2.05])
    idx = np.array([0, 2, 4])  # p = (2, 0.5, 2.05), t = (3, 0, 2): genes 1 and 3 must not count
    assert mse(pred, true, ctrl, idx) == pytest.approx((1.0 + 0.25 + 0.0025) / 3)
    assert l2_distance(pred, true, ctrl, idx) == pytest.approx(math.sqrt(1.2525))
    # changes from control: predicted (+1, −0.5, +1.05), true (+2, −1, +1): every sign right on the subset; over
    # all genes gene 1 goes the wrong way (−10 against +8): 4/5
    assert direction_correct(pred, true, ctrl, idx) == 1.0
    assert direction_correct(pred, true, ctrl) == pytest.approx(0.8)
    # within ±5 %: |2 − 3| > 0.15, |0.5 − 0| > 0, |2.05 − 2| = 0.05 ≤ 0.1: 1/3
    assert within_fraction(pred, true, ctrl, idx) == pytest.approx(1 / 3)
    # Pearson of (2, 0.5, 2.05) and (3, 0, 2): centred by their means 4.55/3 and 5/3
    xc, yc = np.array([2.0, 0.5, 2.05]) - 4.55 / 3, np.array([4.0, -5.0, 1.0]) / 3
    expected = (xc @ yc) / math.sqrt((xc @ xc) * (yc @ yc))
    assert pearson_expression(pred, true, ctrl, idx) == pytest.approx(expected)


def test_discrimination_score_with_two_perturbations_and_a_close_neighbour():
    from biodsnn.evaluate._metrics import discrimination_ranks

    t = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert discrimination_ranks(t, t).tolist() == [0.0, 0.0]  # two perturbations are enough to rank
    assert discrimination_ranks(t[[1, 0]], t).tolist() == [1.0, 1.0]
    # a neighbour only 0.6 closer still counts: p0 predicts (0.8, 0): own (0, 0) at 0.8, p1's (1, 0) at 0.2
    true = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0]])
    pred = true.copy()
    pred[0] = [0.8, 0.0]
    assert discrimination_ranks(pred, true)[0] == 0.5


def test_gi_metrics_through_evaluate_by_hand():
    """Doubles built exactly as c1·A + c2·B from their singles, so Theil–Sen recovers (c1, c2) and every GI metric
    is known by hand; the model predicts the singles right and the doubles with other coefficients."""
    genes = [f"G{i}" for i in range(6)]
    ctrl = np.ones(6)
    effect = {"G0": np.array([1.0, 0.0, 2.0, -1.0, 0.5, 3.0]), "G1": np.array([0.0, 1.0, -1.0, 2.0, 1.5, -2.0]),
              "G2": np.array([2.0, -1.0, 0.0, 1.0, -3.0, 1.0]), "G3": np.array([-1.0, 2.0, 1.0, 0.0, 2.0, 0.5])}
    # true (c1, c2) with magnitudes 1, 2, 5, 10; predicted magnitudes √2, 4, 2, 13
    true_c = {"G0+G1": (1.0, 0.0), "G0+G2": (0.0, 2.0), "G1+G3": (3.0, 4.0), "G2+G3": (6.0, 8.0)}
    pred_c = {"G0+G1": (1.0, 1.0), "G0+G2": (0.0, 4.0), "G1+G3": (2.0, 0.0), "G2+G3": (5.0, 12.0)}

    def means(coefs):
        out = {f"{g}+ctrl": ctrl + e for g, e in effect.items()}
        for c, (c1, c2) in coefs.items():
            a, b = c.split("+")
            out[c] = ctrl + c1 * effect[a] + c2 * effect[b]
        return out

    data = FakeData(genes, ctrl, means(true_c))
    doubles = list(true_c)
    split = FakeSplit(train=[f"{g}+ctrl" for g in effect], val=[], test=doubles,
                      subgroup=dict.fromkeys(doubles, "combo_seen2"))
    de = FakeDE({c: np.arange(6) for c in data.conditions}, {c: np.arange(6) for c in data.conditions})
    res = evaluate([Fixed("m", means(pred_c))], data, split, de, n_boot=0, noise_free=False,
                   metrics=["gi_mag_abs_error", "gi_mag_pearson", "gi_synergy_overlap", "gi_suppressor_overlap"])
    errors = res.metrics[res.metrics.metric == "gi_mag_abs_error"].set_index("condition").value
    assert errors[doubles].tolist() == pytest.approx([math.sqrt(2) - 1, 2.0, 3.0, 3.0])
    # Pearson of (√2, 4, 2, 13) and (1, 2, 5, 10): x̄ = (19 + √2)/4, ȳ = 4.5
    x, y = np.array([math.sqrt(2), 4.0, 2.0, 13.0]), np.array([1.0, 2.0, 5.0, 10.0])
    xc, yc = x - (19 + math.sqrt(2)) / 4, y - 4.5
    assert res.score("m", "gi_mag_pearson").mean == pytest.approx((xc @ yc) / math.sqrt((xc @ xc) * (yc @ yc)))
    # k = ⌊4/2⌋ = 2: true top {G1+G3, G2+G3}, predicted top {G0+G2, G2+G3}: 1/2; bottom: true {G0+G1, G0+G2},
    # predicted {G0+G1, G1+G3}: 1/2
    assert res.score("m", "gi_synergy_overlap").mean == 0.5
    assert res.score("m", "gi_suppressor_overlap").mean == 0.5
    assert res.score("m", "gi_mag_abs_error").mean == pytest.approx((math.sqrt(2) - 1 + 8.0) / 4)
