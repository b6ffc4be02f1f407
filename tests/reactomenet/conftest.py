"""Fixtures for the reactomenet tests: the bundled graph, an independent reading of the raw files, tiny releases."""

from __future__ import annotations

import gzip
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import pytest

from reactomenet import ReactomeGraph

REPO = Path(__file__).resolve().parents[2]
SHARED_RAW = REPO.parent / "shared" / "data" / "reactome"  # the raw release beside the checkout, when present
BUNDLED = REPO / "reactomenet" / "data" / "reactome"
NAMES = ("ReactomePathways.txt", "ReactomePathwaysRelation.txt", "ReactomePathways.gmt")


@dataclass
class Raw:
    """The release read independently of reactomenet: plain Python, sets and a breadth-first search."""

    names: dict[str, str]
    parents: dict[str, set[str]]
    children: dict[str, set[str]]
    sets: dict[str, set[str]]
    levels: dict[str, int]
    files: dict[str, bytes]

    def memberships(self) -> dict[str, set[str]]:
        if hasattr(self, "_members"):
            return self._members
        out: dict[str, set[str]] = {}
        for pid, genes in self.sets.items():
            for g in genes:
                out.setdefault(g, set()).add(pid)
        self._members = out
        return out


def raw_bytes() -> dict[str, bytes]:
    """The three files: from ../shared/data/reactome when present, else the bundled .gz copies."""
    if all((SHARED_RAW / n).is_file() for n in NAMES):
        return {n: (SHARED_RAW / n).read_bytes() for n in NAMES}
    return {n: gzip.decompress((BUNDLED / f"{n}.gz").read_bytes()) for n in NAMES}


def read_raw(prefix: str = "R-HSA-") -> Raw:
    files = raw_bytes()
    names = {}
    for line in files[NAMES[0]].decode().splitlines():
        pid, name, _ = line.split("\t")
        if pid.startswith(prefix):
            names[pid] = name
    parents: dict[str, set[str]] = {p: set() for p in names}
    children: dict[str, set[str]] = {p: set() for p in names}
    for line in files[NAMES[1]].decode().splitlines():
        parent, child = line.split("\t")
        if parent.startswith(prefix):
            parents[child].add(parent)
            children[parent].add(child)
    sets = {}
    for line in files[NAMES[2]].decode().splitlines():
        fields = line.split("\t")
        if fields[1].startswith(prefix):
            sets[fields[1]] = set(fields[2:])
    # Independent levels: BFS from every pathway without a parent.
    levels = {p: 1 for p in names if not parents[p]}
    queue = deque(sorted(levels))
    while queue:
        p = queue.popleft()
        for c in sorted(children[p]):
            if c not in levels:
                levels[c] = levels[p] + 1
                queue.append(c)
    return Raw(names, parents, children, sets, levels, files)


@pytest.fixture(scope="session")
def graph() -> ReactomeGraph:
    return ReactomeGraph.load()


@pytest.fixture(scope="session")
def raw() -> Raw:
    return read_raw()


def write_release(
    folder: Path,
    pathways: list[tuple[str, str]],
    relations: list[tuple[str, str]],
    gmt: dict[str, list[str]],
    *,
    species: str = "Homo sapiens",
    gz: bool = False,
) -> Path:
    """Write a tiny release (plain or gzipped) and return its folder."""
    folder.mkdir(parents=True, exist_ok=True)
    names = dict(pathways)
    texts = {
        NAMES[0]: "".join(f"{pid}\t{name}\t{species}\n" for pid, name in pathways),
        NAMES[1]: "".join(f"{p}\t{c}\n" for p, c in relations),
        NAMES[2]: "".join(f"{names[pid]}\t{pid}\t" + "\t".join(genes) + "\n" for pid, genes in gmt.items()),
    }
    for name, text in texts.items():
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(text.encode()))
        else:
            (folder / name).write_text(text)
    return folder


# A tiny human release used by several tests:
#   R1 (L1) -> X (L2) -> Y (L3) -> M ; R2 (L1) -> M   => M has two parents (levels 3 and 1) and is level 2.
#   R1 -> S (L2, a leaf)                                => genes only in S are padded at level 3.
TINY_PATHWAYS = [
    ("R-HSA-1", "Root one"),
    ("R-HSA-2", "Root two"),
    ("R-HSA-10", "Middle X"),
    ("R-HSA-11", "Deep Y"),
    ("R-HSA-12", "Multi parent M"),
    ("R-HSA-13", "Shallow leaf S"),
]
TINY_RELATIONS = [
    ("R-HSA-1", "R-HSA-10"),
    ("R-HSA-10", "R-HSA-11"),
    ("R-HSA-11", "R-HSA-12"),
    ("R-HSA-2", "R-HSA-12"),
    ("R-HSA-1", "R-HSA-13"),
]
# Inclusive sets, as Reactome distributes them.
TINY_GMT = {
    "R-HSA-1": ["A", "B", "C", "P", "Q", "D"],
    "R-HSA-2": ["C", "E"],
    "R-HSA-10": ["A", "B", "C", "D"],
    "R-HSA-11": ["A", "B", "C"],
    "R-HSA-12": ["C"],
    "R-HSA-13": ["P", "Q", "B"],
}


@pytest.fixture(scope="session")
def mouse_raw() -> Raw:
    return read_raw("R-MMU-")


@pytest.fixture
def make_release():
    """The :func:`write_release` helper (importlib mode cannot import conftest directly)."""
    return write_release


@pytest.fixture
def tiny_parts() -> tuple[list, list, dict]:
    return list(TINY_PATHWAYS), list(TINY_RELATIONS), dict(TINY_GMT)


@pytest.fixture
def tiny(tmp_path: Path) -> ReactomeGraph:
    return ReactomeGraph.load(write_release(tmp_path / "tiny", TINY_PATHWAYS, TINY_RELATIONS, TINY_GMT), cache=False)
