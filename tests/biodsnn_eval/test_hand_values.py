"""Values, not ranges: hand-computed cases for the discrimination score as ``evaluate`` wires it (target genes left
out) and for the distance-correlation GI scores (``dcor``, ``dcor_singles``, ``eq_contr``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from biodsnn.data.conditions import split_context
from biodsnn.evaluate import evaluate
from biodsnn.evaluate._bootstrap import bootstrap_ci, bootstrap_indices
from biodsnn.evaluate._gi import distance_correlation, gi_scores
from reactomenet.errors import InputError

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


class LineData(FakeData):
    """Units ``line|condition`` of two lines, each measured from its own control (``control_means``)."""

    def __init__(self, genes: list[str], controls: dict[str, np.ndarray], means: dict[str, np.ndarray]) -> None:
        super().__init__(genes, np.mean(list(controls.values()), axis=0), means)
        self.controls = controls

    def condition_genes(self, unit: str) -> tuple[str, ...]:
        return super().condition_genes(split_context(unit)[1])

    def control_means(self, units) -> np.ndarray:
        return np.stack([self.controls[split_context(u)[0]] for u in units])


def test_evaluate_with_lines_pairs_each_double_with_its_own_lines_singles_and_control():
    """Line A sits at 1, line B at 4; each line has its own single effects, and its double is an exact linear mix
    of its own singles: A's G0+G1 = 1·a0 + 2·a1, B's = 3·b0 + 1·b1. The GI fit recovers each line's (c1, c2) only
    when the double is paired with its own line's singles and changes are taken from its own line's control."""
    genes = [f"G{i}" for i in range(6)]
    ctrl = {"A": np.ones(6), "B": np.full(6, 4.0)}
    single = {("A", "G0"): np.array([1.0, 0.0, 2.0, -1.0, 0.5, 3.0]),
              ("A", "G1"): np.array([0.0, 1.0, -1.0, 2.0, 1.5, -2.0]),
              ("B", "G0"): np.array([2.0, -1.0, 0.0, 1.0, -3.0, 1.0]),
              ("B", "G1"): np.array([-1.0, 2.0, 1.0, 0.0, 2.0, 0.5])}
    coef = {"A": (1.0, 2.0), "B": (3.0, 1.0)}
    means = {f"{line}|{g}+ctrl": ctrl[line] + e for (line, g), e in single.items()}
    for line, (c1, c2) in coef.items():
        means[f"{line}|G0+G1"] = ctrl[line] + c1 * single[line, "G0"] + c2 * single[line, "G1"]
    data = LineData(genes, ctrl, means)
    doubles = ["A|G0+G1", "B|G0+G1"]
    split = FakeSplit(train=[u for u in means if u not in doubles], val=[], test=doubles,
                      subgroup=dict.fromkeys(doubles, "combo_seen2"))
    de = FakeDE({u: np.arange(6) for u in means}, {u: np.arange(6) for u in means})
    res = evaluate([Fixed("m", means)], data, split, de, n_boot=0, noise_free=False, metrics=["gi_mag_abs_error"])
    assert np.array_equal(res.controls, np.stack([ctrl["A"], ctrl["B"]]))
    assert np.array_equal(res.control_of(1), ctrl["B"])
    truth = res.gi[res.gi.source == "true"].set_index("condition")
    for u, line in zip(doubles, "AB", strict=True):
        assert (truth.loc[u, "c1"], truth.loc[u, "c2"]) == pytest.approx(coef[line], abs=1e-6), u
    # the oracle's GI equals the truth's: magnitude error 0 in both lines
    assert res.metrics.set_index("condition").loc[doubles, "value"].tolist() == pytest.approx([0.0, 0.0], abs=1e-6)


def _one_gene(offsets: dict[str, list[float]], subgroups: list[str], noise_free_shift: float | None = None, **kw):
    """Three singles of one gene, true means 0, 1, 2; model ``name`` predicts truth + ``offsets[name]`` (so its
    per-condition MSE is the offset squared); the noise-free truth, if asked, is the observed + ``shift``."""
    conds = ["G0+ctrl", "G1+ctrl", "G2+ctrl"]
    means = {c: np.array([float(k)]) for k, c in enumerate(conds)}
    truth = None if noise_free_shift is None else {c: m + noise_free_shift for c, m in means.items()}
    data = FakeData(["G9"], np.zeros(1), means, true_means=truth)
    split = FakeSplit(train=[], val=[], test=conds, subgroup=dict(zip(conds, subgroups, strict=True)))
    de = FakeDE({c: np.arange(1) for c in conds}, {c: np.arange(1) for c in conds})
    models = {name: Fixed(name, {c: means[c] + o for c, o in zip(conds, off, strict=True)})
              for name, off in offsets.items()}
    return evaluate(models, data, split, de, metrics=["mse"], gi=False, **kw)


def test_compare_names_the_better_model_only_when_the_interval_excludes_zero():
    groups = ["seen_single"] * 3
    # a's MSEs (1, 1, 1) against b's (0.25, 0.25, 0.25): a − b = 0.75 in every resample; lower MSE is better: b
    res = _one_gene({"a": [1.0, 1.0, 1.0], "b": [0.5, 0.5, 0.5]}, groups, n_boot=200)
    cmp = res.compare("a", "b", "mse")
    assert (cmp.model_a, cmp.model_b, cmp.metric, cmp.subgroup) == ("a", "b", "mse", "overall")
    assert (cmp.difference, cmp.ci_low, cmp.ci_high, cmp.better) == (0.75, 0.75, 0.75, "b")
    assert res.compare("b", "a", "mse").better == "b"
    # a − b = (0, 0, 0.75): a resample of the two zeros alone (p = 8/27) puts the 2.5 % bound at exactly 0,
    # which does not exclude 0: no verdict; the same with the sign turned (upper bound exactly 0)
    res = _one_gene({"a": [0.5, 0.5, 1.0], "b": [0.5, 0.5, 0.5]}, groups, n_boot=1000)
    cmp = res.compare("a", "b", "mse")
    assert cmp.ci_low == 0.0 and 0.0 < cmp.ci_high <= 0.75 and cmp.better is None
    back = res.compare("b", "a", "mse")
    assert back.ci_high == 0.0 and back.better is None


def test_compare_reads_the_runs_bootstrap_settings_and_two_perturbations_get_an_interval():
    res = _one_gene({"a": [1.0, 2.0, 0.0], "b": [0.0, 0.0, 0.0]}, ["seen_single", "seen_single", "unseen_single"],
                    n_boot=50, seed=7, ci=0.5)
    diff = np.array([1.0, 4.0, 0.0])  # a − b per condition
    mean, lo, hi = bootstrap_ci(diff, bootstrap_indices(3, 50, 7, "overall"), 0.5)
    cmp = res.compare("a", "b", "mse")
    assert cmp.difference == mean == pytest.approx(5 / 3) and (cmp.ci_low, cmp.ci_high) == (lo, hi)
    # with the defaults (1000 resamples, seed 0, 95 %) the interval would be another
    assert (lo, hi) != bootstrap_ci(diff, bootstrap_indices(3, 1000, 0, "overall"), 0.95)[1:]
    # two perturbations are enough for an interval: (1, 4) resampled, seed 7, stream "seen_single"
    two = res.compare("a", "b", "mse", "seen_single")
    assert (two.ci_low, two.ci_high) == bootstrap_ci(diff[:2], bootstrap_indices(2, 50, 7, "seen_single"), 0.5)[1:]
    assert np.isfinite(two.ci_low) and two.difference == 2.5


def test_score_table_and_names_by_hand():
    # noise-free truth 0.5 above the observed: a (offset 1) has MSE 1 against observed, 0.25 against noise-free
    res = _one_gene({"first": [1.0, 1.0, 1.0], "second": [0.0, 0.0, 0.0]}, ["seen_single"] * 3,
                    noise_free_shift=0.5, n_boot=0, noise_free=True)
    assert res.models == ("first", "second")
    s = res.score("first", "mse", reference="noise_free")
    assert (s.model, s.reference, s.subgroup, s.metric, s.mean, s.n) == ("first", "noise_free", "overall", "mse",
                                                                         0.25, 3)
    assert res.table("mse").loc["first", "overall"] == 1.0
    assert res.table("mse", reference="noise_free").loc[["first", "second"], "overall"].tolist() == [0.25, 0.25]


def test_evaluate_names_predictors_by_the_mapping_and_refuses_two_of_one_name():
    conds = ["G0+ctrl", "G1+ctrl"]
    data = FakeData(["G9"], np.zeros(1), {c: np.array([float(k)]) for k, c in enumerate(conds)})
    split = FakeSplit(train=[], val=[], test=conds, subgroup=dict.fromkeys(conds, "seen_single"))
    de = FakeDE({c: np.arange(1) for c in conds}, {c: np.arange(1) for c in conds})
    same = Fixed("m", {c: np.zeros(1) for c in conds})
    other = Fixed("m", {c: np.ones(1) for c in conds})
    res = evaluate({"zero": same, "one": other}, data, split, de, metrics=["mse"], n_boot=0, gi=False)
    assert res.models == ("zero", "one")
    assert res.score("one", "mse").mean == 0.5 and res.score("zero", "mse").mean == 0.5  # (0 + 1) / 2, (1 + 0) / 2
    assert res.metrics.set_index(["model", "condition"]).loc[("one", "G0+ctrl"), "value"] == 1.0
    with pytest.raises(InputError, match="share a name"):
        evaluate([same, other], data, split, de, metrics=["mse"], n_boot=0, gi=False)
