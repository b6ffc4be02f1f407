"""The command line against the session's server: neo4j load/status, queries with --backend neo4j, faults
as one line with exit status 2, and server start/stop/status on a second (short-lived) server."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from reactomenet.neo4j.server import free_port, port_open

pytestmark = pytest.mark.server

PW_VAR = "TEST_BOLT_PASSWORD"


def _main():
    from cli.reactomenet import main

    return main


def _run(args: list[str], env: dict[str, str] | None = None):
    return CliRunner().invoke(_main(), args, env={"BIODSNN_NO_PROGRESS": "1", **(env or {})}, catch_exceptions=False)


def _conn_args(server, database: str | None = None) -> list[str]:
    args = ["--uri", server.uri, "--user", "root", "--password-env", PW_VAR]
    return [*args, "--database", database] if database else args


def test_load_then_status_then_query(server, faults_db, write_release, tmp_path):
    release = write_release(tmp_path / "rel")
    env = {PW_VAR: server.password}
    load = _run(["neo4j", "load", *_conn_args(server, "faults"), "--release", str(release), "--batch-size", "3"], env)
    assert load.exit_code == 0, load.output
    assert "7 pathways, 7 genes, 7 parent→child links, 18 pathway→gene links" in load.output
    assert server.password not in load.output
    status = _run(["neo4j", "status", *_conn_args(server, "faults")], env)
    assert status.exit_code == 0, status.output
    assert "R-HSA (Homo sapiens): complete; 7 pathways" in status.output
    args = ["pathways-of", "G", "--level", "2", "--format", "json", "--backend"]
    via_db = _run([*args, "neo4j", *_conn_args(server)], {**env, "REACTOMENET_NEO4J_DATABASE": "faults"})
    via_nx = _run([*args, "networkx", "--release", str(release)])
    assert via_db.exit_code == 0 == via_nx.exit_code, via_db.output
    assert via_db.stdout == via_nx.stdout
    assert '"padded": true' in via_db.stdout


def test_human_queries_match_networkx(human, server):
    env = {PW_VAR: server.password, "REACTOMENET_NEO4J_DATABASE": "neo4j"}
    for args in (["genes-of", "R-HSA-109581"], ["pathways-of", "TP53", "--level", "3"], ["children", "R-HSA-109581"]):
        db = _run([*args, "--format", "tsv", "--backend", "neo4j", *_conn_args(server)], env)
        nx = _run([*args, "--format", "tsv"])
        assert db.exit_code == 0 == nx.exit_code, db.output
        assert db.stdout == nx.stdout and len(nx.stdout.splitlines()) > 2


def test_mask_command_matches_networkx(human, server, tmp_path):
    import pandas as pd

    from reactomenet.io import read_parquet_metadata

    graph = human[0]
    genes = tmp_path / "genes.txt"
    symbols = [g for g in graph.genes() if g.isalnum()][::97]
    genes.write_text("\n".join([*symbols, "NOT_A_GENE"]) + "\n")
    env = {PW_VAR: server.password, "REACTOMENET_NEO4J_DATABASE": "neo4j"}
    out_db, out_nx = tmp_path / "db.parquet", tmp_path / "nx.parquet"
    db = _run(["mask", "--genes", str(genes), "-o", str(out_db), "--backend", "neo4j", *_conn_args(server)], env)
    nx = _run(["mask", "--genes", str(genes), "-o", str(out_nx)])
    assert db.exit_code == 0 == nx.exit_code, db.output
    frame = pd.read_parquet(out_db)
    assert frame.equals(pd.read_parquet(out_nx)) and (frame.source == "reactome").any()
    assert read_parquet_metadata(out_db) == read_parquet_metadata(out_nx)


def test_faults_are_one_line_exit_2(server, faults_db):
    wrong = _run(["neo4j", "status", *_conn_args(server)], {PW_VAR: "wrong-password"})
    down = _run(
        ["neo4j", "status", "--uri", f"bolt://127.0.0.1:{free_port()}", "--password-env", PW_VAR], {PW_VAR: "x"}
    )
    empty = _run(["neo4j", "status", *_conn_args(server, "faults")], {PW_VAR: server.password})
    unset = _run(["neo4j", "status", *_conn_args(server)], {PW_VAR: ""})
    query = _run(["genes-of", "R-HSA-1", "--backend", "neo4j", *_conn_args(server)], {PW_VAR: "wrong-password"})
    for result, expected in (
        (wrong, "wrong user name or password"),
        (down, "no Bolt server answers"),
        (empty, "run `reactomenet neo4j load` first"),
        (unset, f"no password: set ${PW_VAR}"),
        (query, "wrong user name or password"),
    ):
        assert result.exit_code == 2, result.output
        error_lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(error_lines) == 1 and error_lines[0].startswith("error: ") and expected in error_lines[0]
        assert "wrong-password" not in result.output


def test_server_start_status_stop(tmp_path: Path):
    """The developer commands start a real server process and stop it by its PID."""
    data = tmp_path / "srv"
    port = free_port()
    env = {PW_VAR: "a-long-password"}

    def cli(*args: str):
        result = _run(["server", *args, "--data-dir", str(data)], env)
        result.returncode = result.exit_code
        return result

    assert cli("status").returncode == 3
    started = cli("start", "--port", str(port), "--password-env", PW_VAR, "--heap", "256m")
    try:
        assert started.returncode == 0, started.stderr
        assert f"bolt://127.0.0.1:{port}" in started.stdout and port_open(port)
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
        assert "a-long-password" not in ps  # the password is not on the process's command line
        assert "a-long-password" not in (data / "server.log").read_text()
        again = cli("start", "--port", str(free_port()), "--password-env", PW_VAR)
        assert again.returncode == 2 and "already runs" in again.stderr
        status = cli("status")
        assert status.returncode == 0 and f":{port}" in status.stdout
    finally:
        stopped = cli("stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not port_open(port)
    assert cli("status").returncode == 3
