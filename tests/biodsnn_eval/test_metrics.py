"""Every registered metric against a case computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from biodsnn.evaluate import (
    METRICS,
    direction_correct,
    discrimination_ranks,
    get_metric,
    l2_distance,
    list_metrics,
    mse,
    pearson_delta,
    pearson_expression,
    top_bottom_overlap,
    top_expressed,
    within_fraction,
)
from reactomenet.errors import InputError, NotFoundError


def test_mse_by_hand():
    pred, true = np.array([1.0, 2.0, 3.0]), np.array([1.0, 4.0, 0.0])
    assert mse(pred, true) == pytest.approx(13 / 3)  # (0 + 4 + 9) / 3
    assert mse(pred, true, None, np.array([1, 2])) == pytest.approx(6.5)  # (4 + 9) / 2


def test_pearson_and_pearson_delta_by_hand():
    ctrl = np.array([0.0, 1.0, 2.0])
    pred, true = np.array([1.0, 3.0, 5.0]), np.array([1.0, 4.0, 4.0])
    # deltas (1, 2, 3) and (1, 3, 2): centred (-1, 0, 1) · (-1, 1, 0) = 1, norms √2·√2 = 2
    assert pearson_delta(pred, true, ctrl) == pytest.approx(0.5)
    # raw: centred (-2, 0, 2) · (-2, 1, 1) = 6, norms √8·√6
    assert pearson_expression(pred, true) == pytest.approx(6 / math.sqrt(48))
    assert math.isnan(pearson_delta(ctrl, true, ctrl))  # constant (zero) predicted change
    assert pearson_delta(pred, true, ctrl, np.array([0, 1])) == pytest.approx(1.0)  # (1, 2) vs (1, 3)


def test_direction_by_hand():
    ctrl = np.zeros(4)
    pred, true = np.array([1.0, -1.0, 0.0, 2.0]), np.array([2.0, 1.0, 0.0, -3.0])
    assert direction_correct(pred, true, ctrl) == 0.5  # right, wrong, right (0 = 0), wrong
    assert direction_correct(pred, true, ctrl, np.array([0, 2])) == 1.0


def test_within_five_percent_by_hand():
    pred, true = np.array([1.04, 1.06, -2.0, 0.0]), np.array([1.0, 1.0, -2.05, 0.0])
    # 0.04 ≤ 0.05 yes; 0.06 > 0.05 no; 0.05 ≤ 0.1025 yes; 0 ≤ 0 yes
    assert within_fraction(pred, true) == 0.75
    assert within_fraction(pred, true, tolerance=0.1) == 1.0


def test_l2_and_top_expressed_by_hand():
    assert l2_distance(np.array([0.0, 0.0, 1.0]), np.array([3.0, 4.0, 1.0])) == 5.0
    assert top_expressed(np.array([5.0, 1.0, 3.0, 3.0, 0.0]), n=2).tolist() == [0, 2]
    assert top_expressed(np.array([1.0, 2.0]), n=1000).tolist() == [0, 1]


def test_overlap_by_hand():
    pred = np.array([9.0, 8, 1, 2, 7, 0])
    true = np.array([9.0, 1, 8, 2, 7, 0])
    # k = 3: pred top {0, 1, 4}, true top {0, 2, 4} → 2/3; bottom: pred {5, 2, 3}, true {5, 1, 3} → 2/3
    assert top_bottom_overlap(pred, true, k=3) == pytest.approx(2 / 3)
    assert top_bottom_overlap(pred, true, k=3, top=False) == pytest.approx(2 / 3)
    assert top_bottom_overlap(pred, true, k=20) == pytest.approx(2 / 3)  # k shrinks to ⌊6/2⌋
    assert math.isnan(top_bottom_overlap(np.array([1.0]), np.array([1.0])))


def test_pds_hand_case_and_target_exclusion():
    true = np.array([[5.0, 1.0, 0.0], [0.0, 5.0, 1.0], [1.0, 0.0, 5.0]])
    pred = true.copy()
    pred[0] = [0.0, 1.0, 0.0]
    targets = [np.array([0]), np.array([1]), np.array([2])]
    # excluding gene 0, p0's prediction (1, 0) equals its true change (1, 0): rank 0
    assert discrimination_ranks(pred, true, targets)[0] == 0.0
    # over all genes, distances are 5 (own), 5 (p1, a tie: half), 7 (p2): 0.5 / 2
    assert discrimination_ranks(pred, true)[0] == 0.25


def test_pds_edge_cases():
    rng = np.random.default_rng(0)
    t = rng.normal(size=(50, 30))
    assert discrimination_ranks(t, t).tolist() == [0.0] * 50  # perfect
    assert discrimination_ranks(-t, t).mean() > 0.9  # anti-correlated predictions rank their own effect last
    random_scores = discrimination_ranks(rng.normal(size=(50, 30)), t)
    assert 0.4 < random_scores.mean() < 0.6  # random ≈ 0.5
    same = np.zeros((4, 3))
    assert discrimination_ranks(same, same).tolist() == [0.5] * 4  # all tied: uninformative
    assert np.isnan(discrimination_ranks(t[:1], t[:1])).all()  # one perturbation: undefined
    with pytest.raises(InputError):
        discrimination_ranks(t[:2], t[:3])


def test_registry_knows_direction_and_gene_set():
    assert get_metric("mse_de20").higher_is_better is False
    assert get_metric("mse_de20").gene_set == "de20"
    assert get_metric("pearson_delta_de20_nd").gene_set == "de20_nd"
    assert get_metric("within5_de20").higher_is_better is True
    assert get_metric("pds_l1").higher_is_better is False
    assert get_metric("l2_ctrl1000").gene_set == "ctrl_top1000"
    with pytest.raises(NotFoundError, match="mse_de20"):
        get_metric("mse_de2")
    with pytest.raises(InputError):
        from biodsnn.evaluate import register_metric

        register_metric(METRICS["mse"])
    assert set(list_metrics("gi_set")) == {"gi_mag_pearson", "gi_synergy_overlap", "gi_suppressor_overlap"}
