"""Lazy public names for a package's ``__init__`` (PEP 562): a heavy module loads when one of its names is used."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str],
                 public: Sequence[str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``: ``exports`` maps each public name to the module holding it.

    A name is imported on first use and then kept in the package's namespace, so later lookups cost nothing.

    Example:
        >>> getattr_, dir_ = lazy_exports("reactomenet", {"Release": "reactomenet._release"}, ["Release"])
        >>> getattr_("Release").__name__, dir_()
        ('Release', ['Release'])
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(public)

    return __getattr__, __dir__
