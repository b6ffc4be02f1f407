"""`reactomenet neo4j …` (load a release into a Bolt server, check it) and `reactomenet server …` (a local ArcadeDB).

Passwords never come on the command line: ``--password-env VAR`` names the environment variable that holds it
(default ``REACTOMENET_NEO4J_PASSWORD``); when it is unset and a terminal is attached, the command prompts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click

from cli._common import FriendlyGroup
from reactomenet.errors import InputError

PASSWORD_ENV = "REACTOMENET_NEO4J_PASSWORD"


def read_password(env_var: str, *, user: str, confirm: bool = False) -> str:
    """The password from ``$env_var``, else a hidden prompt on a terminal; InputError otherwise.

    Example:
        >>> os.environ["MY_PW"] = "s3cret-pass"
        >>> read_password("MY_PW", user="neo4j")
        's3cret-pass'
    """
    value = os.environ.get(env_var)
    if value:
        return value
    if sys.stdin.isatty():
        return str(click.prompt(f"password for {user}", hide_input=True, confirmation_prompt=confirm, err=True))
    raise InputError(f"no password: set ${env_var} (passwords are never taken from the command line)")


def server_options(func: Callable[..., Any], *, help_prefix: str = "") -> Callable[..., Any]:
    """--uri, --user and --password-env, for every command that may talk to a Bolt server.

    ``help_prefix`` marks them in commands where a server is optional (``reactomenet genes-of --backend neo4j``).
    """
    func = click.option(
        "--password-env",
        default=PASSWORD_ENV,
        show_default=True,
        metavar="VAR",
        help=f"{help_prefix}environment variable holding the password (prompted for when unset on a terminal).",
    )(func)
    func = click.option(
        "--user",
        envvar="REACTOMENET_NEO4J_USER",
        default="neo4j",
        show_default=True,
        help=f"{help_prefix}user name (env REACTOMENET_NEO4J_USER).",
    )(func)
    return click.option(
        "--uri",
        envvar="REACTOMENET_NEO4J_URI",
        default="bolt://127.0.0.1:7687",
        show_default=True,
        help=f"{help_prefix}Bolt URI of Neo4j 5 or the local server (env REACTOMENET_NEO4J_URI).",
    )(func)


def connection_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--uri, --user, --password-env and --database, shared by every command that talks to a server."""
    func = click.option(
        "--database",
        envvar="REACTOMENET_NEO4J_DATABASE",
        default=None,
        help="Database name (env REACTOMENET_NEO4J_DATABASE; default: the server's default database).",
    )(func)
    return server_options(func)


@click.group("neo4j", cls=FriendlyGroup)
def neo4j_group() -> None:
    """Load the Reactome graph into Neo4j 5 (or any Bolt + Cypher server) and check what it holds."""


@neo4j_group.command("load")
@connection_options
@click.option(
    "--release", "release", default=None, type=click.Path(file_okay=False), help="Release folder (default: bundled)."
)
@click.option("--species", default="R-HSA", show_default=True, help="Reactome species prefix.")
@click.option("--batch-size", default=5000, show_default=True, type=click.IntRange(min=1), help="Rows per transaction.")
@click.option("--replace", is_flag=True, help="Delete the species' earlier release first (needed for another release).")
def load_command(
    uri: str,
    user: str,
    password_env: str,
    database: str | None,
    release: str | None,
    species: str,
    batch_size: int,
    replace: bool,
) -> None:
    """Load a Reactome release (pathways, genes, hierarchy, gene sets) into the database.

    Loading again adds nothing twice; an interrupted load is completed by running it again.
    """
    from reactomenet import ReactomeGraph
    from reactomenet.neo4j import load_release

    password = read_password(password_env, user=user)
    graph = ReactomeGraph.load(release, species=species)
    report = load_release(graph, uri, user, password, batch_size=batch_size, replace=replace, database=database)
    how = (
        " (replaced the earlier release)"
        if report.replaced
        else " (completed an interrupted load)"
        if report.resumed
        else ""
    )
    click.echo(
        f"loaded {report.species} into {report.uri}{how}: {report.pathways} pathways, {report.genes} genes, "
        f"{report.child_links} parent→child links, {report.gene_links} pathway→gene links in {report.seconds:.1f} s"
    )


@neo4j_group.command("status")
@connection_options
@click.option("--species", default="R-HSA", show_default=True, help="The species that must be loaded.")
def status_command(uri: str, user: str, password_env: str, database: str | None, species: str) -> None:
    """Show the releases in the database; exit 2 unless SPECIES is loaded completely."""
    from reactomenet.neo4j import Connection, Neo4jBackend, all_metadata

    password = read_password(password_env, user=user)
    conn = Connection.open(uri, user, password, database)
    try:
        releases = all_metadata(conn)
    finally:
        conn.close()
    click.echo(f"server: {conn.uri}" + (f" database {database}" if database else ""))
    for meta in releases:
        state = "complete" if meta.get("complete") else "INCOMPLETE (run `reactomenet neo4j load` again)"
        click.echo(
            f"{meta.get('species')} ({meta.get('species_name')}): {state}; {meta.get('pathway_count', '?')} pathways, "
            f"{meta.get('gene_count', '?')} genes, {meta.get('gene_link_count', '?')} pathway→gene links; "
            f"loaded {meta.get('completed_at') or meta.get('started_at')} from {meta.get('release_dir')}"
        )
    if not releases:
        click.echo("no Reactome release loaded")
    Neo4jBackend.connect(uri, user, password, species=species, database=database).close()


@click.group("server", cls=FriendlyGroup)
def server_group() -> None:
    """Run a local Bolt server (ArcadeDB, from `pip install 'biodsnn[server]'`) for users without Neo4j."""


def _data_dir_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--data-dir",
        envvar="REACTOMENET_SERVER_DIR",
        default=str(_default_dir()),
        show_default=True,
        type=click.Path(file_okay=False),
        help="Server folder: databases, users, log, PID record (env REACTOMENET_SERVER_DIR).",
    )(func)


def _default_dir() -> str:
    from reactomenet.neo4j.server import DEFAULT_DATA_DIR

    return str(DEFAULT_DATA_DIR)


@server_group.command("start")
@_data_dir_option
@click.option(
    "--port", default=7687, show_default=True, type=click.IntRange(0, 65535), help="Bolt port (0: any free one)."
)
@click.option(
    "--password-env", default=PASSWORD_ENV, show_default=True, metavar="VAR", help="Variable holding the root password."
)
@click.option("--heap", default="1g", show_default=True, help="Java heap limit (-Xmx).")
def server_start(data_dir: str, port: int, password_env: str, heap: str) -> None:
    """Start ArcadeDB with its Bolt plugin on 127.0.0.1 (user `root`); it runs until `reactomenet server stop`."""
    from pathlib import Path

    from reactomenet.neo4j.server import start_server

    folder = Path(data_dir).expanduser()
    initialised = (folder / "config" / "server-users.jsonl").is_file()
    password = os.environ.get(password_env) or None
    if password is None and not initialised:
        password = read_password(password_env, user="root", confirm=True)
    info = start_server(folder, password=password, port=port or None, heap=heap)
    click.echo(f"ArcadeDB server running: {info.uri} (user root, pid {info.pid}, data {info.data_dir})")
    click.echo(f"  export REACTOMENET_NEO4J_URI={info.uri} REACTOMENET_NEO4J_USER=root")


@server_group.command("stop")
@_data_dir_option
def server_stop(data_dir: str) -> None:
    """Stop the server started from DATA_DIR (by its recorded PID)."""
    from reactomenet.neo4j.server import stop_server

    if stop_server(data_dir):
        click.echo(f"stopped the server of {data_dir}")
    else:
        click.echo(f"no server running from {data_dir}")


@server_group.command("status")
@_data_dir_option
def server_status_command(data_dir: str) -> None:
    """Say whether the server of DATA_DIR runs (exit 0) or not (exit 3)."""
    from reactomenet.neo4j.server import server_status

    info = server_status(data_dir)
    if info is None or not info.running:
        click.echo(f"no server running from {data_dir}")
        sys.exit(3)
    click.echo(f"running: {info.uri} (pid {info.pid}, data {info.data_dir})")


COMMANDS: list[click.Command] = [neo4j_group, server_group]
