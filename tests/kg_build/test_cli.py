"""kg-build CLI end to end on a tiny AnnData (real data layer), and its one-line errors with exit 2."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli.kg_build import main


@pytest.fixture
def files(tmp_path, fakes):
    pytest.importorskip("biodsnn.data")
    data = fakes.make_data()
    path = tmp_path / "perturb.h5ad"
    data.adata.write_h5ad(path)
    split = tmp_path / "split.json"
    from biodsnn.data import Split

    Split(kind="custom", seed=None, assignment=dict(fakes.SPLIT), subgroup={}).save(split)
    genes = tmp_path / "genes.txt"
    genes.write_text("ACTB\nRB1\n")
    return path, split, genes


def test_cli_parts_and_errors(tmp_path, files, monkeypatch):
    monkeypatch.setenv("BIODSNN_NO_PROGRESS", "1")
    h5ad, split, genes = files
    run = CliRunner().invoke
    r = run(
        main,
        ["go", "--perturbable", str(genes), "--data", str(h5ad), "--go-top-k", "3", "-o", str(tmp_path / "g.parquet")],
    )
    assert r.exit_code == 0, r.output
    r = run(
        main,
        [
            "coexpression",
            "--data",
            str(h5ad),
            "--split",
            str(split),
            "--threshold",
            "0.1",
            "-o",
            str(tmp_path / "c.parquet"),
        ],
    )
    assert r.exit_code == 0, r.output
    # missing split: one line, exit 2, nothing written
    r = run(main, ["coexpression", "--data", str(h5ad), "-o", str(tmp_path / "x.parquet")])
    assert r.exit_code == 2 and r.output.startswith("error: no split given") and r.output.count("\n") == 1
    assert not (tmp_path / "x.parquet").exists()
    r = run(main, ["bundle", "--data", str(h5ad), "--split", str(tmp_path / "absent.json"), "-o", str(tmp_path / "kb")])
    assert r.exit_code == 2 and "absent.json" in r.output and not (tmp_path / "kb").exists()


def test_cli_bundle(tmp_path, files, monkeypatch):
    reactomenet = pytest.importorskip("reactomenet")
    if not hasattr(reactomenet, "ReactomeGraph"):
        pytest.skip("reactomenet.ReactomeGraph not available yet")
    monkeypatch.setenv("BIODSNN_NO_PROGRESS", "1")
    h5ad, split, genes = files
    out = tmp_path / "kb"
    r = CliRunner().invoke(
        main,
        [
            "bundle",
            "--data",
            str(h5ad),
            "--split",
            str(split),
            "--perturbable",
            str(genes),
            "--condition-key",
            "condition",
            "--control-label",
            "ctrl",
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    from kg_build import KnowledgeBundle

    kb = KnowledgeBundle.load(out)
    assert json.loads((out / "manifest.json").read_text())["counts"]["measured_genes"] == len(kb.genes)
