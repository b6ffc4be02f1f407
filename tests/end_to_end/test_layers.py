"""The layers import only the layers below them (docs/architecture.md), checked by reading every module's imports.

``reactomenet`` < ``kg_build`` < ``biodsnn`` < ``cli``; inside ``biodsnn`` the torch-free data layer
(``biodsnn.data``) imports no torch when it loads, and no module imports another in a circle. Every import counts,
also those inside functions (a lazy import is still a dependency); those under ``TYPE_CHECKING`` count for the
direction of the layers, not for cycles (they never run). A package's ``__main__`` (``python -m biodsnn`` under
torchrun) is an entry point into the CLI, not a layer.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("reactomenet", "kg_build", "biodsnn", "cli")  # bottom to top


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the most specific module of ours it names (or the foreign top-level name)
    line: int
    at_load: bool  # runs when the module is imported (not inside a function, not under TYPE_CHECKING)
    type_only: bool = False  # under TYPE_CHECKING: a reference for annotations, never executed


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            out[_module_name(path)] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str:
    """The longest prefix of ``name`` that is one of our modules (a foreign name: its top level)."""
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        if ".".join(parts[:k]) in MODULES:
            return ".".join(parts[:k])
    return parts[0]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(module: str) -> list[Import]:
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, at_load: bool, type_only: bool = False) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(module, _resolve(a.name), node.lineno, at_load, type_only) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, *([base] if base else [])])
            for a in node.names:  # `from pkg import submodule` names the submodule
                full = f"{base}.{a.name}"
                found.append(Import(module, full if full in MODULES else _resolve(base), node.lineno, at_load,
                                    type_only))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            for child in ast.iter_child_nodes(node):
                visit(child, False, type_only)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, False, True)
            for child in node.orelse:
                visit(child, at_load, type_only)
        else:
            for child in ast.iter_child_nodes(node):
                visit(child, at_load, type_only)

    visit(ast.parse(path.read_text(), str(path)), True)
    return found


ALL_IMPORTS = [imp for m in MODULES for imp in imports_of(m)]


def _top(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize("lower", PACKAGES[:-1])
def test_no_package_imports_a_package_above_it(lower: str) -> None:
    above = set(PACKAGES[PACKAGES.index(lower) + 1:])
    bad = [f"{i.source}:{i.line} imports {i.target}" for i in ALL_IMPORTS
           if _top(i.source) == lower and _top(i.target) in above and not i.source.endswith(".__main__")]
    assert not bad, f"{lower} must import nothing of {sorted(above)}:\n" + "\n".join(bad)


def test_the_data_layer_imports_no_torch_when_it_loads_and_nothing_above_it() -> None:
    data = [m for m in MODULES if m == "biodsnn.data" or m.startswith("biodsnn.data.")]
    assert len(data) > 3
    bad = [f"{i.source}:{i.line} imports torch when it loads" for i in ALL_IMPORTS
           if i.source in data and i.at_load and _top(i.target) in ("torch", "torch_geometric")]
    below = {"biodsnn", "biodsnn.config"}  # the package's lazy façade and the defaults module (standard library only)
    bad += [f"{i.source}:{i.line} imports {i.target}" for i in ALL_IMPORTS
            if i.source in data and _top(i.target) == "biodsnn" and i.target not in data and i.target not in below]
    assert not bad, "\n".join(bad)
    # and for real: importing it (and the public names of the package) leaves torch unloaded
    code = ("import sys, biodsnn.data as d; [getattr(d, n) for n in d.__all__]; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _cycles(package: str) -> list[list[str]]:
    """Strongly connected components of more than one module among ``package``'s modules (Tarjan)."""
    nodes = [m for m in MODULES if _top(m) == package]
    edges: dict[str, set[str]] = {m: set() for m in nodes}
    for i in ALL_IMPORTS:
        facade = MODULES[i.source].name == "__init__.py" and i.target.startswith(i.source + ".")
        if i.source in edges and i.target in edges and i.target != i.source and not facade and not i.type_only:
            # a package's __init__ is its façade: it re-exports its own submodules (which may read, e.g., the
            # version from it); the layering that matters is between the modules themselves
            edges[i.source].add(i.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in nodes:
        if v not in index:
            strong(v)
    return out


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles_between_modules(package: str) -> None:
    assert _cycles(package) == []


def test_the_scanner_sees_lazy_and_relative_imports() -> None:
    """The checks above can fail: the scanner finds an import inside a function and resolves a relative one."""
    found = {(i.source, i.target, i.at_load) for i in ALL_IMPORTS}
    assert ("biodsnn.model", "torch", True) in found
    lazy = [i for i in ALL_IMPORTS if not i.at_load and _top(i.target) in PACKAGES]
    assert lazy  # the project has function-level imports of its own modules; they are counted


#: Inside biodsnn, what each part may import of the others (docs/architecture.md draws the same). evaluate and plots
#: sit together: reports draw plots, and plots read the metrics' definitions.
BIODSNN_LAYERS: dict[str, set[str]] = {
    "biodsnn.config": set(),
    "biodsnn.variants": {"biodsnn.config"},
    "biodsnn.distributed": set(),
    "biodsnn.data": {"biodsnn.config"},
    "biodsnn.dataloaders": {"biodsnn.config", "biodsnn.data", "biodsnn.distributed"},
    "biodsnn.modules": {"biodsnn.config", "biodsnn.variants"},
    "biodsnn.train": {"biodsnn.config", "biodsnn.distributed"},
    "biodsnn.model": {"biodsnn.config", "biodsnn.variants", "biodsnn.distributed", "biodsnn.data",
                      "biodsnn.dataloaders", "biodsnn.modules", "biodsnn.train"},
    "biodsnn.baselines": {"biodsnn.config", "biodsnn.data"},
    "biodsnn.evaluate": {"biodsnn.config", "biodsnn.data", "biodsnn.plots"},
    "biodsnn.plots": {"biodsnn.config", "biodsnn.data", "biodsnn.evaluate"},
}


def _part(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_biodsnn_parts_import_only_the_parts_below_them() -> None:
    parts = {_part(m) for m in MODULES if _top(m) == "biodsnn" and m != "biodsnn"}
    # the benchmark pipeline may use every part; __main__ is the CLI's entry point
    unplaced = parts - set(BIODSNN_LAYERS) - {"biodsnn.benchmark", "biodsnn.__main__"}
    assert not unplaced, f"place {sorted(unplaced)} in BIODSNN_LAYERS and docs/architecture.md"
    bad = [f"{i.source}:{i.line} imports {i.target}" for i in dict.fromkeys(ALL_IMPORTS)
           if _part(i.source) in BIODSNN_LAYERS and _top(i.target) == "biodsnn" and i.target != "biodsnn"
           and _part(i.target) != _part(i.source) and _part(i.target) not in BIODSNN_LAYERS[_part(i.source)]]
    assert not bad, "\n".join(bad)
