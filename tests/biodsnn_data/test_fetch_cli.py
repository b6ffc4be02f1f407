from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from biodsnn.data import fetch_dataset, load_perturb_data, simulate
from cli.biodsnn import main
from reactomenet.errors import InputError
from reactomenet.io import sha256_file


@pytest.fixture(scope="module")
def fake_archive(tmp_path_factory) -> Path:
    """A zip shaped like GEARS' Dataverse archive: norman/perturb_processed.h5ad."""
    root = tmp_path_factory.mktemp("fake")
    h5ad = root / "perturb_processed.h5ad"
    simulate(preset="tiny", seed=0, progress=False).write_h5ad(h5ad)
    archive = root / "norman.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(h5ad, "norman/perturb_processed.h5ad")
        zf.writestr("norman/go.csv", "source,target\n")
    return archive


def _copying(archive: Path, calls: list[str]):
    def download(url: str, dest: Path) -> None:
        calls.append(url)
        dest.write_bytes(archive.read_bytes())

    return download


def test_fetch_unpacks_records_hash_and_loads(tmp_path, fake_archive) -> None:
    calls: list[str] = []
    path = fetch_dataset("norman", tmp_path, downloader=_copying(fake_archive, calls))
    assert calls == ["https://dataverse.harvard.edu/api/access/datafile/6154020"]
    assert path == tmp_path / "norman" / "perturb_processed.h5ad"
    record = json.loads((tmp_path / "norman.sha256.json").read_text())
    assert record["sha256"] == sha256_file(fake_archive)
    assert load_perturb_data(path).conditions
    # second run: no download, same file
    assert fetch_dataset("norman", tmp_path, downloader=_copying(fake_archive, calls)) == path
    assert len(calls) == 1
    # a changed archive no longer matches the recorded hash
    (tmp_path / "norman.zip").write_bytes(fake_archive.read_bytes() + b"\0")
    with pytest.raises(InputError, match="sha256"):
        fetch_dataset("norman", tmp_path)


def test_pinned_hash_and_hand_placed_archive(tmp_path, fake_archive) -> None:
    (tmp_path / "norman.zip").write_bytes(fake_archive.read_bytes())
    with pytest.raises(InputError, match="expected 000000"):
        fetch_dataset("norman", tmp_path, sha256="0" * 64)
    path = fetch_dataset("norman", tmp_path, sha256=sha256_file(fake_archive), downloader=lambda u, p: pytest.fail())
    assert path.exists()


def test_html_error_page_is_refused_and_not_kept(tmp_path) -> None:
    def html(url: str, dest: Path) -> None:
        dest.write_text("<!DOCTYPE html><html><body>Service unavailable</body></html>")

    with pytest.raises(InputError, match="HTML/error page"):
        fetch_dataset("adamson", tmp_path, downloader=html)
    assert not (tmp_path / "adamson.zip").exists()
    assert not list(tmp_path.glob(".adamson*"))


def test_offline_message_says_where_to_put_the_file(tmp_path) -> None:
    def offline(url: str, dest: Path) -> None:
        raise OSError("Name or service not known")

    with pytest.raises(InputError, match=r"download it by hand .* save it as .*dixit\.zip"):
        fetch_dataset("dixit", tmp_path, downloader=offline)
    with pytest.raises(InputError, match="did you mean norman"):
        fetch_dataset("normann", tmp_path)


def test_unsafe_archive_refused(tmp_path) -> None:
    with zipfile.ZipFile(tmp_path / "norman.zip", "w") as zf:
        zf.writestr("../evil.h5ad", "x")
    with pytest.raises(InputError, match="unsafe"):
        fetch_dataset("norman", tmp_path)


def test_cli_simulate_info_split_de(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BIODSNN_NO_PROGRESS", "1")
    runner = CliRunner()
    data = tmp_path / "sim.h5ad"
    r = runner.invoke(main, ["simulate", "--preset", "tiny", "--seed", "1", "-o", str(data)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["data", "info", "--data", str(data), "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["control_cells"] > 0
    r = runner.invoke(
        main,
        [
            "data",
            "split",
            "--data",
            str(data),
            "--kind",
            "simulation",
            "--seed",
            "1",
            "-o",
            str(tmp_path / "run" / "split.json"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "run" / "split.json").read_text())["kind"] == "simulation"
    r = runner.invoke(main, ["data", "de", "--data", str(data), "-o", str(tmp_path / "de.parquet")])
    assert r.exit_code == 0, r.output
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({"X1+ctrl": "train"}))
    r = runner.invoke(
        main,
        [
            "data",
            "split",
            "--data",
            str(data),
            "--kind",
            "custom",
            "--mapping",
            str(mapping),
            "-o",
            str(tmp_path / "c.json"),
        ],
    )
    assert r.exit_code == 2 and "error: custom split names condition(s) not in the data" in r.output
    assert not (tmp_path / "c.json").exists()


def test_cli_errors_are_one_line(tmp_path, monkeypatch) -> None:
    import biodsnn.data._fetch as fetch_module

    def offline(url: str, dest: Path) -> None:
        raise OSError("Name or service not known")

    monkeypatch.setattr(fetch_module, "_urllib_download", offline)  # never touch the network in tests
    runner = CliRunner()
    r = runner.invoke(main, ["data", "info", "--data", str(tmp_path / "none.h5ad")])
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "biodsnn simulate" in r.output
    r = runner.invoke(main, ["data", "fetch", "norman", "--dest", str(tmp_path)])
    assert r.exit_code == 2 and r.output.startswith("error: cannot download norman") and r.output.count("\n") == 1
    assert str(tmp_path / "norman.zip") in r.output
