"""Command-line layer: the click commands ``reactomenet``, ``kg-build`` and ``biodsnn``."""
