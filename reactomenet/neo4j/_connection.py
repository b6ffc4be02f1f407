"""Opening a Bolt driver and running Cypher with driver faults turned into one-line user errors."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import neo4j
from neo4j import exceptions as nx_exc

from reactomenet.errors import InputError
from reactomenet.neo4j.errors import AuthenticationError, Neo4jError, NotLoadedError, ServerUnavailableError

#: Environment variables read when an argument is None.
URI_ENV = "REACTOMENET_NEO4J_URI"
USER_ENV = "REACTOMENET_NEO4J_USER"
PASSWORD_ENV = "REACTOMENET_NEO4J_PASSWORD"
DATABASE_ENV = "REACTOMENET_NEO4J_DATABASE"
DEFAULT_URI = "bolt://127.0.0.1:7687"
DEFAULT_USER = "neo4j"
_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")


def resolve_settings(
    uri: str | None, user: str | None, password: str | None, database: str | None
) -> tuple[str, str, str, str | None]:
    """Fill unset connection settings from the environment (``REACTOMENET_NEO4J_*``) and check them.

    Example:
        >>> resolve_settings("bolt://localhost:7687", "neo4j", "secret", None)[:2]
        ('bolt://localhost:7687', 'neo4j')
    """
    uri = (uri or os.environ.get(URI_ENV) or DEFAULT_URI).strip()
    user = user or os.environ.get(USER_ENV) or DEFAULT_USER
    if password is None:
        password = os.environ.get(PASSWORD_ENV)
    if not password:
        raise AuthenticationError(
            f"no password for user {user!r} at {uri}: set ${PASSWORD_ENV} (never on the command line)"
        )
    database = database or os.environ.get(DATABASE_ENV) or None
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme not in _SCHEMES:
        raise InputError(f"URI {uri!r} is not a Bolt URI; use e.g. bolt://127.0.0.1:7687 or neo4j://host:7687")
    return uri, user, password, database


class Connection:
    """A Bolt driver bound to one database, whose queries raise :mod:`reactomenet.neo4j.errors` on faults.

    Reads and writes go through ``driver.execute_query``, a managed transaction that retries transient
    failures (deadlocks, leader switches).

    Example:
        conn = Connection.open("bolt://127.0.0.1:7687", "neo4j", "secret")
        conn.read("RETURN 1 AS one")[0]["one"]
        # 1
    """

    def __init__(self, driver: neo4j.Driver, uri: str, user: str, database: str | None) -> None:
        self.driver = driver
        self.uri = uri
        self.user = user
        self.database = database

    @classmethod
    def open(
        cls, uri: str | None = None, user: str | None = None, password: str | None = None, database: str | None = None
    ) -> Connection:
        """Connect and check the server answers with these credentials.

        Raises:
            ServerUnavailableError: nothing speaks Bolt at ``uri``.
            AuthenticationError: wrong user name or password, or no password given.

        Example:
            >>> Connection.open("http://x", "neo4j", "secret")
            Traceback (most recent call last):
            ...
            reactomenet.errors.InputError: URI 'http://x' is not a Bolt URI; use e.g. bolt://127.0.0.1:7687 or neo4j://host:7687
        """
        uri, user, password, database = resolve_settings(uri, user, password, database)
        try:
            driver = neo4j.GraphDatabase.driver(
                uri, auth=(user, password), connection_timeout=10.0, max_transaction_retry_time=30.0
            )
        except (nx_exc.ConfigurationError, ValueError) as exc:
            raise InputError(f"cannot use URI {uri!r}: {exc}") from None
        conn = cls(driver, uri, user, database)
        try:
            with conn._faults():
                driver.verify_connectivity()
        except Neo4jError:
            driver.close()
            raise
        return conn

    def close(self) -> None:
        """Close the driver (idempotent)."""
        self.driver.close()

    @contextlib.contextmanager
    def _faults(self) -> Iterator[None]:
        where = f"{self.uri}" + (f" (database {self.database!r})" if self.database else "")
        try:
            yield
        except nx_exc.AuthError:
            raise AuthenticationError(
                f"the server at {self.uri} refused user {self.user!r}: wrong user name or password "
                f"(the password comes from ${PASSWORD_ENV} or --password-env)"
            ) from None
        except (nx_exc.ServiceUnavailable, nx_exc.SessionExpired) as exc:
            raise ServerUnavailableError(
                f"no Bolt server answers at {where}: start one (`reactomenet server start`) or fix --uri "
                f"({_short(exc)})"
            ) from None
        except nx_exc.ClientError as exc:
            code = exc.code or ""
            if code.endswith("DatabaseNotFound"):
                raise NotLoadedError(
                    f"database {self.database!r} does not exist at {self.uri}; create it or choose another one"
                ) from None
            if ".Security." in code:
                raise AuthenticationError(
                    f"user {self.user!r} may not do this at {where} ({_short(exc.message or exc)}); "
                    "use a user with write and schema rights to load"
                ) from None
            raise
        except OSError as exc:
            raise ServerUnavailableError(f"cannot reach {where}: {exc}") from None

    def _run(self, query: str, params: Mapping[str, Any], routing: neo4j.RoutingControl) -> list[neo4j.Record]:
        with self._faults():
            records, _, _ = self.driver.execute_query(query, dict(params), database_=self.database, routing_=routing)
        return records

    def write_all(self, statements: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Run several write statements in one managed (retrying) transaction: all of them commit, or none.

        Example:
            conn.write_all([("MERGE (g:Gene {symbol: $s})", {"s": "TP53"})])
        """

        def work(tx: neo4j.ManagedTransaction) -> None:
            for query, params in statements:
                tx.run(query, dict(params)).consume()

        with self._faults(), self.driver.session(database=self.database) as session:
            session.execute_write(work)

    def read(self, query: str, **params: Any) -> list[neo4j.Record]:
        """Run a read query in a managed transaction and return its records.

        Example:
            conn.read("MATCH (p:Pathway) RETURN count(p) AS n")
        """
        return self._run(query, params, neo4j.RoutingControl.READ)

    def write(self, query: str, **params: Any) -> list[neo4j.Record]:
        """Run a write query in a managed (retrying) transaction and return its records.

        Example:
            conn.write("MERGE (g:Gene {symbol: $s})", s="TP53")
        """
        return self._run(query, params, neo4j.RoutingControl.WRITE)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160] + ("…" if len(text) > 160 else "")
