"""What ``evaluate`` returns, field by field, by hand: the result's arrays and settings, the subgroup intervals,
the control-ranked and target-excluded gene sets, the GI table and its set-level interval, and every refusal's
exact line. Each case here killed mutants of ``_evaluate.py`` that the other tests let through (docs/testing.md)."""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import numpy as np
import pytest

from biodsnn.evaluate import evaluate
from biodsnn.evaluate._bootstrap import bootstrap_ci, bootstrap_indices
from biodsnn.evaluate._gi import gi_scores
from biodsnn.evaluate._metrics import discrimination_celleval
from reactomenet.errors import InputError

from .conftest import FakeData, FakeDE, FakeSplit
from .test_hand_values import Fixed, LineData

GENES = ["G0", "G1", "G2", "G3"]
CTRL = np.array([4.0, 3.0, 2.0, 1.0])


def _de(conds, n_genes: int = 4) -> FakeDE:
    return FakeDE({c: np.arange(n_genes) for c in conds}, {c: np.arange(n_genes) for c in conds})


def test_the_result_holds_genes_controls_observations_predictions_de_genes_and_settings():
    conds = ["G0+ctrl", "G1+ctrl", "G2+ctrl"]
    means = {c: CTRL + k + 1 for k, c in enumerate(conds)}
    data = FakeData(GENES, CTRL, means)
    del data.true_means  # data without a noise-free truth at all (real data)
    pred = {c: m + np.array([1.0, 0.0, 0.0, 0.0]) * (k + 1) for k, (c, m) in enumerate(means.items())}
    de = FakeDE({c: np.array([3 - k, 0]) for k, c in enumerate(conds)}, {c: np.array([0]) for c in conds})
    split = SimpleNamespace(test=conds)  # a split with no subgroups: every condition is "test"
    res = evaluate([Fixed("m", pred)], data, split, de, metrics=["mse", "pearson_delta"], gi=False)
    assert res.genes == tuple(GENES) and res.conditions == tuple(conds)
    assert res.subgroups == dict.fromkeys(conds, "test") and set(res.summary.subgroup) == {"test", "overall"}
    assert np.array_equal(res.control, CTRL) and np.array_equal(res.controls, np.tile(CTRL, (3, 1)))
    assert np.array_equal(res.observed, np.stack(list(means.values())))
    assert list(res.predicted) == ["m"] and np.array_equal(res.predicted["m"], np.stack(list(pred.values())))
    assert {c: v.tolist() for c, v in res.de_top.items()} == {"G0+ctrl": [3, 0], "G1+ctrl": [2, 0],
                                                             "G2+ctrl": [1, 0]}
    assert np.array_equal(dataclasses.replace(res, controls=None).control_of(2), CTRL)
    assert res.settings == {"n_boot": 1000, "seed": 0, "ci": 0.95, "noise_free": False, "n_top_expressed": 1000,
                            "metrics": ["mse", "pearson_delta"], "gi_doubles": 0}
    assert dict(zip(res.summary.metric, res.summary.higher_is_better, strict=True)) == {"mse": False,
                                                                                       "pearson_delta": True}
    # MSE over 4 genes of an error (k + 1) on gene 0: 1/4, 4/4, 9/4; the default interval: 1,000 resamples, seed 0
    mse = np.array([0.25, 1.0, 2.25])
    mean, lo, hi = bootstrap_ci(mse, bootstrap_indices(3, 1000, 0, "overall"), 0.95)
    s = res.score("m", "mse")
    assert (s.mean, s.ci_low, s.ci_high, s.n) == (pytest.approx(mean), lo, hi, 3) and lo < mean < hi
    with pytest.raises(InputError) as err:
        evaluate([Fixed("m", pred)], data, split, de, metrics=["mse"], gi=False, noise_free=True)
    assert str(err.value) == "noise_free=True needs simulated data with true_means"


def test_each_subgroup_gets_its_own_bootstrap_stream_and_one_perturbation_no_interval():
    conds = [f"G{i}+ctrl" for i in range(6)]
    genes = [f"G{i}" for i in range(6)]
    means = {c: np.zeros(6) for c in conds}
    err = [1.0, 2.0, 4.0, 1.0, 3.0, 5.0]  # top-20 DE MSE over the one DE gene: err²
    pred = {c: np.eye(6)[0] * e for c, e in zip(conds, err, strict=True)}
    # three seen singles, two unseen ones and one condition the split names no subgroup for ("test")
    sub = dict(zip(conds[:5], ["seen_single"] * 3 + ["unseen_single"] * 2, strict=True))
    split = FakeSplit(train=[], val=[], test=conds, subgroup=sub)
    de = FakeDE({c: np.array([0]) for c in conds}, {c: np.array([0]) for c in conds})
    data = FakeData(genes, np.zeros(6), means)
    res = evaluate([Fixed("m", pred)], data, split, de, metrics=["mse_de20"], n_boot=40, seed=7, ci=0.5, gi=False)
    v = np.array(err) ** 2
    for g, rows in {"seen_single": [0, 1, 2], "unseen_single": [3, 4], "overall": list(range(6))}.items():
        mean, lo, hi = bootstrap_ci(v[rows], bootstrap_indices(len(rows), 40, 7, g), 0.5)
        s = res.score("m", "mse_de20", g)
        assert (s.mean, s.ci_low, s.ci_high, s.n) == (pytest.approx(mean), lo, hi, len(rows)), g
        assert lo < hi, g  # the 50 % interval of these values is not a point
    one = res.score("m", "mse_de20", "test")
    assert (one.mean, one.n) == (25.0, 1) and math.isnan(one.ci_low) and math.isnan(one.ci_high)
    # no resampling, no interval; a single resample is still one
    once = lambda n_boot: evaluate([Fixed("m", pred)], data, split, de, metrics=["mse_de20"], n_boot=n_boot,  # noqa: E731
                                   gi=False).score("m", "mse_de20")
    none = once(0)
    assert none.mean == pytest.approx(v.mean()) and math.isnan(none.ci_low) and math.isnan(none.ci_high)
    single = once(1)
    resample = v[bootstrap_indices(6, 1, 0, "overall")[0]].mean()
    assert single.ci_low == single.ci_high == pytest.approx(resample)


def test_control_ranked_genes_and_cell_evals_single_target_exclusion_by_hand():
    # n_top_expressed=2: control 4, 3, 2, 1 ranks G0 and G1 first. The model errs by 3 on G0 and 4 on G1 for the
    # first single (L2 over those two genes: 5) and by 7 on G2 only for the second (L2: 0).
    conds = ["G0+ctrl", "G2+ctrl", "G1+G2", "G9+ctrl"]  # G9 is not measured: nothing to leave out for it
    true = {"G0+ctrl": [2.0, 0.0, 0.0, 0.0], "G2+ctrl": [0.0, 0.0, 1.0, 0.0],
            "G1+G2": [0.0, 3.0, 1.0, 0.0], "G9+ctrl": [0.0, 0.0, 0.0, 1.0]}
    data = FakeData(GENES, CTRL, {c: CTRL + np.array(t) for c, t in true.items()})
    err = {"G0+ctrl": [3.0, 4.0, 0.0, 0.0], "G2+ctrl": [0.0, 0.0, 7.0, 0.0], "G1+G2": [0.0, 0.0, 0.0, 0.0],
           "G9+ctrl": [0.0, 0.0, 0.0, 0.0]}
    pred = {c: CTRL + np.array(true[c]) + np.array(err[c]) for c in conds}
    split = FakeSplit(train=[], val=[], test=conds, subgroup=dict.fromkeys(conds, "seen_single"))
    res = evaluate([Fixed("m", pred)], data, split, _de(conds), metrics=["l2_ctrl1000", "pds_l1_celleval", "pds_l1"],
                   n_boot=0, gi=False, n_top_expressed=2)
    got = res.metrics.set_index(["metric", "condition"]).value
    assert [got["l2_ctrl1000", c] for c in conds] == [5.0, 0.0, 0.0, 0.0]
    # cell-eval leaves out a single's own target (G0 for G0+ctrl, G2 for G2+ctrl) but nothing for a double
    d_pred = np.stack([pred[c] - CTRL for c in conds])
    d_true = np.stack([np.array(true[c]) for c in conds])
    right = [np.array([0]), np.array([2]), np.array([], dtype=np.int64), np.array([], dtype=np.int64)]
    want = discrimination_celleval(d_pred, d_true, right)
    assert [got["pds_l1_celleval", c] for c in conds] == pytest.approx(want.tolist())
    # the test has power: no exclusion, the double's targets left out, or its first target, each scores otherwise
    none = np.array([], dtype=np.int64)
    for wrong in ([none] * 4, [*right[:2], np.array([1, 2]), none], [*right[:2], np.array([1]), none],
                  [none, none, np.array([1, 2]), none]):
        assert not np.allclose(discrimination_celleval(d_pred, d_true, wrong), want)


def test_each_lines_own_control_ranks_its_genes():
    # line A's control ranks G0, G1 first; line B's G3, G2. Each unit errs by 1 on G0 only: L2 1 in A, 0 in B.
    ctrl = {"A": CTRL, "B": CTRL[::-1].copy()}
    units = ["A|G0+ctrl", "B|G0+ctrl"]
    means = {u: ctrl[u[0]] + 1 for u in units}
    data = LineData(GENES, ctrl, means)
    pred = {u: m + np.eye(4)[0] for u, m in means.items()}
    split = FakeSplit(train=[], val=[], test=units, subgroup=dict.fromkeys(units, "seen_single"))
    res = evaluate([Fixed("m", pred)], data, split, _de(units), metrics=["l2_ctrl1000"], n_boot=0, gi=False,
                   n_top_expressed=2)
    assert res.metrics.set_index("condition").loc[units, "value"].tolist() == [1.0, 0.0]


def _gi_data():
    """Five doubles, exact mixes c1·A + c2·B of their singles (true magnitudes 1, 2, 5, 10, 13); three are
    combo_seen2, two combo_seen1; A4+G0 has no single of A4 and gets no GI analysis."""
    genes = [f"G{i}" for i in range(6)]
    ctrl = np.ones(6)
    effect = {"G0": [1.0, 0.0, 2.0, -1.0, 0.5, 3.0], "G1": [0.0, 1.0, -1.0, 2.0, 1.5, -2.0],
              "G2": [2.0, -1.0, 0.0, 1.0, -3.0, 1.0], "G3": [-1.0, 2.0, 1.0, 0.0, 2.0, 0.5]}
    true_c = {"G0+G1": (1.0, 0.0), "G0+G2": (0.0, 2.0), "G1+G3": (3.0, 4.0), "G2+G3": (6.0, 8.0),
              "G0+G3": (5.0, 12.0)}
    pred_c = {"G0+G1": (1.0, 1.0), "G0+G2": (0.0, 4.0), "G1+G3": (2.0, 0.0), "G2+G3": (5.0, 12.0),
              "G0+G3": (6.0, 8.0)}

    def means(coefs):
        out = {f"{g}+ctrl": ctrl + np.array(e) for g, e in effect.items()}
        for c, (c1, c2) in coefs.items():
            a, b = c.split("+")
            out[c] = ctrl + c1 * np.array(effect[a]) + c2 * np.array(effect[b])
        out["A4+G0"] = ctrl + np.array(effect["G0"])
        return out

    data = FakeData(genes, ctrl, means(true_c))
    sub = {"G0+G1": "combo_seen2", "G0+G2": "combo_seen2", "G1+G3": "combo_seen2", "G2+G3": "combo_seen1",
           "G0+G3": "combo_seen1", "A4+G0": "combo_seen1"}
    split = FakeSplit(train=[f"{g}+ctrl" for g in effect], val=[], test=list(sub), subgroup=sub)
    mag = {c: math.hypot(*v) for c, v in true_c.items()}, {c: math.hypot(*v) for c, v in pred_c.items()}
    return data, split, _de(data.conditions, 6), Fixed("m", means(pred_c)), mag


def test_gi_table_rows_and_the_set_level_interval_by_hand():
    data, split, de, model, (true_mag, pred_mag) = _gi_data()
    # a set-level metric first: the per-perturbation metric after it is still scored
    res = evaluate([model], data, split, de, metrics=["gi_mag_pearson", "mse"], n_boot=30, seed=5, ci=0.5,
                   noise_free=False)
    doubles = ["G0+G1", "G0+G2", "G1+G3", "G2+G3", "G0+G3"]
    assert res.settings["gi_doubles"] == 5 and "A4+G0" not in set(res.gi.condition)
    assert len(res.metrics[(res.metrics.metric == "mse") & (res.metrics.condition != "*")]) == 6
    gi = res.gi.set_index(["source", "condition"])
    assert (gi.model.to_dict() == {**{("true", c): "truth" for c in doubles}, **{("pred", c): "m" for c in doubles}})
    assert set(res.gi.reference) == {"observed"}
    assert gi.loc["true"].subgroup.to_dict() == {c: split.subgroup[c] for c in doubles}
    assert gi.loc["pred", "magnitude"].to_dict() == pytest.approx(pred_mag)
    assert gi.loc["true", "magnitude"].to_dict() == pytest.approx(true_mag)

    def pearson(rows):
        x, y = np.array([pred_mag[doubles[r]] for r in rows]), np.array([true_mag[doubles[r]] for r in rows])
        return np.nan if x.std() == 0 or y.std() == 0 else float(np.corrcoef(x, y)[0, 1])

    # three combo_seen2 doubles: a 50 % interval from the "gi:combo_seen2" stream; two combo_seen1 doubles: none
    boots = [pearson(i) for i in bootstrap_indices(3, 30, 5, "gi:combo_seen2")]
    s = res.score("m", "gi_mag_pearson", "combo_seen2")
    assert (s.mean, s.n) == (pytest.approx(pearson([0, 1, 2])), 3)
    assert (s.ci_low, s.ci_high) == pytest.approx((np.nanquantile(boots, 0.25), np.nanquantile(boots, 0.75)))
    assert s.ci_low < s.ci_high
    two = res.score("m", "gi_mag_pearson", "combo_seen1")
    assert two.n == 2 and math.isnan(two.ci_low) and math.isnan(two.ci_high)
    # all five: the "gi:overall" stream, which gives another interval than the unnamed or the per-condition one
    def interval(stream):
        b = [pearson(i) for i in bootstrap_indices(5, 30, 5, stream)]
        return np.nanquantile(b, 0.25), np.nanquantile(b, 0.75)

    every = res.score("m", "gi_mag_pearson")
    assert (every.ci_low, every.ci_high) == pytest.approx(interval("gi:overall"))
    assert interval("gi:overall") != pytest.approx(interval("")) and interval("gi:overall") != pytest.approx(
        interval("overall"))
    # the overall set score is also one row of the long table
    star = res.metrics[res.metrics.condition == "*"]
    assert star[["model", "subgroup", "reference", "metric"]].values.tolist() == [["m", "overall", "observed",
                                                                                  "gi_mag_pearson"]]
    assert star.value.item() == pytest.approx(pearson(range(5)))


def test_gi_pair_sampling_in_evaluate_follows_its_seed():
    # 250 genes: 31,125 gene pairs, more than Theil–Sen's 20,000, so the pairs are drawn with evaluate's seed
    rng = np.random.default_rng(0)
    genes = [f"G{i}" for i in range(250)]
    a, b = rng.normal(size=250), rng.normal(size=250)
    means = {"G0+ctrl": a, "G1+ctrl": b, "G0+G1": 0.7 * a + 1.3 * b + rng.normal(0, 0.3, 250)}
    data = FakeData(genes, np.zeros(250), means)
    split = FakeSplit(train=["G0+ctrl", "G1+ctrl"], val=[], test=["G0+G1"], subgroup={"G0+G1": "combo_seen2"})
    de = FakeDE({c: np.arange(20) for c in means}, {c: np.arange(20) for c in means})
    fits = {}
    for seed in (3, 4):
        res = evaluate([Fixed("m", means)], data, split, de, metrics=["gi_mag_abs_error"], n_boot=0, seed=seed)
        fits[seed] = res.gi[res.gi.source == "true"].c1.item()
        assert fits[seed] == gi_scores(a, b, means["G0+G1"], seed=seed).c1
    assert fits[3] != fits[4]  # the draw matters, so an unseeded one would show


def _refusal(call) -> str:
    with pytest.raises(InputError) as err:
        call()
    return str(err.value)


def test_every_refusal_is_its_exact_line():
    conds = ["G0+ctrl", "G1+ctrl"]
    means = {c: CTRL + k for k, c in enumerate(conds)}
    data = FakeData(GENES, CTRL, means)
    split = FakeSplit(train=[], val=[], test=conds, subgroup=dict.fromkeys(conds, "seen_single"))
    de = _de(conds)
    ok = Fixed("m", means)
    run = lambda *p, **kw: evaluate(*p, **{"metrics": ["mse"], "n_boot": 0, "gi": False, **kw})  # noqa: E731
    assert _refusal(lambda: run([], data, split, de)) == "nothing to evaluate: give at least one model or baseline"
    assert _refusal(lambda: run([ok, Fixed("m", means)], data, split, de)) == (
        "two predictors share a name; give them distinct names (pass a dict name → predictor)")
    assert _refusal(lambda: run([ok], data, FakeSplit([], [], []), de)) == (
        "the split has no test conditions to evaluate; choose another split")
    missing = [f"X{i}+ctrl" for i in range(6)]
    assert _refusal(lambda: run([ok], data, split, de, conditions=missing)) == (
        "conditions not in the data: X0+ctrl, X1+ctrl, X2+ctrl, X3+ctrl, X4+ctrl; was the split made for this data?")
    assert _refusal(lambda: run([ok], data, split, _de(conds[:1]))) == (
        "no DE genes for condition 'G1+ctrl'; rank DE genes on the same data")
    nan = Fixed("m", {c: np.full(4, np.nan) for c in conds})
    assert _refusal(lambda: run([nan], data, split, de)) == (
        "model 'm' predicted NaN or infinite values; check the model")
    bad = FakeData(GENES, CTRL, {"G0+ctrl": CTRL, "G1+ctrl": np.array([1.0, np.inf, 0.0, 0.0])})
    assert _refusal(lambda: run([ok], bad, split, de)) == (
        "the observed mean of 'G1+ctrl' holds NaN or infinite values; check the data")
    partial = FakeData(GENES, CTRL, means, true_means={"G0+ctrl": CTRL})
    assert _refusal(lambda: run([ok], partial, split, de)) == (
        "data.true_means has no entry for 'G1+ctrl'; regenerate the simulated data")
    res = run({"a": ok, "b": ok}, data, split, de)
    assert _refusal(lambda: res.compare("a", "zz", "mse")) == "model 'zz' was not evaluated; evaluated: a, b"
    assert _refusal(lambda: res.compare("a", "b", "gi_mag_pearson")) == (
        "gi_mag_pearson is a set-level score; compare per-perturbation metrics instead")
    assert _refusal(lambda: res.score("zz", "mse")) == (
        "no score for model='zz' metric='mse' subgroup='overall' reference='observed'; see result.summary for what "
        "exists")
