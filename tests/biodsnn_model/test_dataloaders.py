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


def test_bad_requests_get_one_line(data) -> None:
    with pytest.raises(InputError, match="batch_size"):
        BatchIterator(data, batch_size=0)
    with pytest.raises(InputError, match="no perturbation conditions"):
        BatchIterator(data, ["ctrl"])
