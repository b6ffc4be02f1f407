"""A local Bolt server for development, tests and CI: ArcadeDB from the ``arcadedb-embedded`` wheel.

Neo4j itself is not installable from PyPI; ArcadeDB is (``pip install 'biodsnn[server]'``), ships its own
Java runtime and a Bolt plugin, and presents itself to the official driver as a Neo4j 5 compatible server.
:func:`start_server` runs it as a real server process bound to 127.0.0.1, records its PID and ports in
``DATA_DIR/reactomenet-server.json``, and returns once the log says ``Server started`` and the Bolt port
accepts connections. :func:`stop_server` stops it by that PID; :func:`server_status` reports on it.

The root password reaches Java through an argument file (mode 0600, deleted once the server is up), so it
never appears in the process list (``ps``) nor in any log.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from reactomenet.neo4j.errors import ServerError

#: The file in the data folder that records the running server (pid, ports).
STATE_FILE = "reactomenet-server.json"
#: The server's console output, in the data folder.
LOG_FILE = "server.log"
#: The database the Bolt plugin serves by default (the same name Neo4j 5 uses).
DEFAULT_DATABASE = "neo4j"
#: The default data folder of ``reactomenet server start``.
DEFAULT_DATA_DIR = Path("~/.local/share/reactomenet/arcadedb")
_MAIN_CLASS = "com.arcadedb.server.ArcadeDBServer"
_READY = "ArcadeDB Server started"  # not "HTTP Server started", which comes before the databases exist
_ARGFILE = ".java-args"


@dataclass(frozen=True)
class ServerInfo:
    """A local server started by :func:`start_server`.

    Attributes:
        pid: The Java process id.
        bolt_port: The Bolt port on 127.0.0.1.
        http_port: ArcadeDB's own HTTP port on 127.0.0.1 (not used by ReactomeNet).
        data_dir: The server's root folder (databases, users, log).
        running: Whether the process is alive (filled in by :func:`server_status`).

    Example:
        >>> ServerInfo(pid=1, bolt_port=7687, http_port=2480, data_dir="/tmp/x").uri
        'bolt://127.0.0.1:7687'
    """

    pid: int
    bolt_port: int
    http_port: int
    data_dir: str
    running: bool = True

    @property
    def uri(self) -> str:
        """The Bolt URI to give the driver."""
        return f"bolt://127.0.0.1:{self.bolt_port}"


def arcadedb_paths() -> tuple[Path, Path]:
    """Find the Java runtime and the jar folder inside the installed ``arcadedb-embedded`` wheel.

    The package is located without being imported (importing it would start a JVM).

    Returns:
        ``(java executable, jars folder)``.

    Raises:
        ServerError: the wheel is not installed or lacks its runtime.

    Example:
        java, jars = arcadedb_paths()
    """
    spec = importlib.util.find_spec("arcadedb_embedded")
    if spec is None or not spec.submodule_search_locations:
        raise ServerError(
            "ArcadeDB is not installed: pip install 'biodsnn[server]' (the arcadedb-embedded wheel), "
            "or point --uri at a running Neo4j 5"
        )
    package = Path(next(iter(spec.submodule_search_locations)))
    java = package / "jre" / "bin" / "java"
    jars = package / "jars"
    if not java.is_file() or not jars.is_dir() or not any(jars.glob("arcadedb-server-*.jar")):
        raise ServerError(f"the arcadedb-embedded install at {package} lacks its Java runtime or jars; reinstall it")
    return java, jars


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now.

    Example:
        >>> 0 < free_port() < 65536
        True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``host:port``.

    Example:
        >>> port_open(free_port())
        False
    """
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _pid_alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError, OSError):
        # Reap our own exited child first, or it would look alive as a zombie.
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_our_server(pid: int, data_dir: Path) -> bool:
    """Guard against a recycled PID: the process must be ArcadeDB serving this data folder."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():  # not Linux: trust the PID
        return _pid_alive(pid)
    try:
        args = cmdline.read_bytes().split(b"\0")
    except OSError:
        return False
    return _MAIN_CLASS.encode() in args and f"-Darcadedb.server.rootPath={data_dir}".encode() in args


def _state_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILE


def _read_state(data_dir: Path) -> ServerInfo | None:
    path = _state_path(data_dir)
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text())
        return ServerInfo(int(raw["pid"]), int(raw["bolt_port"]), int(raw["http_port"]), str(raw["data_dir"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise ServerError(f"{path} is corrupt ({exc}); delete it if no server runs from {data_dir}") from exc


def _quote_argfile(arg: str) -> str:
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _log_tail(log: Path, lines: int = 1) -> str:
    try:
        text = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    severe = [ln for ln in text if "SEVERE" in ln or "Exception" in ln or "Error" in ln]
    return " | ".join((severe or text)[-lines:])


def server_status(data_dir: str | os.PathLike[str] = DEFAULT_DATA_DIR) -> ServerInfo | None:
    """Report on the server recorded in ``data_dir`` (None when none was ever started there).

    Example:
        >>> server_status("/nonexistent") is None
        True
    """
    folder = Path(data_dir).expanduser().resolve()
    info = _read_state(folder)
    if info is None:
        return None
    running = _pid_alive(info.pid) and _is_our_server(info.pid, folder)
    return ServerInfo(info.pid, info.bolt_port, info.http_port, info.data_dir, running=running)


def start_server(
    data_dir: str | os.PathLike[str] = DEFAULT_DATA_DIR,
    *,
    password: str | None,
    port: int | None = None,
    heap: str = "1g",
    databases: tuple[str, ...] = (DEFAULT_DATABASE,),
    timeout: float = 90.0,
) -> ServerInfo:
    """Start ArcadeDB with its Bolt plugin on 127.0.0.1 and wait until it is ready.

    Args:
        data_dir: The server's root folder; created if missing. Databases and users persist there.
        password: The root password (at least 8 characters). Needed the first time only: a folder that
            already holds a server's users keeps its password, and None is then accepted.
        port: The Bolt port; a free one when None.
        heap: Java's maximum heap (``-Xmx``).
        databases: Databases to create if missing; the first is the one Bolt serves by default.
        timeout: Seconds to wait for ``Server started`` and the Bolt port.

    Returns:
        The running server (its ``uri`` goes to the driver; the user is ``root``).

    Raises:
        ServerError: ArcadeDB is missing, a server already runs from ``data_dir``, the password is too
            short, the port is taken, or the server did not come up (the log's last error is quoted).

    Example:
        info = start_server("/tmp/arcadedb", password=os.environ["REACTOMENET_NEO4J_PASSWORD"])
        stop_server("/tmp/arcadedb")
        # True
    """
    java, jars = arcadedb_paths()
    folder = Path(data_dir).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    existing = server_status(folder)
    if existing is not None and existing.running:
        raise ServerError(
            f"a server already runs from {folder} (pid {existing.pid}, {existing.uri}); "
            "stop it with `reactomenet server stop` or use another --data-dir"
        )
    initialised = (folder / "config" / "server-users.jsonl").is_file()
    if password is None and not initialised:
        raise ServerError("no root password for the new server: set REACTOMENET_NEO4J_PASSWORD (at least 8 characters)")
    if password is not None and len(password) < 8:
        raise ServerError("the server's root password must have at least 8 characters; choose a longer one")
    if not databases or not all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name) for name in databases):
        raise ServerError(f"database names {list(databases)} must be letters, digits and _, starting with a letter")
    bolt_port = port if port is not None else free_port()
    if port_open(bolt_port):
        raise ServerError(f"port {bolt_port} on 127.0.0.1 is already in use; choose another with --port")
    http_port = free_port()
    argfile = folder / _ARGFILE
    secret_args = [f"-Darcadedb.server.rootPassword={password}"] if password is not None else []
    fd = os.open(argfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(_quote_argfile(arg) for arg in secret_args) + "\n")
    command = [
        str(java),
        f"-Xmx{heap}",
        "--add-modules",
        "jdk.incubator.vector",
        f"@{argfile}",
        f"-Darcadedb.server.rootPath={folder}",
        "-Darcadedb.server.defaultDatabases=" + ";".join(f"{name}[root]" for name in databases),
        "-Darcadedb.server.plugins=Bolt:com.arcadedb.bolt.BoltProtocolPlugin",
        "-Darcadedb.server.httpIncomingHost=127.0.0.1",
        f"-Darcadedb.server.httpIncomingPort={http_port}",
        "-Darcadedb.bolt.host=127.0.0.1",
        f"-Darcadedb.bolt.port={bolt_port}",
        f"-Darcadedb.bolt.defaultDatabase={databases[0]}",
        "-cp",
        f"{jars}/*",
        _MAIN_CLASS,
    ]
    log = folder / LOG_FILE
    try:
        with open(log, "wb") as out:
            process = subprocess.Popen(  # fixed command, no shell
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=folder,
                start_new_session=True,
            )
        info = ServerInfo(process.pid, bolt_port, http_port, str(folder))
        _wait_ready(process, log, bolt_port, timeout)
    finally:
        with contextlib.suppress(FileNotFoundError):
            argfile.unlink()
    state = _state_path(folder)
    tmp = state.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(info) | {"uri": info.uri}, indent=1))
    tmp.replace(state)
    return info


def _wait_ready(process: subprocess.Popen[bytes], log: Path, bolt_port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(
                f"the ArcadeDB server exited during start-up (status {process.returncode}): "
                f"{_log_tail(log) or 'no output'}; see {log}"
            )
        try:
            started = _READY in log.read_text(errors="replace")
        except OSError:
            started = False
        if started and port_open(bolt_port):
            return
        time.sleep(0.2)
    _terminate(process.pid)
    raise ServerError(
        f"the ArcadeDB server did not start within {timeout:.0f} s: {_log_tail(log) or 'no output'}; see {log}"
    )


def _terminate(pid: int, timeout: float = 30.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.1)


def stop_server(data_dir: str | os.PathLike[str] = DEFAULT_DATA_DIR, *, timeout: float = 30.0) -> bool:
    """Stop the server recorded in ``data_dir`` by its PID (SIGTERM, then SIGKILL after ``timeout``).

    Returns:
        True if a running server was stopped, False if none was running (a stale record is removed).

    Example:
        >>> stop_server("/nonexistent")
        False
    """
    folder = Path(data_dir).expanduser().resolve()
    info = _read_state(folder)
    if info is None:
        return False
    stopped = False
    if _pid_alive(info.pid) and _is_our_server(info.pid, folder):
        _terminate(info.pid, timeout)
        stopped = True
    with contextlib.suppress(FileNotFoundError):
        _state_path(folder).unlink()
    return stopped
