"""The device path: bf16 autocast on the CPU (always), and fit → predict → evaluate on a CUDA GPU (when present)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from biodsnn.model import BioDSNN

from .conftest import simulated_screen

SMALL = {"hidden": 16, "d_ff": 32, "batch_size": 16, "n_control_predict": 64}


def _fit(tiny, **hp) -> BioDSNN:
    return BioDSNN(tiny.data, tiny.knowledge, split=tiny.split, variant="full", seed=0, de=tiny.de,
                   **{**SMALL, **hp}).fit(2, progress=False)


def test_bf16_autocast_trains_in_bfloat16_and_keeps_the_numbers(tiny) -> None:
    plain = _fit(tiny)
    model = BioDSNN(tiny.data, tiny.knowledge, split=tiny.split, variant="full", seed=0, de=tiny.de,
                    autocast="bf16", **SMALL)
    seen: set[torch.dtype] = set()
    linear = next(m for m in model.module.modules() if isinstance(m, torch.nn.Linear))
    hook = linear.register_forward_hook(lambda _m, _i, out: seen.add(out.dtype) if torch.is_grad_enabled() else None)
    model.fit(2, progress=False)
    hook.remove()
    assert torch.bfloat16 in seen  # the training forward ran under autocast
    conds = list(tiny.split.test)
    a, b = plain.predict_means(conds), model.predict_means(conds)
    assert b.dtype == np.float32 and np.isfinite(b).all()  # predictions stay float32
    change = np.abs(a - np.asarray(tiny.data.control_mean)).max()
    assert np.abs(a - b).max() < 0.02 * change  # measured: 0.2–0.3 % on the tiny screen
    assert [h["val_top20_de_mse"] for h in model.history] == pytest.approx(
        [h["val_top20_de_mse"] for h in plain.history], rel=0.01)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
def test_cuda_fit_predict_evaluate_end_to_end(tmp_path) -> None:
    import anndata

    from biodsnn.data import Split, load_perturb_data
    from cli.biodsnn import main as biodsnn

    screen = simulated_screen(tmp_path)
    h5ad, split_path, kb = screen["data"], screen["split"], screen["knowledge"]
    data, split = load_perturb_data(h5ad), Split.load(split_path)
    args = ["--data", h5ad, "--knowledge", kb, "--split", split_path, "--epochs", "2", "--batch-size", "16"]
    preds = {}
    for device, extra in (("cpu", []), ("cuda", []), ("cuda", ["--set", "autocast=bf16"])):
        run = tmp_path / f"run_{device}_{len(extra)}"
        r = CliRunner().invoke(biodsnn, ["fit", *map(str, args), "-o", str(run), "--device", device, *extra])
        assert r.exit_code == 0, r.output
        assert json.loads((run / "config.json").read_text())["device"].startswith(device)
        out = tmp_path / f"pred_{device}_{len(extra)}.h5ad"
        r = CliRunner().invoke(biodsnn, ["predict", str(run), "-p", *split.test, "-o", str(out)])
        assert r.exit_code == 0, r.output
        preds[(device, len(extra))] = anndata.read_h5ad(out).X
        r = CliRunner().invoke(biodsnn, ["evaluate", str(run), "--n-boot", "0", "--no-plots", "--baselines", "none"])
        assert r.exit_code == 0, r.output
    change = np.abs(preds[("cpu", 0)] - np.asarray(data.control_mean)).max()
    for key in (("cuda", 0), ("cuda", 2)):  # GPU kernels sum in another order: close, not equal
        assert np.abs(preds[key] - preds[("cpu", 0)]).max() < 0.05 * change, key
