"""Atomic file output and Parquet with provenance metadata.

One place for the rule "never leave a partial output file": everything is written to a
temporary name in the destination folder and renamed into place only when complete.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reactomenet.errors import InputError

if TYPE_CHECKING:  # pandas and pyarrow load with the first Parquet file, not with every command that writes a file
    import pandas as pd

METADATA_KEY = b"biodsnn"


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
        >>> with atomic_output(out) as tmp:
        ...     _ = tmp.write_text("done")
        >>> out.read_text()
        'done'
    """
    target = Path(path)
    if target.is_dir() or str(path).endswith(("/", os.sep)):
        raise InputError(f"output {path} is a folder; give a file path inside it, e.g. {target / 'out'}{suffix}")
    parent = target.parent if str(target.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + ".tmp", dir=parent)
        os.close(fd)
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror or exc}; choose a writable output path") from exc
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; it replaces ``path`` only if the block succeeds.

    An existing ``path`` is kept until the new folder is complete, then swapped out.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "bundle"
        >>> with atomic_directory(out) as tmp:
        ...     _ = (tmp / "a.txt").write_text("1")
        >>> sorted(p.name for p in out.iterdir())
        ['a.txt']
    """
    import shutil

    target = Path(path).resolve()  # "." has no name to build the temporary folder's name from
    if target.exists() and not target.is_dir():
        raise InputError(f"output {target} exists and is not a folder; choose another path")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror or exc}; choose a writable output path") from exc
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


#: Names of our own temporary files (atomic_output) left by a killed process: never counted as someone else's.
_TEMP_PATTERNS = (".*.tmp",)


def _input_files(inputs: Iterable[str | os.PathLike[str] | None]) -> dict[Path, str]:
    """Resolved path → name as given, for every input file (the files directly in an input folder count too)."""
    out: dict[Path, str] = {}
    for item in inputs:
        if item is None:
            continue
        p = Path(item).resolve()
        out[p] = str(item)
        if p.is_dir():
            out.update({c.resolve(): str(Path(item) / c.name) for c in p.iterdir()})
    return out


def check_output_folder(
    path: str | os.PathLike[str],
    *,
    own: Sequence[str],
    inputs: Iterable[str | os.PathLike[str] | None] = (),
    overwrite: bool = False,
    what: str = "output folder",
) -> Path:
    """Refuse to write into ``path`` when that could lose a file the writer did not write; return it resolved.

    The one guard of every command that writes a folder: a new or empty folder, or one holding only the writer's
    own files (names matching ``own``, glob patterns), is fine. A folder holding other files, or holding one of
    ``inputs`` (input files or folders), is refused unless ``overwrite``; even then an input is never replaced by
    one of the writer's files.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (out / "thesis.docx").write_text("years of work")
        >>> check_output_folder(out, own=["*.parquet"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        reactomenet.errors.InputError: output folder ... holds other files (thesis.docx) that this command did not ...
        >>> check_output_folder(out, own=["*.parquet"], overwrite=True) == out.resolve()
        True
    """
    target = Path(path).resolve()
    if target.exists() and not target.is_dir():
        raise InputError(f"{what} {path} exists and is not a folder; choose a folder path")
    if not target.exists():
        return target
    patterns = (*own, *_TEMP_PATTERNS)
    names = sorted(p.name for p in target.iterdir())
    foreign = [n for n in names if not any(fnmatch.fnmatchcase(n, pat) for pat in patterns)]
    held = _input_files(inputs)
    for name in names:
        if name not in foreign and (target / name).resolve() in held:
            raise InputError(
                f"{what} {path} holds the input {held[(target / name).resolve()]}, which this command would "
                "replace; choose another folder"
            )
    inside = sorted(n for p, n in held.items() if p == target or target in p.parents)
    if overwrite:
        return target
    if inside:
        is_input = any(p == target for p in held)
        raise InputError(
            f"{what} {path} {'is an input folder' if is_input else f'holds the input {inside[0]}'}; choose another "
            "folder, or pass --overwrite to replace only this command's own files there"
        )
    if foreign:
        shown = ", ".join(foreign[:3]) + (" …" if len(foreign) > 3 else "")
        raise InputError(
            f"{what} {path} holds other files ({shown}) that this command did not write; choose a new or empty "
            "folder, or pass "
            "--overwrite to replace only this command's own files there"
        )
    return target


def check_output_file(path: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str] | None] = ()) -> Path:
    """Refuse an output file that is a folder or one of ``inputs`` (or a file inside an input folder): writing it
    would replace what the command reads. Returns the path.

    Example:
        >>> import tempfile, pathlib
        >>> data = pathlib.Path(tempfile.mkdtemp()) / "data.h5ad"
        >>> _ = data.write_text("cells")
        >>> check_output_file(data, [data])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        reactomenet.errors.InputError: output ...data.h5ad is the input ...data.h5ad; choose another output file name
    """
    target = Path(path)
    if target.is_dir() or str(path).endswith(("/", os.sep)):
        raise InputError(f"output {path} is a folder; give a file path inside it")
    held = _input_files(inputs)
    if target.resolve() in held:
        raise InputError(f"output {path} is the input {held[target.resolve()]}; choose another output file name")
    return target


@contextlib.contextmanager
def output_folder(
    path: str | os.PathLike[str],
    *,
    own: Sequence[str],
    inputs: Iterable[str | os.PathLike[str] | None] = (),
    overwrite: bool = False,
    what: str = "output folder",
) -> Iterator[Path]:
    """Yield a temporary folder whose files land in ``path`` only if the block succeeds (after
    :func:`check_output_folder`).

    A folder holding only the writer's own files is replaced as a whole (:func:`atomic_directory`). With
    ``overwrite``, a folder holding other files keeps them: the writer's earlier files there (``own``) are removed
    and the new ones moved in, each by an atomic rename.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (out / "notes.txt").write_text("mine")
        >>> with output_folder(out, own=["*.json"], overwrite=True) as tmp:
        ...     _ = (tmp / "a.json").write_text("{}")
        >>> sorted(p.name for p in out.iterdir())
        ['a.json', 'notes.txt']
    """
    import shutil

    target = check_output_folder(path, own=own, inputs=inputs, overwrite=overwrite, what=what)
    patterns = (*own, *_TEMP_PATTERNS)
    mine = lambda name: any(fnmatch.fnmatchcase(name, pat) for pat in patterns)  # noqa: E731
    if not target.exists() or all(mine(p.name) for p in target.iterdir()):
        with atomic_directory(target) as tmp:
            yield tmp
        return
    try:
        tmp = Path(tempfile.mkdtemp(prefix=".output.", suffix=".tmp", dir=target))
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror or exc}; choose a writable output folder") from exc
    try:
        yield tmp
        new = {p.name for p in tmp.iterdir()}
        for old in target.iterdir():
            if old.name not in new and old != tmp and mine(old.name) and not old.name.endswith(".tmp"):
                shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()
        for name in sorted(new):
            if (target / name).is_dir() and not (target / name).is_symlink():
                shutil.rmtree(target / name)
            os.replace(tmp / name, target / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def folder_lock(path: str | os.PathLike[str], *, name: str = ".lock", what: str = "folder") -> Iterator[Path]:
    """Hold an exclusive lock on the folder ``path`` (created if needed) for the block; refuse if another process
    holds it. The lock dies with the process (``fcntl.flock``), so a killed run never leaves a stale one.

    Example:
        >>> import tempfile, pathlib
        >>> run = pathlib.Path(tempfile.mkdtemp())
        >>> with folder_lock(run):
        ...     with folder_lock(run):  # doctest: +ELLIPSIS
        ...         pass
        Traceback (most recent call last):
        ...
        reactomenet.errors.InputError: folder ... is in use by another process (pid ...); wait for it to finish ...
    """
    folder = Path(path)
    try:
        import fcntl
    except ImportError:  # no flock (Windows): no lock rather than no tool
        yield folder / name
        return
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / name
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise InputError(
                f"{what} {path} is in use by another process (pid {owner}); wait for it to finish or choose "
                "another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield lock
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock; the empty file stays (unlinking it would race a waiting process)


def write_parquet(frame: pd.DataFrame, path: str | os.PathLike[str], metadata: Mapping[str, Any]) -> Path:
    """Write ``frame`` atomically as Parquet, with ``metadata`` (JSON) in the schema under key ``biodsnn``.

    Example:
        >>> import tempfile, pathlib, pandas as pd
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.parquet"
        >>> _ = write_parquet(pd.DataFrame({"a": [1]}), p, {"species": "Homo sapiens"})
        >>> read_parquet_metadata(p)["species"]
        'Homo sapiens'
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    existing = table.schema.metadata or {}
    table = table.replace_schema_metadata({**existing, METADATA_KEY: json.dumps(dict(metadata), sort_keys=True)})
    target = Path(path)
    with atomic_output(target, suffix=".parquet") as tmp:
        pq.write_table(table, tmp)
    return target


def read_parquet_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the provenance metadata written by :func:`write_parquet` (empty dict if none).

    Example:
        >>> import tempfile, pathlib, pandas as pd
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.parquet"
        >>> _ = write_parquet(pd.DataFrame({"a": [1]}), p, {"level": 3})
        >>> read_parquet_metadata(p)
        {'level': 3}
    """
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    raw = (schema.metadata or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}


def write_json(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``obj`` as indented JSON, atomically.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.json"
        >>> _ = write_json({"a": 1}, p)
        >>> p.read_text().strip()[:1]
        '{'
    """
    target = Path(path)
    with atomic_output(target, suffix=".json") as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
    return target

def sha256_file(path: str | os.PathLike[str]) -> str:
    """sha256 (hex) of a file's bytes as stored, read in 1 MiB chunks.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x"; _ = p.write_bytes(b"abc")
        >>> sha256_file(p)[:12]
        'ba7816bf8f01'
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
