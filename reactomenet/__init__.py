"""ReactomeNet: the Reactome pathway hierarchy as a queryable directed graph.

Imports no torch. The public names load lazily, so ``import reactomenet.errors`` (used by every package's
error handling) does not pull in networkx, scipy and pandas.

Example:
    >>> from reactomenet import ReactomeGraph
    >>> g = ReactomeGraph.load()
    >>> g.level_of("R-HSA-109581")
    2
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reactomenet._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "GeneMapper": "reactomenet._genes",
    "MappingResult": "reactomenet._genes",
    "Pathway": "reactomenet._graph",
    "PathwayHits": "reactomenet._graph",
    "ReactomeGraph": "reactomenet._graph",
    "GeneMask": "reactomenet._mask",
    "RELEASE_ENV": "reactomenet._release",
    "Release": "reactomenet._release",
}

__all__ = [
    "RELEASE_ENV",
    "GeneMapper",
    "GeneMask",
    "MappingResult",
    "Pathway",
    "PathwayHits",
    "ReactomeGraph",
    "Release",
    "__version__",
]

if TYPE_CHECKING:
    from reactomenet._genes import GeneMapper, MappingResult
    from reactomenet._graph import Pathway, PathwayHits, ReactomeGraph
    from reactomenet._mask import GeneMask
    from reactomenet._release import RELEASE_ENV, Release


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
