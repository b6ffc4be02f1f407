"""`biodsnn fit` / `biodsnn predict` end to end on a tiny .h5ad (fake bundle until kg_build's lands)."""

from __future__ import annotations

import anndata
import pytest
from click.testing import CliRunner

import biodsnn.model as model_mod
from cli.biodsnn import main

from .conftest import TinyData, fake_de, fake_knowledge, tiny_adata


@pytest.fixture()
def wired(tmp_path, monkeypatch):
    path = tmp_path / "perturb.h5ad"
    tiny_adata().write_h5ad(path)
    data = TinyData(tiny_adata())
    kb = fake_knowledge(data)
    kb.path = str(tmp_path / "knowledge")
    (tmp_path / "knowledge").mkdir()
    monkeypatch.setattr(model_mod, "_load_knowledge", lambda p: kb)
    monkeypatch.setattr(model_mod.BioDSNN, "de", property(lambda self: fake_de(self.data)))
    monkeypatch.setenv("BIODSNN_NO_PROGRESS", "1")
    return tmp_path


def test_fit_then_predict(wired) -> None:
    run = wired / "run"
    r = CliRunner().invoke(main, ["fit", "--data", str(wired / "perturb.h5ad"), "--knowledge", str(wired / "knowledge"),
                                  "-o", str(run), "--variant", "noVAE", "--epochs", "1", "--batch-size", "32"])
    assert r.exit_code == 0, r.output
    assert {"config.json", "split.json", "model.pt", "history.parquet", "train.log", "checkpoint.pt"} <= {
        p.name for p in run.iterdir()}
    out = wired / "pred.h5ad"
    r = CliRunner().invoke(main, ["predict", str(run), "--perturbations", "G01+G00", "G02", "-o", str(out)])
    assert r.exit_code == 0, r.output
    pred = anndata.read_h5ad(out)
    assert pred.obs["condition"].tolist() == ["G00+G01", "G02+ctrl"]
    r = CliRunner().invoke(main, ["predict", str(run), "-p", "NOTAGENE", "-o", str(wired / "bad.h5ad")])
    assert r.exit_code == 2 and "NOTAGENE" in r.output
    assert not (wired / "bad.h5ad").exists()


def test_fit_set_options_reach_the_model_and_bad_ones_get_one_line(wired) -> None:
    import json

    base = ["fit", "--data", str(wired / "perturb.h5ad"), "--knowledge", str(wired / "knowledge"), "--epochs", "1"]
    run = wired / "run"
    r = CliRunner().invoke(main, [*base, "-o", str(run), "--set", "lr_gamma=0.9", "--set", "detach_vae_baseline=true"])
    assert r.exit_code == 0, r.output
    hp = json.loads((run / "config.json").read_text())["hparams"]
    assert hp["lr_gamma"] == 0.9 and hp["detach_vae_baseline"] is True
    r = CliRunner().invoke(main, [*base, "-o", str(wired / "r2"), "--set", "lr_gama=0.9"])
    assert r.exit_code == 2 and "lr_gama" in r.output and "lr_gamma" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, [*base, "-o", str(wired / "r3"), "--set", "lr_gamma"])
    assert r.exit_code == 2 and "KEY=VALUE" in r.output


def test_predict_cell_eval_pairs_with_data_export(wired) -> None:
    """`predict --format cell-eval` and `data export --format cell-eval` on the run's split give files that pair."""
    run = wired / "run"
    r = CliRunner().invoke(main, ["fit", "--data", str(wired / "perturb.h5ad"), "--knowledge", str(wired / "knowledge"),
                                  "-o", str(run), "--variant", "noVAE", "--epochs", "1", "--batch-size", "32"])
    assert r.exit_code == 0, r.output
    pred_path, real_path = wired / "pred.h5ad", wired / "real.h5ad"
    r = CliRunner().invoke(main, ["predict", str(run), "--format", "cell-eval", "--cells-per-condition", "4",
                                  "-o", str(pred_path)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["data", "export", "--format", "cell-eval", "--data", str(wired / "perturb.h5ad"),
                                  "--split", str(run / "split.json"), "-o", str(real_path)])
    assert r.exit_code == 0, r.output
    pred, real = anndata.read_h5ad(pred_path), anndata.read_h5ad(real_path)
    assert list(pred.var_names) == list(real.var_names)
    labels = set(pred.obs["target_gene"])
    assert labels == set(real.obs["target_gene"]) and "non-targeting" in labels
    assert (pred.obs["target_gene"].value_counts().drop("non-targeting") == 4).all()
    assert pred.X.dtype == "float32" and float(pred.X.min()) >= 0
    before = pred_path.read_bytes()
    r = CliRunner().invoke(main, ["predict", str(run), "--format", "cell-eval", "-o", str(pred_path)])
    assert r.exit_code == 2 and "--overwrite" in r.output and pred_path.read_bytes() == before
    r = CliRunner().invoke(main, ["predict", str(run), "--format", "cell-eval", "-p", "G02",
                                  "-o", str(wired / "x.h5ad")])
    assert r.exit_code == 2 and "test conditions" in r.output
    r = CliRunner().invoke(main, ["predict", str(run), "-o", str(wired / "x.h5ad")])
    assert r.exit_code == 2 and "--perturbations" in r.output
