from __future__ import annotations

import numpy as np
import pytest
import torch

from biodsnn.data import load_perturb_data, make_split, rank_de_genes, simulate
from reactomenet.errors import InputError


@pytest.fixture(scope="module")
def data():
    return load_perturb_data(simulate(preset="tiny", seed=5, progress=False))


def _collect(it):
    return [(b.cell_index.tolist(), b.control_index.tolist(), b.conditions) for b in it]


@pytest.mark.parametrize("grouped", [True, False])
def test_every_cell_once_with_a_control_partner(data, grouped: bool) -> None:
    split = make_split(data.conditions, kind="simulation", seed=1)
    it = data.batches(conditions=split.train, batch_size=16, seed=0, group_by_condition=grouped)
    seen = []
    control = set(data.control_cells.tolist())
    dense = data.X.toarray()
    de = rank_de_genes(data)
    for b in it:
        assert b.control_x.dtype == torch.float32 and b.control_x.shape == b.target_x.shape
        assert set(b.control_index.tolist()) <= control
        np.testing.assert_array_equal(b.target_x.numpy(), dense[b.cell_index.numpy()])
        np.testing.assert_array_equal(b.control_x.numpy(), dense[b.control_index.numpy()])
        labels = data.adata.obs["condition"].to_numpy()[b.cell_index.numpy()]
        assert [b.conditions[i] for i in b.condition_index.tolist()] == labels.tolist()
        assert b.de_index.shape == (len(b.conditions), 20)
        for k, cond in enumerate(b.conditions):
            assert b.de_index[k].tolist() == de.top[cond].tolist()
            genes = [data.genes[j] for j in b.pert_index[k].tolist() if j >= 0]
            assert genes == list(data.condition_genes(cond))
        seen += b.cell_index.tolist()
    expected = np.concatenate([data.cells_of(c) for c in split.train])
    assert sorted(seen) == sorted(expected.tolist())
    assert len(it) == -(-len(expected) // 16)


def test_deterministic_and_epochs(data) -> None:
    a = data.batches(batch_size=8, seed=3)
    b = data.batches(batch_size=8, seed=3)
    assert _collect(a) == _collect(b) == _collect(a)
    b.set_epoch(1)
    assert _collect(a) != _collect(b)
    assert _collect(data.batches(batch_size=8, seed=4)) != _collect(a)


def test_grouping_gives_few_conditions_per_batch(data) -> None:
    grouped = [len(b.conditions) for b in data.batches(batch_size=8, seed=0)]
    mixed = [len(b.conditions) for b in data.batches(batch_size=8, seed=0, group_by_condition=False)]
    assert max(grouped) <= 2 and np.mean(grouped) < np.mean(mixed)


def test_drop_last_and_errors(data) -> None:
    it = data.batches(batch_size=7, seed=0, drop_last=True)
    assert all(len(b) == 7 for b in it) and len(list(it)) == len(it)
    with pytest.raises(InputError, match="batch_size"):
        data.batches(batch_size=0)
    with pytest.raises(InputError, match="no perturbation conditions"):
        data.batches(conditions=["ctrl"])


@pytest.mark.parametrize("drop_last", [False, True])
def test_single_condition_batches(data, drop_last: bool) -> None:
    split = make_split(data.conditions, kind="simulation", seed=1)
    bs = 5
    it = data.batches(conditions=split.train, batch_size=bs, seed=2, single_condition=True, drop_last=drop_last)
    batches = list(it)
    assert len(batches) == len(it)
    labels = data.adata.obs["condition"].to_numpy()
    per_cond: dict[str, list[int]] = {}
    for b in batches:
        assert len(b.conditions) == 1 and b.condition_index.eq(0).all()
        assert set(labels[b.cell_index.numpy()]) == {b.conditions[0]}
        assert len(b) <= bs and (len(b) == bs or not drop_last)
        per_cond.setdefault(b.conditions[0], []).append(len(b))
    for cond in split.train:
        n = len(data.cells_of(cond))
        sizes = sorted(per_cond.get(cond, []))
        if drop_last:
            assert sizes == [bs] * (n // bs)
        else:  # ceil(n / bs) batches of near-equal size covering every cell once
            assert len(sizes) == -(-n // bs) and sum(sizes) == n and sizes[-1] - sizes[0] <= 1
    if not drop_last:
        seen = sorted(i for b in batches for i in b.cell_index.tolist())
        assert seen == sorted(np.concatenate([data.cells_of(c) for c in split.train]).tolist())
    # seeded: the same batches again, other ones for another epoch
    assert _collect(it) == _collect(it)
    other = data.batches(conditions=split.train, batch_size=bs, seed=2, single_condition=True, drop_last=drop_last)
    other.set_epoch(1)
    assert _collect(other) != _collect(it)
