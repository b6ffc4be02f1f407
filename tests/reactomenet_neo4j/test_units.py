"""Pieces of the Neo4j backend that need no server: the padding rule, batching, settings, the server's records."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reactomenet._mask import effective_membership
from reactomenet.errors import InputError
from reactomenet.neo4j import AuthenticationError
from reactomenet.neo4j._connection import resolve_settings
from reactomenet.neo4j._load import _batches, _size
from reactomenet.neo4j.errors import ServerError
from reactomenet.neo4j.server import STATE_FILE, _quote_argfile, free_port, port_open, server_status, stop_server


def test_effective_membership_keeps_only_deepest_when_padded():
    import scipy.sparse as sp

    member = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 0], [0, 1, 1]], dtype=bool))
    eff, padded = effective_membership(member, np.array([1, 2, 3]), 3)
    assert eff.toarray().tolist() == [[False, True, False], [True, False, False], [False, False, True]]
    assert padded.tolist() == [True, True, False]


rows_strategy = st.lists(
    st.one_of(
        st.builds(lambda n: {"pathway": "P", "genes": ["g"] * n}, st.integers(1, 30)),
        st.just({"id": "x"}),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(rows=rows_strategy, size=st.integers(1, 40))
def test_batches_cover_rows_in_order_and_never_split_a_set(rows, size):
    batches = _batches(rows, size)
    assert [row for batch in batches for row in batch] == rows
    assert all(len(batch) > 0 for batch in batches)
    for batch in batches[:-1]:  # every full batch reached the size with its last row, and not before
        assert sum(_size(r) for r in batch) >= size
        assert sum(_size(r) for r in batch[:-1]) < size


def test_settings_from_environment(monkeypatch):
    monkeypatch.setenv("REACTOMENET_NEO4J_URI", "neo4j://db.example.org:7687")
    monkeypatch.setenv("REACTOMENET_NEO4J_USER", "reader")
    monkeypatch.setenv("REACTOMENET_NEO4J_PASSWORD", "from-env")
    monkeypatch.setenv("REACTOMENET_NEO4J_DATABASE", "reactome")
    assert resolve_settings(None, None, None, None) == ("neo4j://db.example.org:7687", "reader", "from-env", "reactome")
    assert resolve_settings("bolt://h:1", "u", "p", "d") == ("bolt://h:1", "u", "p", "d")


def test_settings_refuse_bad_uri_and_missing_password(monkeypatch):
    monkeypatch.delenv("REACTOMENET_NEO4J_PASSWORD", raising=False)
    with pytest.raises(AuthenticationError, match="REACTOMENET_NEO4J_PASSWORD"):
        resolve_settings("bolt://h:7687", "neo4j", None, None)
    with pytest.raises(InputError, match="not a Bolt URI"):
        resolve_settings("localhost:7687", "neo4j", "pw", None)


def test_argfile_quoting():
    assert _quote_argfile('-Dx=a "b" \\c') == '"-Dx=a \\"b\\" \\\\c"'


def test_ports():
    port = free_port()
    assert not port_open(port)


def test_server_records(tmp_path):
    assert server_status(tmp_path) is None
    assert stop_server(tmp_path) is False
    # A record left by a server that is gone (a finished process's PID): reported as not running, then removed.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / STATE_FILE).write_text(
        json.dumps({"pid": dead.pid, "bolt_port": 1, "http_port": 2, "data_dir": str(tmp_path)})
    )
    status = server_status(tmp_path)
    assert status is not None and not status.running and status.uri == "bolt://127.0.0.1:1"
    assert stop_server(tmp_path) is False
    assert not (tmp_path / STATE_FILE).exists()


def test_live_pid_of_another_program_is_not_stopped(tmp_path):
    """A recycled PID (some other process) is never signalled."""
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / STATE_FILE).write_text(
            json.dumps({"pid": other.pid, "bolt_port": 1, "http_port": 2, "data_dir": str(tmp_path)})
        )
        assert server_status(tmp_path).running is False
        assert stop_server(tmp_path) is False
        assert other.poll() is None  # still alive
    finally:
        other.kill()
        other.wait()


def test_corrupt_record(tmp_path):
    (tmp_path / STATE_FILE).write_text("{not json")
    with pytest.raises(ServerError, match="corrupt"):
        server_status(tmp_path)


def test_short_password_refused(tmp_path):
    from reactomenet.neo4j.server import start_server

    try:
        start_server(tmp_path, password="short")
    except ServerError as exc:
        assert "at least 8 characters" in str(exc) or "not installed" in str(exc)
    else:
        raise AssertionError("a 5-character password was accepted")
