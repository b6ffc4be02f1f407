"""Case 1: no folder writer destroys a file it did not write (issue 16)."""

from __future__ import annotations

import pytest

from cli.biodsnn import main as biodsnn
from cli.kg_build import main as kg_build
from cli.reactomenet import main as reactomenet
from reactomenet.errors import InputError
from reactomenet.io import check_output_folder, output_folder

from .conftest import invoke, snapshot


def test_evaluate_report_into_the_run_folder_is_refused(work, refused) -> None:
    work("run_full")
    refused(biodsnn, ["evaluate", "run_full", "--report", "run_full", "--n-boot", "0", "--no-plots"],
            "run_full", "--overwrite")


def test_evaluate_report_with_overwrite_keeps_the_run(work) -> None:
    w = work("run_full")
    before = snapshot(w / "run_full")
    r = invoke(biodsnn, ["evaluate", w / "run_full", "--report", w / "run_full", "--overwrite", "--n-boot", "0",
                         "--no-plots", "--baselines", "additive"])
    assert r.exit_code == 0, r.output + r.stderr
    after = snapshot(w / "run_full")
    assert {k: v for k, v in after.items() if k in before} == before  # every run file byte-identical
    assert {"metrics.parquet", "summary.json", "report.md"} <= set(after) - set(before)


def test_bundle_into_the_data_folder_is_refused(work, refused) -> None:
    w = work("data.h5ad", "split.json", "genes.txt")
    (w / "sb").mkdir()
    for name in ("data.h5ad", "split.json"):
        (w / name).rename(w / "sb" / name)
    refused(kg_build, ["bundle", "--data", "sb/data.h5ad", "--split", "sb/split.json", "--perturbable", "genes.txt",
                       "-o", "sb"], "sb/split.json")
    # even with --overwrite: the bundle's split.json would replace the input split
    refused(kg_build, ["bundle", "--data", "sb/data.h5ad", "--split", "sb/split.json", "--perturbable", "genes.txt",
                       "-o", "sb", "--overwrite"], "would replace")


def test_bundle_into_the_working_folder_is_refused(work, refused) -> None:
    work("data.h5ad", "split.json", "genes.txt")
    refused(kg_build, ["bundle", "--data", "data.h5ad", "--split", "split.json", "--perturbable", "genes.txt",
                       "-o", "."], "input")


def test_bundle_over_foreign_files_needs_overwrite_and_then_keeps_them(sandbox, work, refused) -> None:
    w = work()
    (w / "out").mkdir()
    (w / "out" / "notes.txt").write_text("mine")
    args = ["bundle", "--data", sandbox.root / "data.h5ad", "--split", sandbox.root / "split.json",
            "--perturbable", sandbox.root / "genes.txt", "-o", "out"]
    refused(kg_build, args, "notes.txt", "--overwrite")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(w)
        r = invoke(kg_build, [*args, "--overwrite"])
    assert r.exit_code == 0, r.stderr
    assert (w / "out" / "notes.txt").read_text() == "mine"
    assert (w / "out" / "manifest.json").is_file()


def test_fit_into_a_folder_of_other_files_is_refused(sandbox, work, refused) -> None:
    w = work()
    (w / "results").mkdir()
    (w / "results" / "thesis.docx").write_bytes(b"years")
    refused(biodsnn, ["fit", "--data", sandbox.root / "data.h5ad", "--knowledge", sandbox.root / "kb",
                      "-o", "results", "--epochs", "1"], "thesis.docx")
    refused(biodsnn, ["fit", "--data", sandbox.root / "data.h5ad", "--knowledge", sandbox.root / "kb",
                      "-o", sandbox.root / "kb", "--epochs", "1", "--overwrite"], "would replace")


def test_export_and_mask_and_benchmark_refuse(work, refused) -> None:
    w = work("genes.txt")
    (w / "graph").mkdir()
    (w / "graph" / "keep.csv").write_text("1")
    refused(reactomenet, ["export", "-o", "graph", "--levels", "1"], "keep.csv")
    refused(reactomenet, ["mask", "--genes", "genes.txt", "-o", "graph/"], "folder")
    refused(biodsnn, ["benchmark", "-o", "graph", "--epochs", "1"], "keep.csv")


def test_output_folder_replaces_only_its_own_files(tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.json").write_text("old")
    (out / "stale.json").write_text("old")
    (out / "user.txt").write_text("keep")
    with pytest.raises(InputError, match=r"user\.txt"):
        check_output_folder(out, own=["*.json"])
    with output_folder(out, own=["*.json"], overwrite=True) as tmp:
        (tmp / "a.json").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["a.json", "user.txt"]
    assert (out / "a.json").read_text() == "new"
    # a failure inside the block leaves the folder as it was
    before = snapshot(out)
    with pytest.raises(RuntimeError), output_folder(out, own=["*.json"], overwrite=True) as tmp:
        (tmp / "a.json").write_text("half")
        raise RuntimeError("boom")
    assert snapshot(out) == before


def test_file_writers_never_replace_an_input(sandbox, work, refused) -> None:
    work("data.h5ad", "split.json", "genes.txt", "run_full")
    gene = sandbox.perturbed[0]
    refused(biodsnn, ["predict", "run_full", "-p", gene, "-o", "run_full/model.pt"], "model.pt", "input")
    refused(biodsnn, ["predict", "run_full", "-p", gene, "--data", "data.h5ad", "-o", "data.h5ad"], "input")
    refused(biodsnn, ["data", "split", "--data", "data.h5ad", "-o", "data.h5ad"], "input")
    refused(biodsnn, ["data", "de", "--data", "data.h5ad", "-o", "data.h5ad"], "input")
    refused(biodsnn, ["data", "export", "--format", "cell-eval", "--data", "data.h5ad", "--split", "split.json",
                      "-o", "data.h5ad", "--overwrite"], "input")
    refused(kg_build, ["mask", "--data", "data.h5ad", "--split", "split.json", "-o", "split.json"], "input")
    refused(reactomenet, ["mask", "--genes", "genes.txt", "-o", "genes.txt"], "input")
