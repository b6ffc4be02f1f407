"""Cases 2 and 3: bad options and bad files get one line and exit 2, before any work; nothing non-finite is trained,
saved or written (issue 16)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from biodsnn.model import DEFAULT_HPARAMS, HPARAM_SPECS, check_predictions, validate_hparams
from cli.biodsnn import main as biodsnn
from reactomenet.errors import InputError

from .conftest import invoke


def _fit_args(sandbox, out="run", *extra):
    return ["fit", "--data", sandbox.root / "data.h5ad", "--knowledge", sandbox.root / "kb", "--split",
            sandbox.root / "split.json", "-o", out, "--epochs", "1", "--batch-size", "64", *extra]


@pytest.mark.parametrize(("extra", "words"), [
    (["--device", "banana"], ["banana", "cpu"]),
    (["--lr", "-1"], ["lr", "> 0"]),
    (["--set", "hidden=0"], ["hidden", "≥ 1"]),
    (["--set", "hidden=abc"], ["hidden", "whole number"]),
    (["--set", "hidden=2.5"], ["hidden", "whole number"]),
    (["--set", "n_heads=3"], ["n_heads", "hidden"]),
    (["--set", "dropout=1.5"], ["dropout", "[0, 1)"]),
    (["--set", "mark_perturbed=maybe"], ["mark_perturbed", "true or false"]),
    (["--set", "mark_perturbed=1"], ["mark_perturbed", "true or false"]),
    (["--set", "epochs=0"], ["epochs"]),
    (["--set", "gamma=nan"], ["gamma"]),
    (["--set", "lr=inf"], ["lr"]),
    (["--set", "lr_gamma=0"], ["lr_gamma"]),
    (["--set", "loss_level=pixel"], ["loss_level", "mean"]),
    (["--set", "lr_gama=0.9"], ["lr_gama", "lr_gamma"]),
    (["--variant", "ful"], ["ful", "full"]),
])
def test_bad_options_are_refused_before_any_work(sandbox, refused, extra, words) -> None:
    refused(biodsnn, _fit_args(sandbox, "run", *extra), *words)


def test_cuda_without_a_gpu_is_one_line(sandbox, refused) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    refused(biodsnn, _fit_args(sandbox, "run", "--device", "cuda"), "cuda", "--device cpu")


def test_every_option_has_a_spec_and_the_defaults_pass() -> None:
    assert set(HPARAM_SPECS) == set(DEFAULT_HPARAMS)
    assert validate_hparams(dict(DEFAULT_HPARAMS)) == DEFAULT_HPARAMS


def test_set_epochs_reaches_the_fit_and_a_failed_fit_leaves_no_folder(sandbox, tmp_path, monkeypatch) -> None:
    import biodsnn.model as model_mod

    seen = {}

    def fake_fit(self, *args, **kwargs):
        seen["epochs"] = self.hparams["epochs"]
        (tmp_path / "run" / "train.log").write_text("started")
        raise InputError("stop here")

    monkeypatch.setattr(model_mod.BioDSNN, "fit", fake_fit)
    args = [a for a in _fit_args(sandbox, tmp_path / "run") if a != "--epochs"]
    args.remove("1")
    r = invoke(biodsnn, [*args, "--set", "epochs=3"])
    assert r.exit_code == 2 and seen == {"epochs": 3}, r.stderr
    assert not (tmp_path / "run").exists()  # no half run folder


@pytest.mark.parametrize("kind", ["h5ad", "binary", "no_assignment", "list", "assignment_list", "not_json"])
def test_bad_split_files(sandbox, work, refused, kind) -> None:
    w = work("data.h5ad")
    path = w / f"bad_{kind}.json"
    content = {
        "h5ad": (sandbox.root / "data.h5ad").read_bytes(),
        "binary": bytes(range(256)) * 4,
        "no_assignment": json.dumps({"format": "biodsnn.split/1", "kind": "custom"}).encode(),
        "list": json.dumps([["A+ctrl", "train"]]).encode(),
        "assignment_list": json.dumps({"format": "biodsnn.split/1", "assignment": ["A+ctrl"]}).encode(),
        "not_json": b"condition,split\nA+ctrl,train\n",
    }[kind]
    path.write_bytes(content)
    refused(biodsnn, ["fit", "--data", "data.h5ad", "--knowledge", sandbox.root / "kb", "--split", path.name,
                      "-o", "run", "--epochs", "1"], path.name)


def test_diverging_training_stops_with_epoch_and_step_and_leaves_no_run(sandbox, refused) -> None:
    line = refused(biodsnn, _fit_args(sandbox, "run", "--lr", "1e12", "--variant", "noVAE"), "epoch", "step", "--lr")
    assert "nan" in line.lower() or "inf" in line.lower()


def test_nan_weights_are_never_predicted_or_loaded(sandbox, work, refused) -> None:
    w = work("run_full")
    state = torch.load(w / "run_full" / "model.pt", weights_only=True)
    name = next(k for k, v in state.items() if v.is_floating_point())
    state[name] = torch.full_like(state[name], float("nan"))
    torch.save(state, w / "run_full" / "model.pt")
    cfg = json.loads((w / "run_full" / "config.json").read_text())
    import hashlib

    cfg["weights_sha256"] = hashlib.sha256((w / "run_full" / "model.pt").read_bytes()).hexdigest()
    (w / "run_full" / "config.json").write_text(json.dumps(cfg))
    gene = sandbox.perturbed[0]
    refused(biodsnn, ["predict", "run_full", "-p", gene, "-o", "pred.h5ad"], "NaN", name)


def test_check_predictions_names_the_condition() -> None:
    check_predictions(np.ones((2, 3)), ["A+ctrl", "B+ctrl"])
    with pytest.raises(InputError, match="B\\+ctrl"):
        check_predictions(np.array([[1.0, 2.0], [np.inf, 0.0]]), ["A+ctrl", "B+ctrl"])


@pytest.mark.parametrize(("args", "words"), [
    (["data", "info", "--data", "missing.h5ad"], ["missing.h5ad"]),
    (["data", "info", "--data", "notes.txt"], ["notes.txt"]),
    (["data", "info", "--data", "data.h5ad", "--convention", "pertpy"], ["perturbation"]),
    (["data", "info", "--data", "data.h5ad", "--condition-key", "nope"], ["nope", "--condition-key"]),
    (["fit", "--data", "data.h5ad", "--knowledge", "empty_dir", "-o", "run", "--epochs", "1"], ["empty_dir"]),
    (["predict", "empty_dir", "-p", "A", "-o", "p.h5ad"], ["config.json"]),
    (["evaluate", "--baselines", "additive", "--data", "data.h5ad"], ["--split"]),
    (["evaluate", "--baselines", "bogus", "--data", "data.h5ad", "--split", "split.json"], ["bogus"]),
    (["data", "split", "--data", "data.h5ad", "--kind", "custom", "-o", "s.json"], ["mapping"]),
])
def test_inputs_that_were_already_refused_stay_refused(sandbox, work, refused, args, words) -> None:
    w = work("data.h5ad", "split.json")
    (w / "notes.txt").write_text("not anndata")
    (w / "empty_dir").mkdir()
    refused(biodsnn, args, *words)


def test_interrupt_keeps_the_run_folder_for_resume(tmp_path) -> None:
    from biodsnn.train import run_folder

    with pytest.raises(KeyboardInterrupt), run_folder(tmp_path / "run") as run:
        (run / "checkpoint.pt").write_bytes(b"epoch 1")
        raise KeyboardInterrupt
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == b"epoch 1"
    with pytest.raises(InputError), run_folder(tmp_path / "run") as run:
        (run / "train.log").write_text("new")
        raise InputError("diverged")
    assert sorted(p.name for p in (tmp_path / "run").iterdir() if p.name != ".biodsnn.lock") == ["checkpoint.pt"]
