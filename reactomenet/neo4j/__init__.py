"""ReactomeNet on a graph database over Bolt: Neo4j 5, or any server speaking Bolt and Cypher.

Plain Cypher only (no APOC, no GDS; ``elementId()``/``id()`` are never stored or parsed), through the official
``neo4j`` driver. :func:`load_release` writes a release; :class:`Neo4jBackend` answers the same queries as
:class:`reactomenet.ReactomeGraph`, with the same answers; :mod:`reactomenet.neo4j.server` runs a local
ArcadeDB server for users without Neo4j. See docs/neo4j.md.

Example:
    from reactomenet.neo4j import Neo4jBackend
    db = Neo4jBackend.connect("bolt://127.0.0.1:7687", "neo4j", password)
    db.pathways_of("TP53", level=2).ids[:1]
    # ['R-HSA-109581']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reactomenet._lazy import lazy_exports

# Public names load on first use, so `reactomenet.neo4j.errors` and `.server` (used by every `reactomenet` command's
# option parsing) do not import the driver, numpy and scipy.
_EXPORTS = {
    "Neo4jBackend": "reactomenet.neo4j._backend",
    **dict.fromkeys(
        ("DATABASE_ENV", "DEFAULT_URI", "DEFAULT_USER", "PASSWORD_ENV", "URI_ENV", "USER_ENV", "Connection"),
        "reactomenet.neo4j._connection",
    ),
    **dict.fromkeys(("LoadReport", "load_release"), "reactomenet.neo4j._load"),
    **dict.fromkeys(("all_metadata", "read_metadata"), "reactomenet.neo4j._schema"),
    **dict.fromkeys(
        (
            "AuthenticationError",
            "IncompleteLoadError",
            "Neo4jError",
            "NotLoadedError",
            "ReleaseMismatchError",
            "ServerError",
            "ServerUnavailableError",
        ),
        "reactomenet.neo4j.errors",
    ),
}

if TYPE_CHECKING:
    from reactomenet.neo4j._backend import Neo4jBackend
    from reactomenet.neo4j._connection import (
        DATABASE_ENV,
        DEFAULT_URI,
        DEFAULT_USER,
        PASSWORD_ENV,
        URI_ENV,
        USER_ENV,
        Connection,
    )
    from reactomenet.neo4j._load import LoadReport, load_release
    from reactomenet.neo4j._schema import all_metadata, read_metadata
    from reactomenet.neo4j.errors import (
        AuthenticationError,
        IncompleteLoadError,
        Neo4jError,
        NotLoadedError,
        ReleaseMismatchError,
        ServerError,
        ServerUnavailableError,
    )


__all__ = [
    "DATABASE_ENV",
    "DEFAULT_URI",
    "DEFAULT_USER",
    "PASSWORD_ENV",
    "URI_ENV",
    "USER_ENV",
    "AuthenticationError",
    "Connection",
    "IncompleteLoadError",
    "LoadReport",
    "Neo4jBackend",
    "Neo4jError",
    "NotLoadedError",
    "ReleaseMismatchError",
    "ServerError",
    "ServerUnavailableError",
    "all_metadata",
    "load_release",
    "read_metadata",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
