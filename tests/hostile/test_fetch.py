"""Case 7: `biodsnn data fetch` records an archive's hash only after it unpacked into a readable .h5ad (issue 16)."""

from __future__ import annotations

import json
import zipfile

import biodsnn.data._fetch as fetch_mod
from cli.biodsnn import main as biodsnn
from reactomenet.io import sha256_file

from .conftest import assert_user_error, invoke


def _zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    return path


def test_a_wrong_archive_is_not_recorded_and_the_right_one_then_works(sandbox, tmp_path, monkeypatch) -> None:
    wrong = _zip(tmp_path / "wrong.zip", {"norman/readme.txt": b"not the data"})
    fake_h5ad = _zip(tmp_path / "fake.zip", {"norman/perturb_processed.h5ad": b"<html>not hdf5</html>"})
    right = _zip(tmp_path / "right.zip", {"norman/perturb_processed.h5ad": (sandbox.root / "data.h5ad").read_bytes()})
    served = {"archive": wrong}
    monkeypatch.setattr(fetch_mod, "_urllib_download",
                        lambda url, dest: dest.write_bytes(served["archive"].read_bytes()))
    dest = tmp_path / "dl"
    for bad in (wrong, fake_h5ad):
        served["archive"] = bad
        assert_user_error(invoke(biodsnn, ["data", "fetch", "norman", "--dest", dest]), "norman.zip", "delete")
        assert not (dest / "norman.sha256.json").exists()  # nothing recorded from a wrong archive
        assert not (dest / "norman").exists()  # nor left unpacked
        (dest / "norman.zip").unlink()  # what the message says to do
    served["archive"] = right
    r = invoke(biodsnn, ["data", "fetch", "norman", "--dest", dest])
    assert r.exit_code == 0, r.stderr
    record = json.loads((dest / "norman.sha256.json").read_text())
    assert record["sha256"] == sha256_file(right)
