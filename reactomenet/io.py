"""Atomic file output and Parquet with provenance metadata.

One place for the rule "never leave a partial output file": everything is written to a
temporary name in the destination folder and renamed into place only when complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from reactomenet.errors import InputError

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

    target = Path(path)
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


def write_parquet(frame: pd.DataFrame, path: str | os.PathLike[str], metadata: Mapping[str, Any]) -> Path:
    """Write ``frame`` atomically as Parquet, with ``metadata`` (JSON) in the schema under key ``biodsnn``.

    Example:
        >>> import tempfile, pathlib, pandas as pd
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.parquet"
        >>> _ = write_parquet(pd.DataFrame({"a": [1]}), p, {"species": "Homo sapiens"})
        >>> read_parquet_metadata(p)["species"]
        'Homo sapiens'
    """
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
