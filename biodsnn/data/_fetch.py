"""Download GEARS' published Perturb-seq files from Harvard Dataverse, check them, unpack them and load them.

No checksum is published for these files, so the sha256 of what arrived is recorded next to it
(``<name>.sha256.json``) and checked on later runs; pass ``sha256=`` to pin a known value.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from reactomenet.errors import InputError, NotFoundError, did_you_mean
from reactomenet.io import atomic_output, sha256_file, write_json

DATAVERSE_URL = "https://dataverse.harvard.edu/api/access/datafile/{id}"
#: GEARS' Harvard Dataverse file ids (see GEARS' pertdata.py).
DATASETS: dict[str, int] = {
    "norman": 6154020,
    "adamson": 6154417,
    "dixit": 6154416,
    "replogle_k562_essential": 7458695,
    "replogle_rpe1_essential": 7458694,
}
#: Known sha256 of each archive: none is published, so None (the first download's hash is recorded instead).
KNOWN_SHA256: dict[str, str | None] = dict.fromkeys(DATASETS)

Downloader = Callable[[str, Path], None]


def _urllib_download(url: str, dest: Path) -> None:
    import urllib.request

    from reactomenet.console import progress_bar

    request = urllib.request.Request(url, headers={"User-Agent": "biodsnn"})
    with urllib.request.urlopen(request, timeout=60) as response, dest.open("wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with progress_bar(transient=True) as bar:
            task = bar.add_task("downloading", total=total, info=url.rsplit("/", 1)[-1])
            while chunk := response.read(1 << 20):
                out.write(chunk)
                bar.advance(task, len(chunk))




def _archive_kind(path: Path) -> str:
    head = path.read_bytes()[:512] if path.stat().st_size < 512 else path.open("rb").read(512)
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head[:2] == b"\x1f\x8b" or tarfile.is_tarfile(path):
        return "tar"
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype", b"<html", b"<?xml", b"{")):
        return "html"
    return "unknown"


def _safe_extract(archive: Path, kind: str, dest: Path) -> None:
    dest_resolved = dest.resolve()
    if kind == "zip":
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                if not (dest / member).resolve().is_relative_to(dest_resolved):
                    raise InputError(f"{archive} holds an unsafe path {member!r}; refusing to unpack it")
            zf.extractall(dest)
    else:
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                if not (dest / member.name).resolve().is_relative_to(dest_resolved) or member.issym() or member.islnk():
                    raise InputError(f"{archive} holds an unsafe entry {member.name!r}; refusing to unpack it")
            tf.extractall(dest)  # members checked above


def fetch_dataset(
    name: str,
    dest: str | os.PathLike[str],
    *,
    sha256: str | None = None,
    downloader: Downloader | None = None,
) -> Path:
    """Download (unless already there), check and unpack one of GEARS' datasets; return its ``.h5ad`` path.

    The archive is saved as ``DEST/<name>.zip`` (an archive you downloaded by hand and put there is used as is),
    checked to be a zip/tar and not an HTML error page (GEARS issue #101), hashed (sha256 recorded in
    ``DEST/<name>.sha256.json`` and compared on later runs, or against ``sha256``), and unpacked into ``DEST``.

    Args:
        name: ``norman``, ``adamson``, ``dixit``, ``replogle_k562_essential`` or ``replogle_rpe1_essential``.
        dest: Folder to download into.
        sha256: Expected sha256 of the archive (none is published; pin one you trust).
        downloader: ``f(url, path)`` writing the file (tests pass a fake; default urllib with a progress bar).

    Returns:
        Path of the unpacked ``perturb_processed.h5ad`` (or the first ``.h5ad`` in the archive).

    Example:
        >>> import tempfile
        >>> def offline(url, path):
        ...     raise OSError("network unreachable")
        >>> fetch_dataset("norman", tempfile.mkdtemp(), downloader=offline)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        reactomenet.errors.InputError: cannot download norman from https://...6154020 (network unreachable); ...
    """
    if name not in DATASETS:
        hint = did_you_mean(name, DATASETS, n=1)
        raise NotFoundError(f"unknown dataset {name!r}{hint}; choose one of {', '.join(DATASETS)}")
    folder = Path(dest)
    url = DATAVERSE_URL.format(id=DATASETS[name])
    archive = folder / f"{name}.zip"
    record = folder / f"{name}.sha256.json"
    if not archive.exists():
        try:
            with atomic_output(archive) as tmp:
                (downloader or _urllib_download)(url, tmp)
                if _archive_kind(tmp) not in ("zip", "tar"):
                    raise InputError(
                        f"{url} returned an HTML/error page instead of the {name} archive (Dataverse may be down or "
                        f"rate-limiting); download it by hand from that address and save it as {archive}"
                    )
        except InputError:
            raise
        except OSError as exc:
            reason = getattr(exc, "reason", None) or exc.strerror or exc
            raise InputError(
                f"cannot download {name} from {url} ({reason}); download it by hand from that address and save it "
                f"as {archive}, then run the command again"
            ) from exc
    kind = _archive_kind(archive)
    if kind not in ("zip", "tar"):
        raise InputError(
            f"{archive} is not a zip/tar archive (an HTML error page?); delete it and download {url} again"
        )
    digest = sha256_file(archive)
    expected = sha256 or KNOWN_SHA256.get(name)
    recorded = None
    if expected is None and record.exists():
        try:
            recorded = json.loads(record.read_text()).get("sha256")
        except (ValueError, AttributeError):
            recorded = None  # an unreadable record checks nothing; it is rewritten after verification below
        expected = recorded
    if expected is not None and digest != str(expected).lower():
        source = f"recorded in {record} at an earlier verified download" if recorded else "given"
        raise InputError(
            f"{archive} has sha256 {digest[:12]}…, expected {str(expected)[:12]}… ({source}); delete {archive} and "
            "download again"
        )
    unpacked = folder / name
    h5ads = sorted(unpacked.rglob("*.h5ad")) if unpacked.exists() else []
    fresh = not h5ads
    if not h5ads:
        staging = folder / f".{name}.unpack"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            _safe_extract(archive, kind, staging)
            inner = staging / name if (staging / name).is_dir() else staging
            if unpacked.exists():
                shutil.rmtree(unpacked)
            os.replace(inner, unpacked)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        h5ads = sorted(unpacked.rglob("*.h5ad"))
    if not h5ads:
        shutil.rmtree(unpacked, ignore_errors=True)  # unpacked by this call (fresh): a retry unpacks the next one
        raise InputError(f"{archive} holds no .h5ad file; is it GEARS' {name} archive? delete {archive} and download "
                         "again")
    preferred = [p for p in h5ads if p.name == "perturb_processed.h5ad"]
    found = (preferred or h5ads)[0]
    try:
        _check_h5ad(found, archive)
    except InputError:
        if fresh:  # what this call unpacked from a wrong archive goes, so a retry unpacks the next one
            shutil.rmtree(unpacked, ignore_errors=True)
        raise
    if recorded is None and (sha256 is None or not record.exists()):
        # only now, after the archive unpacked into a readable .h5ad: a wrong archive is never recorded as right
        write_json(
            {
                "dataset": name,
                "url": url,
                "sha256": digest,
                "note": "recorded at the first verified download; no checksum is published",
            },
            record,
        )
    return found


def _check_h5ad(path: Path, archive: Path) -> None:
    """Refuse an unpacked file that is not an HDF5 AnnData (checked by its signature and top-level groups)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            ok = "X" in f and "obs" in f and "var" in f
    except OSError:
        ok = False
    if not ok:
        raise InputError(f"{path} (from {archive}) is not a readable .h5ad AnnData file; delete {archive} and "
                         f"{path.parent} and download again")
