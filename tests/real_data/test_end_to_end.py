"""Every real file through the whole pipeline as a user runs it: split → bundle → fit → predict → evaluate.

The files are small public subsets (see ../shared/data/real/README.md), stored in their sources' conventions, so
each command gets only the flags that convention needs; the numbers checked are the ones a user reads.
"""

from __future__ import annotations

import json

import anndata
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cli.biodsnn import main as biodsnn
from cli.kg_build import main as kg_build

from .conftest import FILES, real_file


def _ok(result) -> str:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.output


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


@pytest.mark.parametrize("name", list(FILES))
def test_real_file_end_to_end(name: str, tmp_path, runner, monkeypatch) -> None:
    monkeypatch.setenv("BIODSNN_NO_PROGRESS", "1")
    path = real_file(name)
    _, flags, kind, split_flags = FILES[name]
    data = ["--data", str(path), *flags]
    split, kb, run = tmp_path / "split.json", tmp_path / "kb", tmp_path / "run"
    _ok(runner.invoke(biodsnn, ["data", "split", *data, "--kind", kind, "--seed", "1", *split_flags, "-o", str(split)]))
    assignment = json.loads(split.read_text())["assignment"]
    assert {"train", "val", "test"} <= set(assignment.values())
    _ok(runner.invoke(kg_build, ["bundle", *data, "--split", str(split), "-o", str(kb)]))
    manifest = json.loads((kb / "manifest.json").read_text())
    train_cells = manifest["counts"]["training_cells"]
    out = _ok(runner.invoke(biodsnn, ["fit", *data, "--knowledge", str(kb), "--split", str(split), "-o", str(run),
                                      "--epochs", "2", "--seed", "0"]))
    assert "best epoch" in out
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["data"]["options"].get("normalize", False) == ("--normalize" in flags)

    test = sorted(c for c, s in assignment.items() if s == "test")
    report = tmp_path / "report"
    _ok(runner.invoke(biodsnn, ["evaluate", str(run), "--baselines", "all", "--report", str(report)]))
    metrics = pd.read_parquet(report / "metrics.parquet")
    assert set(metrics.condition) - {"*"} == set(test)
    observed = metrics[metrics.reference == "observed"]
    assert np.isfinite(observed[observed.metric == "mse"].value).all()
    assert {"control", "mean", "additive", "linear", "BioDSNN-full(epochs=2)"} <= set(observed.model)
    # no change scores exactly the squared true change: its all-gene MSE is the mean over genes of (true − ctrl)²
    ctrl_rows = observed[(observed.model == "control") & (observed.metric == "mse")]
    assert (ctrl_rows.value > 0).all()

    # predict writes what evaluate scored, for one held-out unit (with its context where the data has several)
    unit = test[0]
    context, _, condition = unit.rpartition("|")
    pred_path = tmp_path / "pred.h5ad"
    extra = ["--context", context] if context else []
    _ok(runner.invoke(biodsnn, ["predict", str(run), "-p", condition, *extra, "-o", str(pred_path)]))
    pred = anndata.read_h5ad(pred_path)
    assert pred.obs["condition"].tolist() == [unit]
    if context:
        assert pred.obs["context"].tolist() == [context]
    assert np.isfinite(pred.X).all() and train_cells > 0
