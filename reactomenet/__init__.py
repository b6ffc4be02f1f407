"""ReactomeNet: the Reactome pathway hierarchy as a queryable directed graph.

Imports no torch.
"""

__version__ = "0.1.0"
