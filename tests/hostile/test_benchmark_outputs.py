"""``benchmarks/accuracy_real.py`` replaces only the files it wrote: a foreign ``--out`` or ``--raw`` file (a
hand-written doc, another table) or a folder is refused in one line, exit status 2, before any fitting."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from reactomenet.io import write_parquet

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("accuracy_real", ROOT / "benchmarks" / "accuracy_real.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _refused(bench, capsys, argv) -> str:
    with pytest.raises(SystemExit) as exc:
        bench.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_a_foreign_out_or_raw_file_or_a_folder_is_refused_before_any_work(bench, capsys, tmp_path):
    doc = tmp_path / "accuracy-real.md"
    doc.write_text("# Accuracy on real data\n\nhand-written prose\n")
    err = _refused(bench, capsys, ["--files", "norman", "--seeds", "0", "--out", str(doc)])
    assert err == f"error: {doc} exists and was not written by accuracy_real.py; give a new file for --out"
    assert doc.read_text() == "# Accuracy on real data\n\nhand-written prose\n"
    table = tmp_path / "other.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(table)
    assert _refused(bench, capsys, ["--raw", str(table)]).endswith("give a new file for --raw")
    (tmp_path / "not.parquet").write_text("text")
    assert _refused(bench, capsys, ["--raw", str(tmp_path / "not.parquet")]).endswith("give a new file for --raw")
    assert _refused(bench, capsys, ["--out", str(tmp_path)]) == f"error: --out {tmp_path} is a folder; give a file path"


def test_its_own_earlier_files_and_new_paths_pass_the_check(bench, tmp_path):
    own = tmp_path / "tables.md"
    own.write_text(bench.OUT_MARK + " --files norman` (…)\n\n| table |\n")
    raw = write_parquet(pd.DataFrame({"value": [0.1]}), tmp_path / "raw.parquet", {"kind": bench.RAW_KIND})
    bench.check_outputs(own, raw)
    bench.check_outputs(tmp_path / "new.md", tmp_path / "new.parquet")
    bench.check_outputs(None, None)
