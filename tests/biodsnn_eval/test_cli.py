"""`biodsnn evaluate` / `biodsnn benchmark` through the real command group, on tiny simulated data."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from cli.biodsnn import main


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory):
    from biodsnn.data import load_perturb_data, make_split, simulate, write_h5ad

    root = tmp_path_factory.mktemp("tiny")
    ad = simulate(preset="tiny", seed=0, progress=False)
    write_h5ad(ad, root / "data.h5ad")
    split = make_split(load_perturb_data(ad).conditions, kind="simulation", seed=1)
    split.save(root / "split.json")
    return root


def test_evaluate_baselines_alone_writes_report(tiny_files, tmp_path, monkeypatch):
    monkeypatch.setenv("BIODSNN_NO_PROGRESS", "1")
    out = tmp_path / "report"
    res = CliRunner().invoke(main, ["evaluate", "--data", str(tiny_files / "data.h5ad"), "--split",
                                    str(tiny_files / "split.json"), "--baselines", "all", "--report", str(out),
                                    "--n-boot", "20", "--no-plots"])
    assert res.exit_code == 0, res.output
    assert "mse_de20" in res.output and "additive" in res.output
    frame = pd.read_parquet(out / "metrics.parquet")
    assert set(frame.model) == {"control", "mean", "additive", "linear"}
    assert set(frame.reference) == {"observed", "noise_free"}  # simulated data: scored against the truth too
    assert json.loads((out / "summary.json").read_text())["settings"]["n_boot"] == 20


def test_evaluate_user_errors_are_one_line(tiny_files, tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["evaluate", "--data", str(tiny_files / "data.h5ad"), "--split",
                               str(tiny_files / "split.json"), "--baselines", "additiv"])
    assert res.exit_code == 2 and "did you mean additive" in res.output
    res = runner.invoke(main, ["evaluate", "--baselines", "all"])
    assert res.exit_code == 2 and "--data and --split" in res.output
    res = runner.invoke(main, ["evaluate", "--data", str(tiny_files / "data.h5ad"), "--split",
                               str(tiny_files / "split.json"), "--metric", "nope"])
    assert res.exit_code == 2 and "unknown metric" in res.output


@pytest.mark.slow
def test_benchmark_then_evaluate_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv("BIODSNN_NO_PROGRESS", "1")
    bench = tmp_path / "bench"
    runner = CliRunner()
    res = runner.invoke(main, ["benchmark", "--preset", "tiny", "--models", "noVAE", "--baselines", "additive",
                               "--epochs", "1", "--n-boot", "10", "--no-plots", "-o", str(bench)])
    assert res.exit_code == 0, res.output
    md = (bench / "report" / "report.md").read_text()
    assert "| BioDSNN-noVAE(epochs=1) |" in md and "| additive |" in md and "cells/s" in md
    out = tmp_path / "report"
    res = runner.invoke(main, ["evaluate", str(bench / "runs" / "noVAE"), "--baselines", "control,additive",
                               "--report", str(out), "--n-boot", "10", "--combo", _a_double(bench)])
    assert res.exit_code == 0, res.output
    frame = pd.read_parquet(out / "metrics.parquet")
    assert set(frame.model) == {"control", "additive", "BioDSNN-noVAE(epochs=1)"}
    assert any(p.name.startswith("de_") for p in out.iterdir())


def _a_double(bench) -> str:
    split = json.loads((bench / "split.json").read_text())
    sub = split.get("subgroup", {})
    return next(c for c, g in sorted(sub.items()) if g.startswith("combo") and split["assignment"][c] == "test")
