"""The CLIs start light (issue 18, point 5): importing a CLI module, or asking any command for --help, imports no
torch, Neo4j driver or matplotlib, and `reactomenet genes-of` answers without pandas, scipy, numpy or networkx.

Each check runs in a fresh interpreter and reads ``sys.modules`` (never a timing), so what this test process
already imported cannot hide an import.
"""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import cli

ROOT = Path(__file__).resolve().parents[2]
NEVER_AT_START = ("torch", "neo4j", "matplotlib")
CLI_MODULES = sorted(f"cli.{m.name}" for m in pkgutil.iter_modules(cli.__path__))


def _loaded_after(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; it leaves its answer in ``out``; returns it with the top-level packages
    then imported, as ``loaded``."""
    script = f"import json, sys\nout = {{}}\n{code}\nout['loaded'] = sorted({{m.split('.')[0] for m in sys.modules}})\n"
    script += "print(json.dumps(out))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_cli_modules_are_all_found() -> None:
    assert {"cli.reactomenet", "cli.kg_build", "cli.biodsnn", "cli._common", "cli._biodsnn_model"} <= set(CLI_MODULES)


@pytest.mark.parametrize("module", CLI_MODULES)
def test_importing_a_cli_module_imports_no_heavy_package(module: str) -> None:
    loaded = _loaded_after(f"import importlib\nimportlib.import_module({module!r})")["loaded"]
    assert not set(NEVER_AT_START) & set(loaded), f"{module} imports {set(NEVER_AT_START) & set(loaded)}"


def test_every_help_page_imports_no_torch() -> None:
    code = """
import click
from click.testing import CliRunner
from cli.biodsnn import main as biodsnn
from cli.kg_build import main as kg_build
from cli.reactomenet import main as reactomenet

def walk(command, path):
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from walk(sub, [*path, name])

out["pages"] = []
for main in (biodsnn, kg_build, reactomenet):
    for path in walk(main, []):
        result = CliRunner().invoke(main, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        out["pages"].append(" ".join([main.name or "", *path]))
"""
    out = _loaded_after(code)
    assert len(out["pages"]) > 20  # every subcommand of the three CLIs was asked
    assert not set(NEVER_AT_START) & set(out["loaded"]), set(NEVER_AT_START) & set(out["loaded"])


def test_genes_of_answers_without_the_science_stack() -> None:
    code = """
from click.testing import CliRunner
from cli.reactomenet import main
result = CliRunner().invoke(main, ["genes-of", "R-HSA-109581"])
out["exit"], out["genes"] = result.exit_code, result.output.split()
"""
    out = _loaded_after(code)
    assert out["exit"] == 0 and "CASP3" in out["genes"] and len(out["genes"]) > 100
    heavy = {"pandas", "scipy", "numpy", "networkx", "pyarrow", *NEVER_AT_START} & set(out["loaded"])
    assert not heavy, f"reactomenet genes-of imported {heavy}"
