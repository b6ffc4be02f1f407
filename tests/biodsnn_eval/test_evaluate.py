"""evaluate(): one code path, subgroups, noise-free truth, GI, paired comparisons."""

from __future__ import annotations

import numpy as np
import pytest

from biodsnn.evaluate import COMBOS, OVERALL, evaluate, list_metrics
from reactomenet.errors import InputError

from .conftest import Oracle


def test_oracle_scores_perfectly_on_observed_and_subgroups_are_reported(fake):
    data, split, de = fake
    res = evaluate([Oracle(data)], data, split, de, n_boot=50)
    obs = res.summary[res.summary.reference == "observed"]
    assert set(obs.subgroup) == {"combo_seen0", "combo_seen1", "combo_seen2", "unseen_single", OVERALL}
    get = lambda m, g=OVERALL: res.score("oracle", m, g).mean  # noqa: E731
    assert get("mse") == 0 and get("mse_de20") == 0 and get("l2_ctrl1000") == 0
    assert get("pearson_delta_de20") == pytest.approx(1.0) and get("within5_de20") == 1.0
    assert get("direction") == 1.0 and get("pds_l1") == 0.0
    assert get("gi_mag_abs_error") == 0.0 and get("gi_mag_pearson") == pytest.approx(1.0)
    assert get("gi_synergy_overlap") == 1.0
    # one row per model × condition × reference × per-perturbation metric
    per = [m for m in list_metrics() if m not in list_metrics("gi_set")]
    rows = res.metrics[res.metrics.condition != "*"]
    assert len(rows) == len(split.test) * 2 * len(per)
    assert res.settings["noise_free"] is True


def test_noise_free_truth_recovers_simulated_interaction_coefficients(fake):
    data, split, de = fake
    res = evaluate([Oracle(data)], data, split, de, n_boot=0)
    true = res.gi[(res.gi.source == "true") & (res.gi.reference == "noise_free")].set_index("condition")
    # make_fake: truth(Gi+Gj) = ctrl + (1 + 0.3 i)·A + (1 − 0.1 j)·B exactly
    for cond, row in true.iterrows():
        i, j = (int(g[1:]) for g in cond.split("+"))
        assert (row.c1, row.c2) == pytest.approx((1 + 0.3 * i, 1 - 0.1 * j), abs=1e-5)  # control is float32
    # the oracle (observed means) is not perfect against the noise-free truth
    assert res.score("oracle", "mse", reference="noise_free").mean > 0


def test_per_perturbation_values_match_direct_computation(fake):
    data, split, de = fake
    model = Oracle(data, name="shifted", shift=0.1)
    res = evaluate([model], data, split, de, n_boot=0, noise_free=False)
    c = split.test[0]
    rows = res.metrics.set_index(["condition", "metric"]).value
    top = de.top[c]
    assert rows[(c, "mse_de20")] == pytest.approx(0.01)
    truth = data.condition_means([c])[0]
    expected_within = np.mean(0.05 * np.abs(truth[top]) + 1e-12 >= 0.1)
    assert rows[(c, "within5_de20")] == pytest.approx(expected_within)
    means = res.metrics[(res.metrics.metric == "mse") & (res.metrics.subgroup == "combo_seen1")].value.mean()
    assert res.score("shifted", "mse", "combo_seen1").mean == pytest.approx(means)


def test_bootstrap_is_deterministic_and_comparison_is_paired(fake):
    data, split, de = fake
    models = [Oracle(data), Oracle(data, name="off", shift=0.2)]
    a = evaluate(models, data, split, de, n_boot=200, seed=3)
    b = evaluate(models, data, split, de, n_boot=200, seed=3)
    assert a.summary.equals(b.summary)
    cmp = a.compare("oracle", "off", "mse_de20")
    assert cmp.better == "oracle" and cmp.ci_high < 0
    tab = a.table("mse_de20")
    assert list(tab.index) == ["oracle", "off"] and tab.columns[-1] == OVERALL


def test_bad_inputs_raise_one_line_errors(fake):
    data, split, de = fake

    class Wrong:
        name = "wrong"

        def predict_means(self, conditions):
            return np.zeros((len(conditions), 3))

    with pytest.raises(InputError, match="shape"):
        evaluate([Wrong()], data, split, de)
    with pytest.raises(InputError, match="not in the data"):
        evaluate([Oracle(data)], data, split, de, conditions=["NOPE+ctrl"])
    with pytest.raises(InputError, match="at least one"):
        evaluate([], data, split, de)


def test_single_perturbation_subgroup_gets_no_interval_nor_verdict(fake):
    data, split, de = fake
    res = evaluate([Oracle(data), Oracle(data, name="off", shift=0.2)], data, split, de, n_boot=100)
    assert sum(1 for g in res.subgroups.values() if g == "combo_seen0") == 1
    s = res.score("off", "mse", "combo_seen0")
    assert np.isnan(s.ci_low) and np.isnan(s.ci_high) and s.n == 1
    cmp = res.compare("oracle", "off", "mse", "combo_seen0")
    assert cmp.better is None and np.isnan(cmp.ci_low)


def test_compare_over_every_combination_pools_the_combo_subgroups(fake):
    data, split, de = fake
    res = evaluate([Oracle(data), Oracle(data, name="off", shift=0.2)], data, split, de, n_boot=100)
    combos = [c for c in res.conditions if res.subgroups[c].startswith("combo_seen")]
    assert combos and len(combos) < len(res.conditions)  # singles are left out
    m = res.metrics[(res.metrics.metric == "mse") & (res.metrics.reference == "observed")]
    wide = m.pivot(index="condition", columns="model", values="value").loc[combos]
    cmp = res.compare("off", "oracle", "mse", COMBOS)
    assert cmp.difference == pytest.approx(float((wide["off"] - wide["oracle"]).mean()))
    groups = list(dict.fromkeys(res.subgroups[c] for c in combos))
    weighted = sum(res.compare("off", "oracle", "mse", g).difference * sum(res.subgroups[c] == g for c in combos)
                   for g in groups) / len(combos)
    assert len(groups) >= 2 and cmp.difference == pytest.approx(weighted)


def test_without_doubles_set_level_metrics_are_one_undefined_row_not_one_per_perturbation(fake):
    data, split, de = fake
    res = evaluate([Oracle(data)], data, split, de, n_boot=0, noise_free=False, gi=False)
    sets = list_metrics("gi_set")
    per = [m for m in list_metrics() if m not in sets]
    rows = res.metrics
    assert len(rows[rows.condition != "*"]) == len(split.test) * len(per)
    star = rows[rows.condition == "*"]
    assert sorted(star.metric) == sorted(sets) and star.value.isna().all()
    assert res.gi.empty and res.metrics[res.metrics.metric == "gi_mag_abs_error"].value.isna().all()
    assert list(res.gi.columns[:5]) == ["model", "condition", "subgroup", "reference", "source"]  # the table's shape
    s = res.summary[res.summary.metric.isin(sets)]
    assert s["mean"].isna().all() and (s.n == 0).all()
