"""Choose where the Reactome graph lives: in memory on NetworkX (default) or in a Neo4j / Bolt server.

Both backends answer the same queries with the same answers: ``genes_of``, ``pathways_of``, ``children``,
``parents``, ``ancestors``, ``descendants``, ``level_of``, ``mask``, ``pathways`` and ``search``.
"""

from __future__ import annotations

import os
from typing import Any, Literal, Protocol, runtime_checkable

from reactomenet.errors import InputError

BACKENDS = ("networkx", "neo4j")


@runtime_checkable
class ReactomeBackend(Protocol):
    """What every backend answers (see :class:`reactomenet.ReactomeGraph` for the meaning of each query)."""

    def genes_of(self, pid: str, *, inclusive: bool = False) -> list[str]: ...
    def pathways_of(self, gene: str, level: Any = "all") -> Any: ...
    def children(self, pid: str) -> list[str]: ...
    def parents(self, pid: str) -> list[str]: ...
    def ancestors(self, pid: str) -> list[str]: ...
    def descendants(self, pid: str) -> list[str]: ...
    def level_of(self, pid: str) -> int: ...
    def mask(self, genes: Any, level: int = 3) -> Any: ...
    def pathways(self, level: int | None = None) -> list[Any]: ...
    def search(self, text: str) -> list[Any]: ...


def open_backend(
    kind: Literal["networkx", "neo4j"] | str = "networkx",
    *,
    release: str | os.PathLike[str] | None = None,
    species: str = "R-HSA",
    uri: str | None = None,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
) -> Any:
    """Open a backend by name.

    Args:
        kind: ``"networkx"`` (the release files, parsed in memory) or ``"neo4j"`` (a Bolt server already loaded
            with ``reactomenet neo4j load``).
        release: Release folder for ``networkx`` (default ``$REACTOMENET_RELEASE``, else the bundled copy).
        species: Reactome species prefix.
        uri, user, password, database: Connection for ``neo4j`` (defaults from ``REACTOMENET_NEO4J_*``).

    Raises:
        InputError: An unknown backend name, or options that do not fit the backend.

    Example:
        >>> g = open_backend("networkx", species="R-HSA")
        >>> g.level_of("R-HSA-109581")
        2
    """
    name = str(kind).strip().lower()
    if name == "networkx":
        from reactomenet._graph import ReactomeGraph

        return ReactomeGraph.load(release, species=species)
    if name == "neo4j":
        if release is not None:
            raise InputError(
                "--release applies to the networkx backend; load a release into the server with "
                "`reactomenet neo4j load --release DIR`"
            )
        try:
            from reactomenet.neo4j import Neo4jBackend
        except ImportError as exc:  # the driver is a base dependency, but say what to install if it is gone
            raise InputError(f"the neo4j backend needs the neo4j driver ({exc}); pip install neo4j") from exc
        kwargs: dict[str, Any] = {"species": species}
        if database is not None:
            kwargs["database"] = database
        return Neo4jBackend.connect(uri, user, password, **kwargs)
    raise InputError(f"unknown backend {kind!r}; choose one of {', '.join(BACKENDS)}")
