"""Cases 3, 4 and 6: damaged or swapped files are refused on load; a run folder is locked, a resume with other options
is refused in one line (issue 16)."""

from __future__ import annotations

import json
import shutil

from cli.biodsnn import main as biodsnn
from reactomenet.io import folder_lock

from .conftest import invoke, snapshot


def _predict(gene: str, out: str = "pred.h5ad") -> list[str]:
    return ["predict", "run_full", "-p", gene, "-o", out]


def test_truncated_model_pt(sandbox, work, refused) -> None:
    w = work("run_full")
    blob = (w / "run_full" / "model.pt").read_bytes()
    (w / "run_full" / "model.pt").write_bytes(blob[: len(blob) // 2])
    refused(biodsnn, _predict(sandbox.perturbed[0]), "model.pt", "sha256")


def test_corrupted_model_pt_without_a_recorded_hash(sandbox, work, refused) -> None:
    # a run saved before hashes were recorded: the damage is still one line, from torch.load
    w = work("run_full")
    cfg = json.loads((w / "run_full" / "config.json").read_text())
    cfg.pop("weights_sha256")
    (w / "run_full" / "config.json").write_text(json.dumps(cfg))
    blob = bytearray((w / "run_full" / "model.pt").read_bytes())
    blob[100:400] = bytes(300)
    (w / "run_full" / "model.pt").write_bytes(bytes(blob))
    refused(biodsnn, _predict(sandbox.perturbed[0]), "model.pt")


def test_config_of_another_variant(sandbox, work, refused) -> None:
    w = work("run_full")
    cfg = json.loads((w / "run_full" / "config.json").read_text())
    cfg["variant"] = "full"  # weights hash still matches: the network differs
    (w / "run_full" / "config.json").write_text(json.dumps(cfg))
    refused(biodsnn, _predict(sandbox.perturbed[0]), "full network", "config.json")


def test_config_that_is_not_a_config(sandbox, work, refused) -> None:
    w = work("run_full")
    (w / "run_full" / "config.json").write_bytes(b"\x89HDF\r\n")
    refused(biodsnn, _predict(sandbox.perturbed[0]), "config.json")
    (w / "run_full" / "config.json").write_text("[1, 2]")
    refused(biodsnn, _predict(sandbox.perturbed[0]), "config.json")


def test_bundle_file_from_another_bundle_or_truncated(sandbox, work, refused) -> None:
    w = work("kb", "data.h5ad", "split.json")
    fit = ["fit", "--data", "data.h5ad", "--knowledge", "kb", "--split", "split.json", "-o", "run", "--epochs", "1"]
    shutil.copy2(sandbox.root / "kb_level2" / "attention_mask.parquet", w / "kb" / "attention_mask.parquet")
    refused(biodsnn, fit, "attention_mask.parquet")
    blob = (sandbox.root / "kb" / "go_graph.parquet").read_bytes()
    shutil.copy2(sandbox.root / "kb" / "attention_mask.parquet", w / "kb" / "attention_mask.parquet")
    (w / "kb" / "go_graph.parquet").write_bytes(blob[:-40])
    refused(biodsnn, fit, "go_graph.parquet", "bytes")


def test_a_locked_run_folder_is_refused(sandbox, work, refused) -> None:
    w = work("run_full")
    with folder_lock(w / "run_full", name=".biodsnn.lock"):
        before = snapshot(w)
        r = invoke(biodsnn, ["fit", "--data", sandbox.root / "data.h5ad", "--knowledge", sandbox.root / "kb",
                             "--split", sandbox.root / "split.json", "-o", w / "run_full", "--epochs", "1"])
        assert r.exit_code == 2 and "in use" in r.stderr, r.stderr
        assert snapshot(w) == before


def test_resume_with_other_options_names_them(sandbox, work, refused) -> None:
    work("run_full")
    base = ["fit", "--data", sandbox.root / "data.h5ad", "--knowledge", sandbox.root / "kb", "--split",
            sandbox.root / "split.json", "-o", "run_full", "--epochs", "2", "--batch-size", "64", "--resume",
            "--variant", "noVAE"]
    refused(biodsnn, [*base, "--set", "lr_gamma=0.9"], "lr_gamma", "0.5", "0.9")
    line = refused(biodsnn, [*base, "--set", "hidden=32", "--set", "n_heads=1"], "hidden", "n_heads")
    assert "state_dict" not in line


def test_resume_with_the_same_options_continues(sandbox, work) -> None:
    w = work("run_full")
    r = invoke(biodsnn, ["fit", "--data", sandbox.root / "data.h5ad", "--knowledge", sandbox.root / "kb", "--split",
                         sandbox.root / "split.json", "-o", w / "run_full", "--epochs", "2", "--batch-size", "64",
                         "--resume", "--variant", "noVAE"])
    assert r.exit_code == 0, r.stderr
    assert "resumed from" in (w / "run_full" / "train.log").read_text()
    assert json.loads((w / "run_full" / "config.json").read_text())["hparams"]["epochs"] == 2
