"""Out-of-core data (``load_perturb_data(..., backed=True)``): the same numbers as in memory, X never read whole."""

from __future__ import annotations

import anndata
import numpy as np
import pytest
import scipy.sparse as sp

from biodsnn.data import (
    BackedMatrix,
    _backed,
    load_perturb_data,
    make_split,
    rank_de_genes,
    simulate,
    write_h5ad,
    write_simulation,
)
from reactomenet.errors import InputError


@pytest.fixture(scope="module")
def lines_file(tmp_path_factory):
    """Three cell lines (contexts), written by blocks."""
    return write_simulation(tmp_path_factory.mktemp("backed") / "lines.h5ad", "tiny", seed=2, n_contexts=3,
                            progress=False)


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory):
    return write_h5ad(simulate("tiny", seed=0, progress=False), tmp_path_factory.mktemp("backed") / "tiny.h5ad")


def test_write_simulation_writes_the_file_simulate_writes(tmp_path) -> None:
    a = anndata.read_h5ad(write_h5ad(simulate("tiny", seed=5, n_contexts=2, progress=False), tmp_path / "a.h5ad"))
    b = anndata.read_h5ad(write_simulation(tmp_path / "b.h5ad", "tiny", seed=5, n_contexts=2, progress=False))
    assert a.shape == b.shape and (a.X != b.X).nnz == 0 and a.X.dtype == b.X.dtype == np.float32
    assert a.obs.equals(b.obs) and a.var.equals(b.var)
    assert np.array_equal(a.uns["biodsnn_truth"]["means"], b.uns["biodsnn_truth"]["means"])
    assert sorted(a.uns["biodsnn_simulation"]) == sorted(b.uns["biodsnn_simulation"])


def test_backed_rows_in_any_order_equal_the_rows_in_memory(tiny_file) -> None:
    mem, backed = load_perturb_data(tiny_file), load_perturb_data(tiny_file, backed=True)
    assert isinstance(backed.X, BackedMatrix) and backed.backed and not mem.backed
    assert backed.adata.X is None  # X stays in the file
    rows = np.array([7, 3, 3, 250, 0, 7, 120])
    got = backed.X[rows]
    assert sp.issparse(got) and got.dtype == np.float32 and got.has_canonical_format
    assert np.array_equal(got.toarray(), mem.X[rows].toarray())
    assert np.array_equal(backed.X[5:9].toarray(), mem.X[5:9].toarray())
    assert backed.X[np.zeros(0, dtype=np.int64)].shape == (0, mem.X.shape[1])


def test_backed_data_gives_the_same_fingerprint_means_and_de_genes(lines_file) -> None:
    mem, backed = load_perturb_data(lines_file), load_perturb_data(lines_file, backed=True)
    assert mem.contexts == backed.contexts and len(mem.contexts) == 3
    assert mem.fingerprint == backed.fingerprint
    units = mem.conditions
    assert np.array_equal(mem.condition_means(units), backed.condition_means(units))
    assert np.array_equal(mem.control_means(units), backed.control_means(units))
    assert np.array_equal(mem.control_mean, backed.control_mean)
    de_mem, de_backed = rank_de_genes(mem), rank_de_genes(backed)
    assert all(np.array_equal(de_mem.top[u], de_backed.top[u]) for u in units)
    for ctx in mem.contexts:  # a context's view reads the same file through its rows
        vm, vb = mem.context_view(ctx), backed.context_view(ctx)
        assert vb.backed and vm.fingerprint == vb.fingerprint
        assert np.array_equal(vm.condition_means(vm.conditions), vb.condition_means(vb.conditions))


def test_blocks_of_rows_sum_to_the_plain_means(tiny_file, monkeypatch) -> None:
    # a condition larger than a block is read in several blocks: the same mean within float rounding
    mem = load_perturb_data(tiny_file)
    monkeypatch.setattr(_backed, "BLOCK_ROWS", 7)
    backed = load_perturb_data(tiny_file, backed=True)
    conds = mem.conditions
    np.testing.assert_allclose(backed.condition_means(conds), mem.condition_means(conds), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(backed.control_mean, mem.control_mean, rtol=1e-6, atol=1e-6)
    assert backed.fingerprint == mem.fingerprint  # hashed by rows: block size does not matter


def test_raw_counts_are_normalised_as_rows_are_read(tmp_path, make_adata) -> None:
    path = tmp_path / "counts.h5ad"
    make_adata(counts=True).write_h5ad(path)
    with pytest.raises(InputError, match="raw counts"):
        load_perturb_data(path, backed=True)
    mem, backed = load_perturb_data(path, normalize=True), load_perturb_data(path, normalize=True, backed=True)
    assert mem.fingerprint == backed.fingerprint
    assert np.array_equal(mem.X[np.arange(10)].toarray(), backed.X[np.arange(10)].toarray())


def test_zarr_store_in_memory_and_backed(tmp_path, tiny_file) -> None:
    store = tmp_path / "tiny.zarr"
    anndata.read_h5ad(tiny_file).write_zarr(store)
    want = load_perturb_data(tiny_file).fingerprint
    assert load_perturb_data(store).fingerprint == want
    assert load_perturb_data(store, backed=True).fingerprint == want


def test_backed_refuses_what_it_cannot_read_by_rows(tmp_path, make_adata) -> None:
    dense = tmp_path / "dense.h5ad"
    make_adata(sparse=False).write_h5ad(dense)
    with pytest.raises(InputError, match="needs CSR rows"):
        load_perturb_data(dense, backed=True)
    with pytest.raises(InputError, match="give the path"):
        load_perturb_data(make_adata(), backed=True)
    bad = make_adata()
    bad.X.data[3] = np.nan
    nan_file = tmp_path / "nan.h5ad"
    bad.write_h5ad(nan_file)
    with pytest.raises(InputError, match="NaN or infinite"):
        load_perturb_data(nan_file, backed=True)
    neg = make_adata()
    neg.X.data[-1] = -1.0
    neg_file = tmp_path / "neg.h5ad"
    neg.write_h5ad(neg_file)
    with pytest.raises(InputError, match="negative"):
        load_perturb_data(neg_file, backed=True)


def test_no_pass_reads_the_whole_file(tmp_path, monkeypatch) -> None:
    # every read of a backed X asks for a bounded number of rows: loading, means, DE, fingerprint, the split
    path = write_simulation(tmp_path / "t.h5ad", "tiny", seed=1, cells_per_condition=40, progress=False)
    monkeypatch.setattr(_backed, "BLOCK_ROWS", 64)
    asked: list[int] = []
    getitem = BackedMatrix.__getitem__

    def spy(self, rows):
        out = getitem(self, rows)
        asked.append(out.shape[0])
        return out

    monkeypatch.setattr(BackedMatrix, "__getitem__", spy)
    data = load_perturb_data(path, backed=True)
    _ = data.fingerprint, data.control_mean, data.condition_means(data.conditions)
    rank_de_genes(data)
    make_split(data.conditions, seed=1)
    assert asked and data.adata.n_obs > 800
    assert max(asked) <= 4096 and max(asked) < data.adata.n_obs / 4, max(asked)
