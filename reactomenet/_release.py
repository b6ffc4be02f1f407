"""Finding, reading and checking a Reactome release (the three files Reactome distributes).

A release is a folder holding ``ReactomePathways.txt`` (id TAB name TAB species),
``ReactomePathwaysRelation.txt`` (parent TAB child, no header) and ``ReactomePathways.gmt``
(name TAB id TAB gene symbols…), each plain or gzipped. The parsers are strict: a line with
the wrong number of fields, an id that is not a Reactome stable id, an empty gene set or a
truncated gzip stream raises :class:`~reactomenet.errors.ReleaseFormatError` naming the file
and the line, never another exception.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import zlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from reactomenet.errors import NotFoundError, ReleaseFormatError

#: The environment variable that points at a release folder (overrides the bundled copy).
RELEASE_ENV = "REACTOMENET_RELEASE"

PATHWAYS_FILE = "ReactomePathways.txt"
RELATIONS_FILE = "ReactomePathwaysRelation.txt"
GMT_FILE = "ReactomePathways.gmt"
RELEASE_FILES = (PATHWAYS_FILE, RELATIONS_FILE, GMT_FILE)

_ID = re.compile(r"R-[A-Z]{2,4}-[0-9]+\Z")
_PREFIX = re.compile(r"R-[A-Z]{2,4}\Z")


@dataclass(frozen=True)
class Release:
    """Where a release came from and what its files hold (sha256 of the *decompressed* content).

    Attributes:
        dir: The folder the files were read from.
        species: The species id prefix, e.g. ``"R-HSA"``.
        species_name: The species as Reactome names it, e.g. ``"Homo sapiens"``.
        sha256: ``{file name without .gz: hex digest of its decompressed bytes}``.
        files: ``{file name without .gz: the path actually read (plain or .gz)}``.
        bundled: True for the copy shipped inside the package.

    Example:
        >>> from reactomenet import ReactomeGraph
        >>> ReactomeGraph.load().release.species_name
        'Homo sapiens'
    """

    dir: Path
    species: str
    species_name: str
    sha256: dict[str, str] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    bundled: bool = False

    def provenance(self) -> dict[str, object]:
        """The release facts that go into every export's metadata.

        Example:
            >>> from reactomenet import ReactomeGraph
            >>> sorted(ReactomeGraph.load().release.provenance())
            ['release_bundled', 'release_dir', 'release_sha256', 'species', 'species_name']
        """
        return {
            "release_dir": str(self.dir),
            "release_bundled": self.bundled,
            "release_sha256": dict(self.sha256),
            "species": self.species,
            "species_name": self.species_name,
        }


def bundled_release_dir() -> Path:
    """The folder of the Reactome release shipped with the package.

    Example:
        >>> bundled_release_dir().name
        'reactome'
    """
    return Path(str(resources.files("reactomenet") / "data" / "reactome"))


def resolve_release_dir(release: str | os.PathLike[str] | None = None) -> tuple[Path, bool]:
    """Pick the release folder: ``release`` if given, else ``$REACTOMENET_RELEASE``, else the bundled copy.

    Returns:
        The folder and whether it is the bundled copy.

    Example:
        >>> resolve_release_dir(None)[1] in (True, False)
        True
    """
    if release is None or str(release) == "":
        env = os.environ.get(RELEASE_ENV, "").strip()
        if not env:
            return bundled_release_dir(), True
        release = env
    path = Path(release).expanduser()
    if not path.is_dir():
        raise NotFoundError(
            f"Reactome release folder {path} does not exist; give a folder holding {', '.join(RELEASE_FILES)} "
            f"(plain or .gz) with --release or ${RELEASE_ENV}"
        )
    return path, path.resolve() == bundled_release_dir().resolve()


def find_release_file(folder: Path, name: str) -> Path:
    """Return ``folder/name`` or ``folder/name.gz``, whichever exists (plain wins).

    Example:
        >>> find_release_file(bundled_release_dir(), GMT_FILE).name
        'ReactomePathways.gmt.gz'
    """
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise NotFoundError(f"{name} (or {name}.gz) is missing from release folder {folder}; download it from reactome.org")


def read_release_bytes(path: Path) -> bytes:
    """Read a release file, decompressing ``.gz``; a truncated or corrupt gzip is a ReleaseFormatError.

    Example:
        >>> len(read_release_bytes(find_release_file(bundled_release_dir(), GMT_FILE))) > 0
        True
    """
    raw = path.read_bytes()
    if path.suffix != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise ReleaseFormatError(f"{path.name}: corrupt or truncated gzip ({exc}); download the file again") from exc


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of ``data``.

    Example:
        >>> sha256_hex(b"")[:8]
        'e3b0c442'
    """
    return hashlib.sha256(data).hexdigest()


def normalize_species(species: str) -> str:
    """Turn ``"R-HSA"``, ``"r-hsa-"`` or ``"HSA"`` into the id prefix ``"R-HSA"``.

    Example:
        >>> normalize_species("hsa")
        'R-HSA'
    """
    text = str(species).strip().upper().rstrip("-")
    if not text.startswith("R-"):
        text = f"R-{text}"
    if not _PREFIX.match(text):
        raise NotFoundError(f"species {species!r} is not a Reactome id prefix; use e.g. R-HSA (human) or R-MMU (mouse)")
    return text


def _lines(data: bytes, name: str) -> list[str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ReleaseFormatError(f"{name} line {line}: not UTF-8 text; is this a Reactome release file?") from exc
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise ReleaseFormatError(f"{name} line {line}: contains a NUL byte; the file is corrupt")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def _check_id(value: str, name: str, lineno: int) -> str:
    if not _ID.match(value):
        raise ReleaseFormatError(
            f"{name} line {lineno}: {value[:40]!r} is not a Reactome stable id (R-XXX-123); the file is malformed"
        )
    return value


def parse_pathways(data: bytes, name: str = PATHWAYS_FILE) -> list[tuple[str, str, str]]:
    """Parse ``ReactomePathways.txt``: one ``(id, name, species)`` per line, ids unique.

    Example:
        >>> parse_pathways(b"R-HSA-1\\tApoptosis\\tHomo sapiens\\n")
        [('R-HSA-1', 'Apoptosis', 'Homo sapiens')]
    """
    rows: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for lineno, line in enumerate(_lines(data, name), start=1):
        if not line.strip():
            raise ReleaseFormatError(f"{name} line {lineno}: blank line; the file is malformed")
        fields = line.split("\t")
        if len(fields) != 3:
            raise ReleaseFormatError(
                f"{name} line {lineno}: expected 3 tab-separated fields (id, name, species), found {len(fields)}; "
                "the file is malformed or truncated"
            )
        pid = _check_id(fields[0], name, lineno)
        if not fields[1].strip() or not fields[2].strip():
            raise ReleaseFormatError(f"{name} line {lineno}: empty pathway name or species")
        if pid in seen:
            raise ReleaseFormatError(f"{name} line {lineno}: pathway {pid} is listed twice")
        seen.add(pid)
        rows.append((pid, fields[1], fields[2]))
    if not rows:
        raise ReleaseFormatError(f"{name} is empty; the release is incomplete")
    return rows


def parse_relations(data: bytes, name: str = RELATIONS_FILE) -> list[tuple[str, str]]:
    """Parse ``ReactomePathwaysRelation.txt``: one ``(parent, child)`` per line, no header.

    Example:
        >>> parse_relations(b"R-HSA-1\\tR-HSA-2\\n")
        [('R-HSA-1', 'R-HSA-2')]
    """
    rows: list[tuple[str, str]] = []
    for lineno, line in enumerate(_lines(data, name), start=1):
        fields = line.split("\t")
        if len(fields) != 2:
            raise ReleaseFormatError(
                f"{name} line {lineno}: expected 2 tab-separated fields (parent, child), found {len(fields)}; "
                "the file is malformed or truncated"
            )
        parent, child = _check_id(fields[0], name, lineno), _check_id(fields[1], name, lineno)
        if parent == child:
            raise ReleaseFormatError(f"{name} line {lineno}: pathway {parent} is its own parent")
        rows.append((parent, child))
    return rows


def parse_gmt(data: bytes, name: str = GMT_FILE) -> list[tuple[str, str, tuple[str, ...]]]:
    """Parse ``ReactomePathways.gmt``: one ``(name, id, genes)`` per line (genes in file order, unique).

    Example:
        >>> parse_gmt(b"Apoptosis\\tR-HSA-1\\tTP53\\tBAX\\n")
        [('Apoptosis', 'R-HSA-1', ('TP53', 'BAX'))]
    """
    rows: list[tuple[str, str, tuple[str, ...]]] = []
    seen: set[str] = set()
    for lineno, line in enumerate(_lines(data, name), start=1):
        fields = line.split("\t")
        if len(fields) < 3:
            raise ReleaseFormatError(
                f"{name} line {lineno}: expected name, id and at least one gene (tab-separated), found "
                f"{len(fields)} field(s); the file is malformed or truncated"
            )
        pid = _check_id(fields[1], name, lineno)
        if pid in seen:
            raise ReleaseFormatError(f"{name} line {lineno}: pathway {pid} has two gene sets")
        seen.add(pid)
        genes = fields[2:]
        for gene in genes:
            if not gene or gene != gene.strip():
                raise ReleaseFormatError(f"{name} line {lineno}: empty or padded gene symbol {gene!r} in {pid}")
        if len(set(genes)) != len(genes):
            raise ReleaseFormatError(f"{name} line {lineno}: a gene is listed twice in the set of {pid}")
        rows.append((fields[0], pid, tuple(genes)))
    return rows
