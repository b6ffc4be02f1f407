"""Report files: complete, readable, and never partial."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from biodsnn.baselines import get_baseline
from biodsnn.evaluate import _report as report_module
from biodsnn.evaluate import evaluate, print_summary, write_report
from reactomenet.errors import InputError
from reactomenet.io import read_parquet_metadata

from .conftest import Oracle, make_fake


@pytest.fixture(scope="module")
def result():
    data, split, de = make_fake(seed=5)
    models = [get_baseline(n)(data, split).fit() for n in ("control", "mean", "additive", "linear")]
    return evaluate([*models, Oracle(data)], data, split, de, n_boot=50)


def test_report_folder_has_every_file(result, tmp_path):
    paths = write_report(result, tmp_path / "report", metadata={"run": "fake"})
    names = sorted(p.name for p in (tmp_path / "report").iterdir())
    assert {"metrics.parquet", "summary.json", "report.md", "within5.png", "gi_magnitude.png"} <= set(names)
    assert sum(n.startswith("de_") for n in names) == 4
    frame = pd.read_parquet(paths.metrics)
    assert list(frame.columns) == ["model", "condition", "subgroup", "reference", "metric", "value"]
    assert not frame.duplicated(["model", "condition", "reference", "metric"]).any()
    assert read_parquet_metadata(paths.metrics)["run"] == "fake"
    summary = json.loads(paths.summary.read_text())  # strict JSON: NaN became null
    assert summary["models"] == ["control", "mean", "additive", "linear", "oracle"]
    assert {r["subgroup"] for r in summary["scores"]} >= {"combo_seen0", "combo_seen2", "unseen_single", "overall"}
    md = paths.markdown.read_text()
    side_by_side = md.split("## Side by side")[1].split("\n\n")[2]
    for name in ("control", "mean", "additive", "linear", "oracle"):
        assert f"| {name} |" in side_by_side  # the report opens with every model side by side
    assert "| model | combo_seen0 | combo_seen1 | combo_seen2 | unseen_single | overall |" in md
    assert "## Against the additive baseline" in md and "noise-free" in md
    for p in paths.plots:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_failed_report_leaves_nothing_and_keeps_the_old_one(result, tmp_path, monkeypatch):
    out = tmp_path / "report"
    write_report(result, out, plots=False)
    before = (out / "report.md").read_text()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report_module, "render_markdown", boom)
    with pytest.raises(RuntimeError):
        write_report(result, out, plots=False)
    assert (out / "report.md").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # no temporary leftovers
    fresh = tmp_path / "fresh"
    with pytest.raises(RuntimeError):
        write_report(result, fresh, plots=False)
    assert not fresh.exists()


def test_unknown_combo_is_refused(result, tmp_path):
    with pytest.raises(InputError, match="not evaluated"):
        write_report(result, tmp_path / "r", combos=["NOPE+X"])


def test_rich_summary_prints(result):
    from rich.console import Console

    console = Console(record=True, width=200)
    print_summary(result, console=console)
    text = console.export_text()
    assert "mse_de20" in text and "additive" in text and "combo_seen2" in text


def test_rich_summary_fits_80_columns_with_a_long_run_name(result):
    """A run name with overrides stays whole on one line and the table fits an 80-column terminal."""
    import dataclasses

    from rich.console import Console

    renamed = next(m for m in result.models if m not in ("control", "mean", "additive", "linear"))
    long_name = "BioDSNN-full(epochs=10)"
    renamed_result = dataclasses.replace(
        result, models=tuple(long_name if m == renamed else m for m in result.models),
        summary=result.summary.assign(model=result.summary["model"].replace(renamed, long_name)))
    console = Console(record=True, width=80)
    print_summary(renamed_result, console=console)
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any(long_name in line for line in lines)
