"""What can go wrong between ReactomeNet and a Bolt server, as one-line user errors.

Every class here is an :class:`~reactomenet.errors.InputError`, so the command line prints
``error: <message>`` and exits with status 2. Messages never contain a password.
"""

from __future__ import annotations

from reactomenet.errors import InputError


class Neo4jError(InputError):
    """Base class: the Bolt server could not answer the way ReactomeNet needs."""


class ServerUnavailableError(Neo4jError):
    """Nothing answers Bolt at the URI (server down, wrong host or port, network)."""


class AuthenticationError(Neo4jError):
    """The server refused the user name or password."""


class NotLoadedError(Neo4jError):
    """The database holds no Reactome release for the species (``reactomenet neo4j load`` never ran)."""


class IncompleteLoadError(NotLoadedError):
    """A load started but never finished (interrupted); running the load again completes it."""


class ReleaseMismatchError(Neo4jError):
    """The database holds a different release than the one being loaded (use ``--replace``)."""


class ServerError(Neo4jError):
    """The local ArcadeDB server could not be found, started, stopped or queried."""
