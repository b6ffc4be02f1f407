"""What each split family promises, in numbers (survivors of the mutation check, docs/testing.md): the exact number
of held-out genes, combo_seen2 tests only combinations whose genes all have singles in training, and combo_seen0/1
test at least their fraction of combinations in the promised subgroup."""

from __future__ import annotations

import pytest

from biodsnn.data import make_split
from biodsnn.data.conditions import parse_condition

#: ten genes G0..G9 with singles, all their pairs among G0..G5, and pairs of X0..X3 (genes that have no single)
SINGLES = [f"G{i}+ctrl" for i in range(10)]
PAIRS = [f"G{i}+G{j}" for i in range(6) for j in range(i + 1, 6)]
ORPHANS = [f"X{i}+X{j}" for i in range(4) for j in range(i + 1, 4)] + ["G0+X0", "G1+X1"]
CONDS = SINGLES + PAIRS + ORPHANS


@pytest.mark.parametrize(("fraction", "held"), [(0.1, 1), (0.26, 3), (0.5, 5)])
def test_single_split_holds_out_round_fraction_of_the_genes_with_singles(fraction: float, held: int) -> None:
    s = make_split(CONDS, kind="single", seed=0, test_fraction=fraction, val_fraction=0.1)
    # each held-out gene has exactly one single here: the test set is round(10 × fraction) singles, at least one
    assert len(s.test) == held
    assert all(c in SINGLES for c in s.test)
    assert all(s.subgroup[c] == "unseen_single" for c in s.test)


@pytest.mark.parametrize("seed", range(5))
def test_combo_seen2_tests_only_combinations_whose_genes_all_have_training_singles(seed: int) -> None:
    s = make_split(CONDS, kind="combo_seen2", seed=seed, test_fraction=0.5, val_fraction=0.2)
    train_singles = {parse_condition(c)[0] for c in s.train if len(parse_condition(c)) == 1}
    assert s.test
    for c in s.test + s.val:
        assert set(parse_condition(c)) <= train_singles, c
        assert s.subgroup[c] == "combo_seen2"
    # half of the 15 eligible G pairs (round(7.5) = 8), the orphans never
    assert len(s.test) == 8


@pytest.mark.parametrize("kind", ["combo_seen0", "combo_seen1"])
@pytest.mark.parametrize("seed", range(4))
def test_combo_seen_k_tests_at_least_its_fraction_of_combinations_in_that_subgroup(kind: str, seed: int) -> None:
    combos = PAIRS + ORPHANS
    s = make_split(CONDS, kind=kind, seed=seed, test_fraction=0.3, val_fraction=0.1)
    target = round(len(combos) * 0.3)
    in_group = [c for c in s.test if s.subgroup[c] == kind]
    assert len(in_group) >= target, (len(in_group), target)
