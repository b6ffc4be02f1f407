from __future__ import annotations

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from biodsnn.data import PerturbData, check_perturbable, load_perturb_data, normalize_log1p
from reactomenet.errors import InputError, NotFoundError

CONVENTION_FILES = {
    "gears": ("condition", "ctrl", ["ctrl", "G0+ctrl", "G1+ctrl", "G0+G1"]),
    "perturbench": ("condition", "control", ["control", "G0", "G1", "G1+G0"]),
    "pertpy": ("perturbation", "control", ["control", "G0", "G1", "G0+G1"]),
    "cell-eval": ("target_gene", "non-targeting", ["non-targeting", "G0", "G1", "G0+G1"]),
}


@pytest.mark.parametrize("convention", list(CONVENTION_FILES))
def test_four_conventions_from_file(convention: str, tmp_path, make_adata) -> None:
    key, control, conds = CONVENTION_FILES[convention]
    path = tmp_path / "x.h5ad"
    make_adata(conditions=conds, key=key, control=control).write_h5ad(path)
    data = load_perturb_data(path, convention=convention)
    assert data.conditions == ["G0+G1", "G0+ctrl", "G1+ctrl"]
    assert len(data.control_cells) == 6
    assert set(data.adata.obs["condition"]) == {"ctrl", "G0+ctrl", "G1+ctrl", "G0+G1"}
    # explicit options give the same result as the preset
    again = load_perturb_data(path, condition_key=key, control_label=control)
    assert again.fingerprint == data.fingerprint


@pytest.mark.parametrize("convention", list(CONVENTION_FILES))
def test_convention_detected_without_flag(convention: str, make_adata) -> None:
    key, control, conds = CONVENTION_FILES[convention]
    data = load_perturb_data(make_adata(conditions=conds, key=key, control=control))
    assert data.conditions == ["G0+G1", "G0+ctrl", "G1+ctrl"]
    assert data.options["condition_key"] == key and data.options["control_label"] == control


def test_missing_column_names_available(make_adata) -> None:
    ad = make_adata(key="guide", control="control", conditions=["control", "G0"])
    with pytest.raises(InputError, match=r"no column 'condition' \(available: guide\).*--condition-key"):
        load_perturb_data(ad)
    with pytest.raises(InputError, match=r"no column 'perturbation'.*convention='cell-eval'"):
        load_perturb_data(make_adata(key="target_gene", conditions=["ctrl", "G0"]), condition_key="perturbation")
    assert load_perturb_data(ad, condition_key="guide").conditions == ["G0+ctrl"]


def test_no_control_cells(make_adata) -> None:
    with pytest.raises(InputError, match="no control cells"):
        load_perturb_data(make_adata(conditions=["G0+ctrl", "G1+ctrl"]))


def test_raw_counts_refused_then_normalised(make_adata) -> None:
    ad = make_adata(counts=True)
    with pytest.raises(InputError, match="normalize=True"):
        load_perturb_data(ad)
    data = load_perturb_data(ad, normalize=True)
    x = ad.X.toarray().astype(np.float64)
    expected = np.log1p(x / x.sum(1, keepdims=True) * 1e4)
    np.testing.assert_allclose(data.X.toarray(), expected, rtol=1e-5)
    with pytest.raises(InputError, match="already looks log-normalised"):
        load_perturb_data(make_adata(), normalize=True)


def test_normalize_dense_equals_sparse() -> None:
    x = np.random.default_rng(0).poisson(3, (5, 7)).astype(np.float32)
    np.testing.assert_allclose(normalize_log1p(sp.csr_matrix(x)).toarray(), normalize_log1p(x), rtol=1e-6)


def test_duplicated_genes_and_gene_name_column(make_adata) -> None:
    ad = make_adata(n_genes=4)
    ad.var["gene_name"] = ["A", "B", "A", "C"]
    with pytest.raises(InputError, match=r"duplicated gene name.*A"):
        load_perturb_data(ad)
    ad.var["gene_name"] = ["G0", "G1", "G2", "G3"]
    ad.var_names = ["ENSG0", "ENSG1", "ENSG2", "ENSG3"]
    data = load_perturb_data(ad)
    assert data.genes == ["G0", "G1", "G2", "G3"]
    assert list(data.adata.var["gene_id"]) == ["ENSG0", "ENSG1", "ENSG2", "ENSG3"]
    with pytest.raises(InputError, match="var has no column 'symbol'"):
        load_perturb_data(ad, gene_name_key="symbol")


def test_negative_and_nan_values(make_adata) -> None:
    ad = make_adata(sparse=False)
    ad.X[0, 0] = -1.0
    with pytest.raises(InputError, match="negative"):
        load_perturb_data(ad)
    ad.X[0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        load_perturb_data(ad)


def test_missing_file_and_bad_convention(tmp_path, make_adata) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        load_perturb_data(tmp_path / "nope.h5ad")
    with pytest.raises(InputError, match="unknown convention"):
        load_perturb_data(make_adata(), convention="scperturb")  # type: ignore[arg-type]


def test_means_match_dense_computation(adata: anndata.AnnData) -> None:
    data = load_perturb_data(adata)
    dense = adata.X.toarray()
    labels = adata.obs["condition"].to_numpy()
    np.testing.assert_allclose(data.control_mean, dense[labels == "ctrl"].mean(0), rtol=1e-5)
    means = data.condition_means(["G0+G1", "G2+ctrl"])
    np.testing.assert_allclose(means[0], dense[labels == "G0+G1"].mean(0), rtol=1e-5)
    np.testing.assert_allclose(means[1], dense[labels == "G2+ctrl"].mean(0), rtol=1e-5)
    assert data.cells_of("G1+G0").tolist() == np.flatnonzero(labels == "G0+G1").tolist()
    with pytest.raises(NotFoundError, match="did you mean"):
        data.cells_of("G0+G2")
    assert data.true_means is None


def test_sparse_stays_sparse_and_dense_same_fingerprint_per_layout(adata: anndata.AnnData) -> None:
    data = load_perturb_data(adata)
    assert sp.issparse(data.X) and data.X.dtype == np.float32
    same = load_perturb_data(adata.copy())
    assert same.fingerprint == data.fingerprint
    changed = adata.copy()
    changed.X = changed.X.copy()
    changed.X.data[0] += 1.0
    assert load_perturb_data(changed).fingerprint != data.fingerprint
    relabelled = adata.copy()
    relabelled.obs["condition"] = relabelled.obs["condition"].replace({"G2+ctrl": "G3+ctrl"})
    assert load_perturb_data(relabelled).fingerprint != data.fingerprint


def test_input_adata_not_modified(make_adata) -> None:
    ad = make_adata(key="perturbation", control="control", conditions=["control", "G0"])
    load_perturb_data(ad, convention="pertpy")
    assert "condition" not in ad.obs.columns


def test_unknown_perturbed_genes(adata: anndata.AnnData) -> None:
    report = check_perturbable(["G0+ctrl", "G0+G1", "G2+ctrl"], ["G0", "G2"])
    assert report.unknown_genes == ["G1"]
    assert report.predictable == ["G0+ctrl", "G2+ctrl"] and report.unpredictable == ["G0+G1"]
    assert "G1" in report.message() and "2 still can" in report.message()
    with pytest.warns(UserWarning, match="unknown to the knowledge graph"):
        load_perturb_data(adata, perturbable_genes=["G0", "G2"])
    with pytest.raises(InputError, match="G1"):
        load_perturb_data(adata, perturbable_genes=["G0", "G2"], on_unknown="error")
    assert PerturbData.condition_genes("G1+G0") == ("G0", "G1")


def test_only_controls_refused(make_adata) -> None:
    ad = make_adata(conditions=["ctrl"])
    with pytest.raises(InputError, match="only control"):
        load_perturb_data(ad)


def test_in_memory_view_is_accepted(adata: anndata.AnnData) -> None:
    view = adata[adata.obs["condition"] != "G2+ctrl"]
    data = load_perturb_data(view)
    assert "G2+ctrl" not in data.conditions
    assert isinstance(data.adata.obs, pd.DataFrame)
