"""biodsnn.dataloaders: every training cell once per epoch, one condition per batch (own-context controls:
tests/biodsnn_data/test_contexts.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biodsnn.data import load_perturb_data, make_split, simulate
from biodsnn.dataloaders import BatchIterator
from reactomenet.errors import InputError


@pytest.fixture(scope="module")
def data():
    return load_perturb_data(simulate(preset="tiny", seed=5, progress=False))


def _collect(it: BatchIterator) -> list[tuple[list[int], list[int], list[str]]]:
    return [(b.cells.tolist(), b.controls.tolist(), b.conditions) for b in it.rows()]


def test_every_cell_once_with_a_control_partner_and_tensors_of_those_rows(data) -> None:
    split = make_split(data.conditions, kind="simulation", seed=1)
    it = BatchIterator(data, split.train, batch_size=16, seed=0)
    control = set(data.control_cells.tolist())
    dense = data.X.toarray()
    labels = data.adata.obs["condition"].to_numpy()
    batches, rows = list(it), list(it.rows())
    assert len(batches) == len(rows) == len(it)
    seen = []
    for b, r in zip(batches, rows, strict=True):
        assert b.control_x.dtype == torch.float32 and b.control_x.shape == b.target_x.shape == (len(r.cells),
                                                                                               len(data.genes))
        assert set(r.controls.tolist()) <= control
        np.testing.assert_array_equal(b.target_x.numpy(), dense[r.cells])
        np.testing.assert_array_equal(b.control_x.numpy(), dense[r.controls])
        assert b.conditions == r.conditions and len(b.conditions) == 1  # one condition per batch
        assert [b.conditions[i] for i in b.condition_index.tolist()] == labels[r.cells].tolist()
        seen += r.cells.tolist()
    assert sorted(seen) == sorted(np.concatenate([data.cells_of(c) for c in split.train]).tolist())


@pytest.mark.parametrize("bs", [1, 5, 16])
def test_a_condition_gives_ceil_n_over_batch_size_near_equal_batches(data, bs: int) -> None:
    split = make_split(data.conditions, kind="simulation", seed=1)
    it = BatchIterator(data, split.train, batch_size=bs, seed=2)
    per_cond: dict[str, list[int]] = {}
    for r in it.rows():
        per_cond.setdefault(r.conditions[0], []).append(len(r.cells))
        assert len(r.cells) <= bs
    for cond in split.train:
        n, sizes = len(data.cells_of(cond)), sorted(per_cond[cond])
        assert len(sizes) == -(-n // bs) and sum(sizes) == n and sizes[-1] - sizes[0] <= 1


def test_seeded_the_same_batches_every_pass_and_others_for_another_seed_or_epoch(data) -> None:
    a, b = BatchIterator(data, batch_size=8, seed=3), BatchIterator(data, batch_size=8, seed=3)
    assert _collect(a) == _collect(b) == _collect(a)
    assert _collect(BatchIterator(data, batch_size=8, seed=4)) != _collect(a)
    assert _collect(BatchIterator(data, batch_size=8, seed=3, epoch=1)) != _collect(a)


def test_the_one_condition_plan_is_that_of_earlier_runs(data) -> None:
    """Pinned: the plan (cells, controls, conditions, order) of seed 3, epoch 1, as drawn before mixed batches were
    added (they draw from their own stream), whole and as rank 1 of 2's share."""
    import hashlib

    def digest(it: BatchIterator) -> str:
        h = hashlib.sha256()
        for r in it.rows():
            for a in (r.cells, r.controls, r.condition_index):
                h.update(np.ascontiguousarray(a).tobytes())
            h.update(str(r.conditions).encode())
        return h.hexdigest()

    assert digest(BatchIterator(data, batch_size=16, seed=3, epoch=1)).startswith("d71bd75fa97b3476")
    assert digest(BatchIterator(data, batch_size=16, seed=3, epoch=1, rank=1, world_size=2)).startswith(
        "ae658f53fd227092")


def test_bad_requests_get_one_line(data) -> None:
    with pytest.raises(InputError, match="batch_size"):
        BatchIterator(data, batch_size=0)
    with pytest.raises(InputError, match="no perturbation conditions"):
        BatchIterator(data, ["ctrl"])


# -- mixed batches (GEARS' DataLoader: cells of all training conditions shuffled together) ---------------------------

def test_mixed_batches_hold_several_conditions_and_every_training_cell_once(data) -> None:
    split = make_split(data.conditions, kind="simulation", seed=1)
    it = BatchIterator(data, split.train, batch_size=16, seed=0, mixed=True)
    labels = data.adata.obs["condition"].to_numpy()
    rows = list(it.rows())
    assert len(rows) == len(it) == len(list(it))
    n = sum(len(data.cells_of(c)) for c in split.train)
    sizes = [len(r.cells) for r in rows]
    assert len(rows) == -(-n // 16) and max(sizes) <= 16 and max(sizes) - min(sizes) <= 1  # near-equal batches
    assert sum(len(r.conditions) >= 2 for r in rows) >= len(rows) - 1 and max(len(r.conditions) for r in rows) >= 4
    for r in rows:
        assert [r.conditions[i] for i in r.condition_index] == labels[r.cells].tolist()
        assert len(set(r.conditions)) == len(r.conditions)
    seen = np.concatenate([r.cells for r in rows])
    assert sorted(seen.tolist()) == sorted(np.concatenate([data.cells_of(c) for c in split.train]).tolist())


def test_mixed_batches_are_seeded_by_seed_and_epoch(data) -> None:
    def plan(**kw) -> list:
        return _collect(BatchIterator(data, batch_size=8, mixed=True, **kw))

    assert plan(seed=3) == plan(seed=3) and plan(seed=3, epoch=2) == plan(seed=3, epoch=2)
    assert plan(seed=3) != plan(seed=4) and plan(seed=3) != plan(seed=3, epoch=1)
    assert plan(seed=3) != _collect(BatchIterator(data, batch_size=8, seed=3))  # not the one-condition plan


def test_mixed_batches_pair_each_cell_with_a_control_of_its_own_context() -> None:
    from tests.biodsnn_data.test_contexts import two_lines

    data = load_perturb_data(two_lines(), convention="perturbench")
    ctx = data.adata.obs["context"].astype(str).to_numpy()
    rows = list(BatchIterator(data, batch_size=16, seed=0, mixed=True).rows())
    assert any(len(set(ctx[r.cells])) == 2 for r in rows)  # batches mix the contexts too
    for r in rows:
        assert (ctx[r.cells] == ctx[r.controls]).all() and set(r.controls) <= set(data.control_cells)


@pytest.mark.parametrize("world", [2, 3])
def test_mixed_batches_ranks_share_out_the_one_plan(data, world: int) -> None:
    whole = _collect(BatchIterator(data, batch_size=16, seed=1, epoch=2, mixed=True))
    shares = [_collect(BatchIterator(data, batch_size=16, seed=1, epoch=2, mixed=True, rank=r, world_size=world))
              for r in range(world)]
    assert len({len(s) for s in shares}) == 1  # every rank takes the same number of steps
    dealt = [s[i] for i in range(len(shares[0])) for s in shares]  # round robin back into one list
    assert dealt[:len(whole)] == whole  # together the ranks cover the plan exactly once ...
    assert dealt[len(whole):] == whole[:len(dealt) - len(whole)]  # ... padded with its first batches (as shard)


@pytest.mark.parametrize("mixed", [False, True])
def test_with_control_each_control_cell_comes_once_as_its_own_input(data, mixed: bool) -> None:
    """GEARS' training set holds the control cells (input = target = the cell): with_control adds them."""
    split = make_split(data.conditions, kind="simulation", seed=1)
    plain = BatchIterator(data, split.train, batch_size=16, seed=0, mixed=mixed)
    it = BatchIterator(data, split.train, batch_size=16, seed=0, mixed=mixed, with_control=True)
    rows = list(it.rows())
    assert len(rows) == len(it) and "ctrl" not in plain.conditions and it.conditions[-1] == "ctrl"
    ctrl_cells = [c for r in rows for i, c in zip(r.condition_index, r.cells, strict=True)
                  if r.conditions[i] == "ctrl"]
    assert sorted(ctrl_cells) == sorted(data.control_cells.tolist())
    for r in rows:
        own = np.array([r.conditions[i] == "ctrl" for i in r.condition_index])
        assert (r.controls[own] == r.cells[own]).all()  # its own input
        assert not set(r.cells[~own]) & set(data.control_cells)  # the others: perturbed cells, drawn partners
    perturbed = sorted(c for r in rows for c in r.cells.tolist() if c not in set(data.control_cells.tolist()))
    assert perturbed == sorted(np.concatenate([r.cells for r in plain.rows()]).tolist())


def test_with_control_names_each_contexts_control_unit() -> None:
    from tests.biodsnn_data.test_contexts import two_lines

    data = load_perturb_data(two_lines(), convention="perturbench")
    it = BatchIterator(data, batch_size=16, seed=0, mixed=True, with_control=True)
    assert it.conditions[-2:] == [f"{c}|ctrl" for c in data.contexts]
    for r in it.rows():
        for i, unit in enumerate(r.conditions):
            at = r.condition_index == i
            assert len(r.cells[at]) and (unit.endswith("|ctrl") == bool((r.controls[at] == r.cells[at]).all()))
