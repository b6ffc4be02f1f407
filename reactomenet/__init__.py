"""ReactomeNet: the Reactome pathway hierarchy as a queryable directed graph.

Imports no torch.

Example:
    >>> from reactomenet import ReactomeGraph
    >>> g = ReactomeGraph.load()
    >>> g.level_of("R-HSA-109581")
    2
"""

__version__ = "0.1.0"

from reactomenet._genes import GeneMapper, MappingResult
from reactomenet._graph import Pathway, PathwayHits, ReactomeGraph
from reactomenet._mask import GeneMask
from reactomenet._release import RELEASE_ENV, Release

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
