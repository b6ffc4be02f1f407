"""The hand-off to cell-eval: the files it scores, and our shared metrics checked against its numbers.

The file-format tests need no cell-eval. The agreement tests score the same predictions with our ``evaluate``
and with cell-eval's ``MetricsEvaluator`` (skipped, with the reason, where cell-eval cannot be imported).
"""

from __future__ import annotations

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from click.testing import CliRunner

from biodsnn.baselines import get_baseline
from biodsnn.data import load_perturb_data, make_split, rank_de_genes, simulate
from biodsnn.evaluate import (
    celleval_label,
    discrimination_celleval,
    discrimination_ranks,
    evaluate,
    export_real,
    get_metric,
    mae,
    predict_cells,
    shift_to_mean,
)
from cli.biodsnn import main
from reactomenet.errors import InputError

SHARED = {"pearson_delta": "pearson_delta", "mse": "mse", "mae": "mae", "discrimination_score_l1": "pds_l1_celleval"}


@pytest.fixture(scope="module")
def tiny():
    ad = simulate(preset="tiny", seed=0, progress=False)
    data = load_perturb_data(ad)
    split = make_split(data.conditions, kind="simulation", seed=1)
    return ad, data, split


class NoisyTruth:
    """A predictor that is the true means plus noise, kept ≥ 0 (so no prediction needs clipping)."""

    name = "noisy_truth"

    def __init__(self, data, scale: float = 0.3, seed: int = 0) -> None:
        self.data = data
        self.rng = np.random.default_rng(seed)
        self.scale = scale

    def predict_means(self, conditions):
        true = self.data.condition_means(list(conditions)).astype(np.float64)
        return np.maximum(true + self.rng.normal(0, self.scale, true.shape), 0.0)


class FileMeans:
    """A predictor that reads its means back from a written cell-eval prediction (pseudobulk per label)."""

    def __init__(self, pred: anndata.AnnData, name: str = "from_file") -> None:
        self.name = name
        labels = pred.obs["target_gene"].astype(str).to_numpy()
        x = np.asarray(pred.X, dtype=np.float64)
        self.means = {lab: x[labels == lab].mean(axis=0) for lab in np.unique(labels)}

    def predict_means(self, conditions):
        return np.stack([self.means[celleval_label(c)] for c in conditions])


# --- the conversion itself (no cell-eval needed) -------------------------------------------------------------------

def test_shift_to_mean_is_exact_and_non_negative():
    rng = np.random.default_rng(0)
    x = np.where(rng.random((40, 30)) < 0.4, 0.0, rng.gamma(2.0, 0.7, (40, 30)))
    x[:, 0] = 0.0  # a gene never expressed in the sampled controls
    target = np.concatenate([[0.8], rng.uniform(0.0, 3.0, 28), [-0.2]])
    out = shift_to_mean(x, target)
    assert (out >= 0).all()
    np.testing.assert_allclose(out.mean(axis=0)[:-1], target[:-1], rtol=1e-10, atol=1e-12)
    assert (out[:, -1] == 0).all()  # a negative predicted mean: zeros, the nearest possible
    # where no cell is clipped the shift is one constant per gene: the cells keep their spread
    kept = (out > 0).all(axis=0)
    diffs = out[:, kept] - x[:, kept]
    np.testing.assert_allclose(diffs, np.broadcast_to(diffs[0], diffs.shape), atol=1e-12)
    # a target off the cells' own mean by float32 rounding only: the cells themselves, not a tiny "change"
    np.testing.assert_array_equal(shift_to_mean(x[:, 1:], x[:, 1:].mean(axis=0) + 3e-8), x[:, 1:])
    with pytest.raises(InputError):
        shift_to_mean(x, target[:3])


def test_labels_follow_cell_eval():
    assert celleval_label("ctrl") == "non-targeting"
    assert celleval_label("ETS2+ctrl") == "ETS2"
    assert celleval_label("FOSB+CEBPB") == "CEBPB+FOSB"
    assert celleval_label("ctrl", control_label="control") == "control"


def test_files_pair_and_the_prediction_averages_to_the_predicted_means(tiny):
    _, data, split = tiny
    model = get_baseline("additive")(data, split).fit()
    real = export_real(data, split)
    pred = predict_cells(model, data, split, cells_per_condition=7, seed=3)
    for a in (real, pred):
        assert list(a.var_names) == list(data.genes)
        assert a.X.dtype == np.float32
        assert "celltype" not in a.obs  # one context
    assert set(real.obs.target_gene) == set(pred.obs.target_gene) == {celleval_label(c) for c in split.test} | {
        "non-targeting"}
    counts = pred.obs.target_gene.value_counts()
    assert (counts.drop("non-targeting") == 7).all()
    # the same control cells, unchanged, on both sides
    xr = real.X.toarray() if sp.issparse(real.X) else np.asarray(real.X)
    xp = np.asarray(pred.X)
    np.testing.assert_array_equal(xp[(pred.obs.target_gene == "non-targeting").to_numpy()],
                                  xr[(real.obs.target_gene == "non-targeting").to_numpy()])
    # real cells are the data's own cells
    for cond in split.test[:3]:
        rows = (real.obs.target_gene == celleval_label(cond)).to_numpy()
        np.testing.assert_allclose(xr[rows].mean(axis=0), data.condition_means([cond])[0], rtol=1e-5, atol=1e-6)
    # the predicted cells average to the predicted means (negative ones written as 0), log1p-like and finite
    means = np.maximum(model.predict_means(split.test), 0)
    back = FileMeans(pred).predict_means(split.test)
    np.testing.assert_allclose(back, means, rtol=1e-5, atol=1e-5)
    assert np.isfinite(xp).all() and xp.min() >= 0
    assert pred.uns["biodsnn"]["negative_means_clipped"] == int((model.predict_means(split.test) < 0).sum())
    # seeded: same seed, same file; another seed draws other control cells
    again = predict_cells(model, data, split, cells_per_condition=7, seed=3)
    np.testing.assert_array_equal(np.asarray(again.X), xp)
    other = predict_cells(model, data, split, cells_per_condition=7, seed=4)
    assert not np.array_equal(np.asarray(other.X), xp)


def test_several_contexts_get_a_celltype_column_and_their_own_controls(tiny):
    ad, _, _ = tiny
    ad = ad.copy()
    rng = np.random.default_rng(0)
    ad.obs["cell_type"] = rng.choice(["lineA", "lineB"], ad.n_obs)
    shift = np.where(ad.obs["cell_type"].to_numpy() == "lineB", 0.5, 0.0).astype(np.float32)[:, None]
    ad.X = np.asarray(ad.X.toarray() if sp.issparse(ad.X) else ad.X) + shift  # lineB is brighter everywhere
    data = load_perturb_data(ad)
    split = make_split(data.conditions, kind="simulation", seed=1)
    real = export_real(data, split)
    pred = predict_cells(get_baseline("control")(data, split).fit(), data, split, cells_per_condition=5)
    assert set(real.obs.celltype) == set(pred.obs.celltype) == {"lineA", "lineB"}
    for ct in ("lineA", "lineB"):
        r = real[real.obs.celltype == ct]
        p = pred[pred.obs.celltype == ct]
        assert set(r.obs.target_gene) == set(p.obs.target_gene)
        ctrl_r = np.asarray(r.X[(r.obs.target_gene == "non-targeting").to_numpy()].mean(axis=0)).ravel()
        # no change predicted: each context's predicted cells average to that context's own control mean
        for lab in set(p.obs.target_gene) - {"non-targeting"}:
            got = np.asarray(p.X[(p.obs.target_gene == lab).to_numpy()]).mean(axis=0)
            np.testing.assert_allclose(got, np.maximum(ctrl_r, 0), rtol=1e-4, atol=1e-4)


def test_cli_writers_pair_and_refuse_to_overwrite(tiny, tmp_path):
    ad, _, split = tiny
    from biodsnn.data import write_h5ad

    write_h5ad(ad, tmp_path / "data.h5ad")
    split.save(tmp_path / "split.json")
    out = tmp_path / "real.h5ad"
    args = ["data", "export", "--format", "cell-eval", "--data", str(tmp_path / "data.h5ad"), "--split",
            str(tmp_path / "split.json"), "-o", str(out)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    real = anndata.read_h5ad(out)
    assert "non-targeting" in set(real.obs.target_gene)
    before = out.read_bytes()
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and "exists; pass --overwrite" in res.output
    assert out.read_bytes() == before  # the user's file is untouched
    res = CliRunner().invoke(main, [*args, "--overwrite", "--pert-col", "gene", "--control-pert", "NTC"])
    assert res.exit_code == 0, res.output
    assert "NTC" in set(anndata.read_h5ad(out).obs["gene"])


def test_celleval_forms_in_our_registry():
    assert get_metric("pds_l1_celleval").higher_is_better and not get_metric("pds_l1").higher_is_better
    assert get_metric("mae").func is mae and get_metric("pds_l1").func is discrimination_ranks
    rng = np.random.default_rng(1)
    t, p = rng.normal(size=(9, 12)), rng.normal(size=(9, 12))
    ours = discrimination_ranks(p, t)
    np.testing.assert_allclose(discrimination_celleval(p, t), 1 - ours * 8 / 9)
    assert discrimination_celleval(t, t).tolist() == [1.0] * 9


# --- agreement with cell-eval itself --------------------------------------------------------------------------------

def _cell_eval():
    return pytest.importorskip("cell_eval", reason="cell-eval is not installed (pip install 'biodsnn[celleval]'); "
                                                   "agreement with it is not checked here")


def _agreement(predictor, data, split, pred, real, tmp_path):
    from biodsnn.evaluate import run_cell_eval

    results, _ = run_cell_eval(pred, real, tmp_path / "ce", profile="minimal", skip_de=True)
    theirs = results.set_index("perturbation")
    de = rank_de_genes(data, n_top=20)
    res = evaluate([predictor], data, split, de, metrics=list(SHARED.values()), n_boot=0, gi=False, noise_free=False)
    ours = res.metrics.pivot(index="condition", columns="metric", values="value")
    ours.index = [celleval_label(c) for c in ours.index]
    assert sorted(ours.index) == sorted(theirs.index)
    for their_name, our_name in SHARED.items():
        np.testing.assert_allclose(ours.loc[theirs.index, our_name].to_numpy(dtype=float),
                                   theirs[their_name].to_numpy(dtype=float), rtol=2e-4, atol=2e-5,
                                   err_msg=f"{our_name} (ours) vs {their_name} (cell-eval)")
    return ours, theirs


def test_shared_metrics_agree_with_cell_eval(tiny, tmp_path):
    """Our evaluate() on a predictor's means = cell-eval on the files written from it (no clipping needed)."""
    _cell_eval()
    _, data, split = tiny
    model = NoisyTruth(data)
    pred = predict_cells(model, data, split, cells_per_condition=20, seed=0)
    assert pred.uns["biodsnn"]["negative_means_clipped"] == 0
    model.rng = np.random.default_rng(0)  # evaluate() asks again: the same means
    _, theirs = _agreement(model, data, split, pred, export_real(data, split), tmp_path)
    # the two discrimination scores are one relation apart: n in cell-eval's denominator, n − 1 in ours
    assert np.isfinite(theirs["discrimination_score_l1"]).all()


def test_agreement_holds_for_a_baseline_read_back_from_its_file(tiny, tmp_path):
    """With doubles (cell-eval keeps their targets), clipped means and a real baseline: scored from the file."""
    _cell_eval()
    _, data, split = tiny
    pred = predict_cells(get_baseline("additive")(data, split).fit(), data, split, cells_per_condition=15, seed=1)
    assert any("+" in c and "ctrl" not in c for c in split.test)  # doubles are part of the check
    _agreement(FileMeans(pred), data, split, pred, export_real(data, split), tmp_path)


def test_evaluate_cell_eval_puts_its_table_in_the_report(tiny, tmp_path, monkeypatch):
    _cell_eval()
    ad, _, split = tiny
    from biodsnn.data import write_h5ad

    monkeypatch.setenv("BIODSNN_NO_PROGRESS", "1")
    write_h5ad(ad, tmp_path / "data.h5ad")
    split.save(tmp_path / "split.json")
    out = tmp_path / "report"
    res = CliRunner().invoke(main, ["evaluate", "--data", str(tmp_path / "data.h5ad"), "--split",
                                    str(tmp_path / "split.json"), "--baselines", "mean,additive", "--report",
                                    str(out), "--n-boot", "0", "--no-plots", "--cell-eval", "--cell-eval-profile",
                                    "pds", "--cells-per-condition", "10"])
    assert res.exit_code == 0, res.output
    agg = pd.read_parquet(out / "cell_eval.parquet")
    assert set(agg.model) == {"mean", "additive"} and "discrimination_score_l1" in agg.columns
    both = pd.read_csv(out / "cell_eval_vs_ours.csv")
    assert both.notna()[["discrimination_score_l1 (cell-eval)", "pds_l1_celleval (ours)"]].all().all()
    assert (out / "cell-eval" / "real.h5ad").exists() and (out / "cell-eval" / "pred_additive.h5ad").exists()
    assert "cell-eval" in (out / "report.md").read_text()
    res = CliRunner().invoke(main, ["evaluate", "--data", str(tmp_path / "data.h5ad"), "--split",
                                    str(tmp_path / "split.json"), "--cell-eval"])
    assert res.exit_code == 2 and "--report" in res.output
