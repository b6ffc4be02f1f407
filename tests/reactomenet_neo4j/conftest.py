"""A real ArcadeDB Bolt server for the whole session, with the bundled human release loaded once.

The server runs on a free port with a temporary data folder and is stopped by its PID at the end. It serves two
databases: ``neo4j`` (the full human release, loaded once) and ``faults`` (wiped before each fault test, which
loads a tiny generated release there). Tests are skipped, with the reason, only when ArcadeDB (the
``arcadedb-embedded`` wheel with its Java runtime) is not installed.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reactomenet.neo4j.errors import ServerError
from reactomenet.neo4j.server import ServerInfo, arcadedb_paths, start_server, stop_server

MAIN_DB = "neo4j"
FAULTS_DB = "faults"
USER = "root"


@dataclass(frozen=True)
class Server:
    info: ServerInfo
    password: str

    @property
    def uri(self) -> str:
        return self.info.uri


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    try:
        java, _ = arcadedb_paths()
    except ServerError as exc:
        pytest.skip(f"no local Bolt server: {exc}")
    if not os.access(java, os.X_OK):
        pytest.skip(f"no local Bolt server: {java} is not executable")
    data_dir = tmp_path_factory.mktemp("arcadedb")
    password = secrets.token_urlsafe(16)
    info = start_server(data_dir, password=password, databases=(MAIN_DB, FAULTS_DB), heap="768m")
    try:
        yield Server(info, password)
    finally:
        stop_server(data_dir)


@pytest.fixture(scope="session")
def human(server: Server):
    """(NetworkX graph, Neo4j backend, load report) for the bundled human release, loaded once."""
    from reactomenet import ReactomeGraph
    from reactomenet.neo4j import Neo4jBackend, load_release

    graph = ReactomeGraph.load()
    report = load_release(graph, server.uri, USER, server.password, database=MAIN_DB, progress=False)
    backend = Neo4jBackend.connect(server.uri, USER, server.password, database=MAIN_DB)
    yield graph, backend, report
    backend.close()


@pytest.fixture()
def faults_db(server: Server):
    """An empty ``faults`` database (everything deleted) and a Connection to it."""
    from reactomenet.neo4j import Connection

    conn = Connection.open(server.uri, USER, server.password, FAULTS_DB)
    conn.write("MATCH (n) DETACH DELETE n")
    yield conn
    conn.close()


TINY_PATHWAYS = """R-HSA-1\tTop one\tHomo sapiens
R-HSA-2\tTop two\tHomo sapiens
R-HSA-11\tMiddle a\tHomo sapiens
R-HSA-12\tMiddle b\tHomo sapiens
R-HSA-21\tDeep shared\tHomo sapiens
R-HSA-22\tDeep only\tHomo sapiens
R-HSA-31\tDeeper\tHomo sapiens
R-MMU-1\tMouse top\tMus musculus
"""
TINY_RELATIONS = """R-HSA-1\tR-HSA-11
R-HSA-1\tR-HSA-12
R-HSA-2\tR-HSA-12
R-HSA-11\tR-HSA-21
R-HSA-12\tR-HSA-21
R-HSA-12\tR-HSA-22
R-HSA-21\tR-HSA-31
"""
TINY_GMT = """Top one\tR-HSA-1\tA\tB\tC\tD\tE\tF
Top two\tR-HSA-2\tD\tG
Middle a\tR-HSA-11\tA\tB\tC
Middle b\tR-HSA-12\tC\tD\tE
Deep shared\tR-HSA-21\tA\tC
Deep only\tR-HSA-22\tE
Deeper\tR-HSA-31\tA
Mouse top\tR-MMU-1\tMA
"""


def _write_release(folder: Path, *, extra_gene: str | None = None) -> Path:
    """A tiny release: two roots, a pathway with two parents, a padded gene (G), a mouse pathway."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ReactomePathways.txt").write_text(TINY_PATHWAYS)
    (folder / "ReactomePathwaysRelation.txt").write_text(TINY_RELATIONS)
    gmt = TINY_GMT if extra_gene is None else TINY_GMT.replace("\tD\tG\n", f"\tD\tG\t{extra_gene}\n")
    (folder / "ReactomePathways.gmt").write_text(gmt)
    return folder


@pytest.fixture()
def write_release():
    """``write_release(folder, extra_gene=None)`` writes the tiny release (one more gene in R-HSA-2 if asked)."""
    return _write_release


@pytest.fixture()
def tiny(tmp_path: Path):
    """The tiny release as a ReactomeGraph (human part: 7 pathways, 7 genes, 18 gene links)."""
    from reactomenet import ReactomeGraph

    return ReactomeGraph.load(_write_release(tmp_path / "release"), cache=False)
