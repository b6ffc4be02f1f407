"""Split leakage tests in the style of PyKEEN's test_leakage: no val/test condition reaches training."""

from __future__ import annotations

import json

import pytest

from biodsnn.data import KINDS, Split, format_condition, make_split, parse_condition
from reactomenet.errors import InputError

# 30 singles and 40 doubles (a few triples) over 30 genes: every split family has something to hold out
GENES = [f"G{i}" for i in range(30)]
CONDS = (
    [f"{g}+ctrl" for g in GENES]
    + [f"G{i}+G{(i * 7 + k) % 30}" for i in range(30) for k in (1, 4) if (i * 7 + k) % 30 != i][:40]
    + ["G1+G2+G3", "G4+G5+G6"]
)
SEEDS = [0, 1, 2, 7, 42]
# transfer holds a unit out of one context while its gene trains in another: tests/biodsnn_data/test_contexts.py
GENERATED = [k for k in KINDS if k not in ("custom", "transfer")]


def _genes(conds):
    return {g for c in conds for g in parse_condition(c)}


@pytest.mark.parametrize("kind", GENERATED)
@pytest.mark.parametrize("seed", SEEDS)
def test_no_leakage(kind: str, seed: int) -> None:
    s = make_split(CONDS, kind=kind, seed=seed)
    train, val, test = set(s.train), set(s.val), set(s.test)
    assert train and val
    assert not train & val and not train & test and not val & test
    assert not set(s.excluded) & (train | val | test)
    assert train | val | test | set(s.excluded) == {format_condition(parse_condition(c)) for c in CONDS}
    if kind != "no_test":
        assert test
    # gene-level leakage: a condition called "unseen" has no gene in any training condition
    train_genes = _genes(train)
    for cond, group in s.subgroup.items():
        genes = parse_condition(cond)
        seen = sum(g in train_genes for g in genes)
        assert group == (("seen_single" if seen else "unseen_single") if len(genes) == 1 else f"combo_seen{seen}")
    if kind in ("simulation", "single", "combo_seen0", "combo_seen1"):
        for cond in test | val:
            if len(parse_condition(cond)) == 1:
                assert s.subgroup[cond] == "unseen_single", (kind, cond)
    if kind == "combo_seen0":
        assert all(s.subgroup[c] in ("combo_seen0", "unseen_single") for c in test)
        assert any(s.subgroup[c] == "combo_seen0" for c in test)
    if kind == "combo_seen1":
        assert any(s.subgroup[c] == "combo_seen1" for c in test)
    if kind == "combo_seen2":
        assert all(s.subgroup[c] == f"combo_seen{len(parse_condition(c))}" for c in test)
    if kind == "single":
        assert all(len(parse_condition(c)) == 1 for c in test)


@pytest.mark.parametrize("kind", GENERATED)
def test_seeded(kind: str) -> None:
    assert make_split(CONDS, kind=kind, seed=3) == make_split(list(reversed(CONDS)), kind=kind, seed=3)
    fingerprints = {make_split(CONDS, kind=kind, seed=s).fingerprint for s in SEEDS}
    assert len(fingerprints) > 1


def test_simulation_matches_gears_proportions() -> None:
    s = make_split(CONDS, kind="simulation", seed=1)
    groups = {s.subgroup[c] for c in s.test}
    assert {"unseen_single", "combo_seen2"} <= groups
    # about a quarter of the genes are held out: their singles are in test
    held = [c for c in s.test if s.subgroup[c] == "unseen_single"]
    assert len(held) == len(GENES) - int(len(GENES) * 0.75)


def test_save_load_round_trip(tmp_path) -> None:
    s = make_split(CONDS, kind="simulation", seed=5)
    path = s.save(tmp_path / "run" / "split.json")
    assert json.loads(path.read_text())["fingerprint"] == s.fingerprint
    assert Split.load(path) == s
    (tmp_path / "bad.json").write_text('{"a": 1}')
    with pytest.raises(InputError, match="not a biodsnn split"):
        Split.load(tmp_path / "bad.json")
    with pytest.raises(InputError, match="does not exist"):
        Split.load(tmp_path / "none.json")


def test_custom_split() -> None:
    mapping = {"G0+ctrl": "train", "G1": "train", "G0+G1": "test", "G2+ctrl": "val"}
    s = make_split(CONDS, kind="custom", mapping=mapping)
    assert s.train == ["G0+ctrl", "G1+ctrl"] and s.test == ["G0+G1"] and s.val == ["G2+ctrl"]
    assert s.subgroup == {"G0+G1": "combo_seen2", "G2+ctrl": "unseen_single"}
    assert len(s.excluded) == len(CONDS) - 4
    with pytest.raises(InputError, match="unknown set name"):
        make_split(CONDS, kind="custom", mapping={"G0+ctrl": "training"})
    with pytest.raises(InputError, match="not in the data"):
        make_split(CONDS, kind="custom", mapping={"X9+ctrl": "train"})
    with pytest.raises(InputError, match="needs a mapping"):
        make_split(CONDS, kind="custom")


@pytest.mark.parametrize("kind", GENERATED)
def test_degenerate_inputs_give_clear_errors(kind: str) -> None:
    with pytest.raises(InputError, match=r"too few|no test|no training|needs combination|only control"):
        make_split(["G0+ctrl"], kind=kind, seed=0)
    with pytest.raises(InputError, match="only control"):
        make_split(["ctrl"], kind=kind, seed=0)


def test_bad_kind_and_fraction() -> None:
    with pytest.raises(InputError, match="unknown split kind"):
        make_split(CONDS, kind="random")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="between 0 and 1"):
        make_split(CONDS, kind="simulation", train_gene_fraction=1.5)
