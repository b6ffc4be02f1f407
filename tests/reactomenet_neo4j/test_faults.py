"""Faults and loads on a real server: wrong password, nothing listening, empty database, interrupted and repeated
loads, another release. The fault tests use the ``faults`` database with a tiny generated release."""

from __future__ import annotations

import numpy as np
import pytest

import reactomenet.neo4j._load as loader
from reactomenet.errors import InputError
from reactomenet.neo4j import (
    AuthenticationError,
    IncompleteLoadError,
    Neo4jBackend,
    NotLoadedError,
    ReleaseMismatchError,
    ServerUnavailableError,
    load_release,
)
from reactomenet.neo4j.server import free_port

pytestmark = pytest.mark.server

FAULTS_DB = "faults"  # the conftest's second database
USER = "root"


def _census(conn) -> dict[str, int]:
    """Every node by label and every relationship by type, whatever the loader meant to write."""
    counts = {}
    for label in ("Pathway", "Gene", "ReactomeRelease"):
        counts[label] = conn.read(f"MATCH (n:{label}) RETURN count(n) AS n")[0]["n"]
    for rel in ("HAS_CHILD", "HAS_GENE"):
        counts[rel] = conn.read(f"MATCH ()-[r:{rel}]->() RETURN count(r) AS n")[0]["n"]
    counts["all_nodes"] = conn.read("MATCH (n) RETURN count(n) AS n")[0]["n"]
    return counts


def _assert_parity(graph, backend) -> None:
    for p in graph.pathways():
        for method in ("genes_of", "children", "parents", "ancestors", "descendants", "level_of"):
            assert getattr(backend, method)(p.id) == getattr(graph, method)(p.id), (method, p.id)
    for gene in graph.genes():
        for level in (1, 2, 3, 4, "all"):
            assert backend.pathways_of(gene, level) == graph.pathways_of(gene, level), (gene, level)
    genes = [*graph.genes(), "MISSING"]
    for level in (1, 2, 3):
        expected, got = graph.mask(genes, level), backend.mask(genes, level)
        np.testing.assert_array_equal(got.i, expected.i)
        np.testing.assert_array_equal(got.j, expected.j)
        assert (got.missing, got.padded) == (expected.missing, expected.padded)


def _connect(server, **kwargs) -> Neo4jBackend:
    return Neo4jBackend.connect(server.uri, USER, server.password, database=FAULTS_DB, **kwargs)


def test_wrong_password(server):
    with pytest.raises(AuthenticationError) as err:
        Neo4jBackend.connect(server.uri, USER, "not-the-password")
    message = str(err.value)
    assert "wrong user name or password" in message and "\n" not in message
    assert "not-the-password" not in message and server.password not in message


def test_missing_password(server, monkeypatch):
    monkeypatch.delenv("REACTOMENET_NEO4J_PASSWORD", raising=False)
    with pytest.raises(AuthenticationError, match=r"set \$REACTOMENET_NEO4J_PASSWORD"):
        Neo4jBackend.connect(server.uri, USER, None)


def test_nothing_listening():
    uri = f"bolt://127.0.0.1:{free_port()}"
    with pytest.raises(ServerUnavailableError, match="no Bolt server answers at") as err:
        Neo4jBackend.connect(uri, USER, "whatever-password")
    assert "\n" not in str(err.value)


def test_not_a_bolt_uri():
    with pytest.raises(InputError, match="not a Bolt URI"):
        Neo4jBackend.connect("http://127.0.0.1:7474", USER, "whatever-password")


def test_database_that_does_not_exist(server):
    with pytest.raises(NotLoadedError, match="database 'nosuchdb' does not exist"):
        Neo4jBackend.connect(server.uri, USER, server.password, database="nosuchdb")


def test_empty_database(server, faults_db):
    with pytest.raises(NotLoadedError, match="run `reactomenet neo4j load` first"):
        _connect(server)


def test_species_never_loaded(server, faults_db, tiny):
    load_release(tiny, server.uri, USER, server.password, database=FAULTS_DB, progress=False)
    with pytest.raises(NotLoadedError, match="it holds R-HSA"):
        _connect(server, species="R-MMU")


def test_load_twice_duplicates_nothing(server, faults_db, tiny):
    first = load_release(tiny, server.uri, USER, server.password, batch_size=3, database=FAULTS_DB, progress=False)
    after_first = _census(faults_db)
    second = load_release(tiny, server.uri, USER, server.password, batch_size=2, database=FAULTS_DB, progress=False)
    assert _census(faults_db) == after_first
    assert after_first["Pathway"] == 7 and after_first["ReactomeRelease"] == 1
    assert after_first["HAS_CHILD"] == 7 and after_first["HAS_GENE"] == 18 and after_first["Gene"] == 7
    assert (first.gene_links, second.gene_links) == (18, 18)
    assert not second.resumed and not second.replaced
    with _connect(server) as backend:
        _assert_parity(tiny, backend)


def test_interrupted_load_is_detected_and_completed(server, faults_db, tiny, monkeypatch):
    calls = {"n": 0}
    real_write = loader._write

    def flaky(conn, query, rows):
        calls["n"] += 1
        if calls["n"] == 6:  # after pathways, genes and some links were committed
            raise KeyboardInterrupt
        real_write(conn, query, rows)

    monkeypatch.setattr(loader, "_write", flaky)
    with pytest.raises(KeyboardInterrupt):
        load_release(tiny, server.uri, USER, server.password, batch_size=2, database=FAULTS_DB, progress=False)
    partial = _census(faults_db)
    assert partial["Pathway"] > 0 and partial["HAS_GENE"] < 18
    with pytest.raises(IncompleteLoadError, match="did not finish") as err:
        _connect(server)
    assert "\n" not in str(err.value)

    monkeypatch.setattr(loader, "_write", real_write)
    report = load_release(tiny, server.uri, USER, server.password, batch_size=2, database=FAULTS_DB, progress=False)
    assert report.resumed
    census = _census(faults_db)
    assert (census["Pathway"], census["HAS_CHILD"], census["HAS_GENE"], census["Gene"]) == (7, 7, 18, 7)
    with _connect(server) as backend:
        assert backend.metadata["complete"] is True
        _assert_parity(tiny, backend)


def test_interrupted_inside_gene_sets_then_completed(server, faults_db, tiny, monkeypatch):
    """Stop at every possible batch in turn: each re-run ends with exactly the release."""
    real_write = loader._write
    n_batches = 0

    def counting(conn, query, rows):
        nonlocal n_batches
        n_batches += 1
        real_write(conn, query, rows)

    monkeypatch.setattr(loader, "_write", counting)
    load_release(tiny, server.uri, USER, server.password, batch_size=4, database=FAULTS_DB, progress=False)
    expected = _census(faults_db)
    for stop_at in range(1, n_batches + 1):
        faults_db.write("MATCH (n) DETACH DELETE n")
        calls = {"n": 0}

        def flaky(conn, query, rows, stop_at=stop_at, calls=calls):
            calls["n"] += 1
            if calls["n"] == stop_at:
                raise KeyboardInterrupt
            real_write(conn, query, rows)

        monkeypatch.setattr(loader, "_write", flaky)
        with pytest.raises(KeyboardInterrupt):
            load_release(tiny, server.uri, USER, server.password, batch_size=4, database=FAULTS_DB, progress=False)
        monkeypatch.setattr(loader, "_write", real_write)
        load_release(tiny, server.uri, USER, server.password, batch_size=4, database=FAULTS_DB, progress=False)
        assert _census(faults_db) == expected, stop_at


def test_other_release_needs_replace(server, faults_db, tiny, tmp_path, write_release):
    from reactomenet import ReactomeGraph

    load_release(tiny, server.uri, USER, server.password, database=FAULTS_DB, progress=False)
    other = ReactomeGraph.load(write_release(tmp_path / "other", extra_gene="NEWGENE"), cache=False)
    with pytest.raises(ReleaseMismatchError, match="--replace"):
        load_release(other, server.uri, USER, server.password, database=FAULTS_DB, progress=False)
    report = load_release(other, server.uri, USER, server.password, replace=True, database=FAULTS_DB, progress=False)
    assert report.replaced
    census = _census(faults_db)
    assert (census["Pathway"], census["HAS_GENE"], census["Gene"], census["ReactomeRelease"]) == (7, 19, 8, 1)
    with _connect(server) as backend:
        assert backend.release.sha256 == other.release.sha256
        _assert_parity(other, backend)


def test_bad_batch_size(server, tiny):
    with pytest.raises(InputError, match="batch size"):
        load_release(tiny, server.uri, USER, server.password, batch_size=0, database=FAULTS_DB, progress=False)
