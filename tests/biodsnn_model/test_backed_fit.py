"""Training on out-of-core data (``--backed``): the same weights and predictions as in memory, through the CLI."""

from __future__ import annotations

import json

import anndata
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli.biodsnn import main as biodsnn

from .conftest import simulated_screen

TRAIN = ["--epochs", "2", "--batch-size", "16", "--seed", "0", "--set", "hidden=16", "--set", "d_ff=32",
         "--set", "n_control_predict=64"]


@pytest.fixture(scope="module")
def screen(tmp_path_factory):
    return simulated_screen(tmp_path_factory.mktemp("backed_fit"))


def _fit(screen, run, *extra: str) -> None:
    r = CliRunner().invoke(biodsnn, ["fit", "--data", screen["data"], "--knowledge", screen["knowledge"], "--split",
                                     screen["split"], "-o", run, *TRAIN, *extra])
    assert r.exit_code == 0, r.output


def test_backed_fit_trains_the_weights_of_the_in_memory_fit_and_predicts_the_same(screen, monkeypatch) -> None:
    monkeypatch.setenv("BIODSNN_NO_PROGRESS", "1")
    mem, backed = screen["tmp"] / "memory", screen["tmp"] / "backed"
    _fit(screen, mem)
    _fit(screen, backed, "--backed")
    assert json.loads((backed / "config.json").read_text())["data"]["options"]["backed"] is True
    got, want = torch.load(backed / "model.pt", weights_only=True), torch.load(mem / "model.pt", weights_only=True)
    assert set(got) == set(want)
    for key, value in want.items():  # same rows, same order, same floats: the same steps
        assert torch.equal(got[key], value), key
    # predict reloads the data as it was fitted (backed), and predicts what the in-memory run predicts
    preds = {}
    for run in (mem, backed):
        out = run.parent / f"{run.name}.pred.h5ad"
        r = CliRunner().invoke(biodsnn, ["predict", str(run), "--format", "cell-eval", "-o", str(out)])
        assert r.exit_code == 0, r.output
        preds[run.name] = anndata.read_h5ad(out)
    a, b = preds["memory"], preds["backed"]
    assert a.obs.equals(b.obs) and a.n_obs > 0
    dense = [x.toarray() if hasattr(x, "toarray") else np.asarray(x) for x in (a.X, b.X)]
    assert np.array_equal(*dense)
