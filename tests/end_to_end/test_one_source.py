"""One place for each default (read by every layer and the CLI), and the behaviour that follows from it.

`biodsnn data split` and `kg-build bundle` with their defaults, then `biodsnn fit` without --split: the fit uses the
split the bundle was built with (the bundle keeps it) instead of drawing another one and being refused.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from biodsnn.config import SPLIT_SEED, TRAIN_DEFAULTS, TrainConfig
from biodsnn.data import Split, load_perturb_data, make_split, simulate

ROOT = Path(__file__).resolve().parents[2]
#: Settings with one default each; where it lives.
ONE_PLACE = dict.fromkeys(TRAIN_DEFAULTS, "biodsnn/config.py")


def _sources() -> list[Path]:
    """The model's code and its commands (reactomenet's Neo4j loader has a batch_size of another meaning)."""
    return sorted((ROOT / "biodsnn").rglob("*.py")) + sorted((ROOT / "cli").glob("_biodsnn*.py"))


def _literal(node: ast.AST | None) -> bool:
    """A number or bool written as such (None is 'not set here')."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, int | float) and node.value is not None


#: A named variant's recipe that differs from the defaults on purpose (biodsnn.variants: the paper's weight decay).
RECIPES = {"_PAPER"}


def _names(statement: ast.Assign | ast.AnnAssign) -> set[str]:
    targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
    return {t.id for t in targets if isinstance(t, ast.Name)}


def literal_defaults(tree: ast.AST) -> list[tuple[str, int]]:
    """``(name, line)`` of every literal default written for a setting: a parameter default, an entry of a dict
    defined at module level (a table of defaults; a dict built inside a function is a value, not a default), a
    dataclass field, or a click option's ``default=``."""
    out = []
    tables = [s.value for s in getattr(tree, "body", []) if isinstance(s, ast.Assign | ast.AnnAssign) and s.value
              and not (_names(s) & RECIPES)]
    for node in [n for t in tables for n in ast.walk(t) if isinstance(n, ast.Dict)]:
        out += [(k.value, v.lineno) for k, v in zip(node.keys, node.values, strict=True)
                if isinstance(k, ast.Constant) and isinstance(k.value, str) and _literal(v)]
    for node in ast.walk(tree):
        if isinstance(node, ast.arguments):
            pos = node.posonlyargs + node.args
            pairs = list(zip(pos[len(pos) - len(node.defaults):], node.defaults, strict=True))
            pairs += [(a, d) for a, d in zip(node.kwonlyargs, node.kw_defaults, strict=True) if d is not None]
            out += [(a.arg, d.lineno) for a, d in pairs if _literal(d)]
        elif isinstance(node, ast.ClassDef):
            out += [(s.target.id, s.lineno) for s in node.body if isinstance(s, ast.AnnAssign)
                    and isinstance(s.target, ast.Name) and _literal(s.value)]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "option":
            flags = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            default = next((k.value for k in node.keywords if k.arg == "default"), None)
            out += [(f.lstrip("-").replace("-", "_"), node.lineno) for f in flags[:1] if _literal(default)]
    return out


def test_each_training_default_is_written_once_in_biodsnn_config() -> None:
    found: dict[str, list[str]] = {name: [] for name in ONE_PLACE}
    for path in _sources():
        for name, line in literal_defaults(ast.parse(path.read_text(), str(path))):
            if name in found:
                found[name].append(f"{path.relative_to(ROOT)}:{line}")
    for name, where in found.items():
        assert len(where) == 1 and where[0].startswith(ONE_PLACE[name] + ":"), f"{name} defaults: {where}"


def test_the_scanner_finds_each_kind_of_default() -> None:
    code = ('def f(epochs=20, *, lr=1e-3, seed=None): ...\nD = {"weight_decay": 0.0, "x": None}\n'
            'class C:\n    batch_size: int = 256\n'
            '@click.option("--grad-clip", default=1.0)\ndef g(): ...\n')
    assert sorted(n for n, _ in literal_defaults(ast.parse(code))) == ["batch_size", "epochs", "grad_clip", "lr",
                                                                        "weight_decay"]


def test_the_seed_derivation_is_written_once() -> None:
    hits = [f"{p.relative_to(ROOT)}:{n.lineno}" for p in _sources() for n in ast.walk(ast.parse(p.read_text()))
            if isinstance(n, ast.Constant) and n.value == 1_000_003]
    assert len(hits) == 1 and hits[0].startswith("biodsnn/config.py:"), hits


def test_fit_applies_the_config_defaults() -> None:
    from biodsnn.model import DEFAULT_HPARAMS

    assert {k: DEFAULT_HPARAMS[k] for k in TRAIN_DEFAULTS} == TRAIN_DEFAULTS
    assert TrainConfig().weight_decay == DEFAULT_HPARAMS["weight_decay"] == 0.0  # what `biodsnn fit` always applied


def test_one_default_split_seed(tmp_path) -> None:
    from cli.biodsnn import main

    ad = simulate(preset="tiny", seed=0, progress=False)
    ad.write_h5ad(tmp_path / "d.h5ad")
    r = CliRunner().invoke(main, ["data", "split", "--data", str(tmp_path / "d.h5ad"), "-o", str(tmp_path / "s.json")])
    assert r.exit_code == 0, r.output
    cli_split = Split.load(tmp_path / "s.json")
    lib_split = make_split(load_perturb_data(ad).conditions)
    assert cli_split.seed == lib_split.seed == SPLIT_SEED and cli_split.fingerprint == lib_split.fingerprint


@pytest.mark.parametrize("with_split", [False, True])
def test_fit_without_split_uses_the_split_the_bundle_was_built_with(tmp_path, monkeypatch, with_split: bool) -> None:
    from cli.biodsnn import main as biodsnn
    from cli.kg_build import main as kg_build

    monkeypatch.setenv("BIODSNN_NO_PROGRESS", "1")
    h5ad, split, kb, run = tmp_path / "d.h5ad", tmp_path / "split.json", tmp_path / "kb", tmp_path / "run"
    ad = simulate(preset="tiny", seed=0, progress=False)
    ad.write_h5ad(h5ad)
    data = load_perturb_data(ad)
    (tmp_path / "genes.txt").write_text("\n".join(sorted({g for c in data.conditions for g in
                                                          data.condition_genes(c)})) + "\n")
    runner = CliRunner()
    r = runner.invoke(biodsnn, ["data", "split", "--data", str(h5ad), "-o", str(split)])  # the default split
    assert r.exit_code == 0, r.output
    r = runner.invoke(kg_build, ["bundle", "--data", str(h5ad), "--split", str(split), "--perturbable",
                                 str(tmp_path / "genes.txt"), "-o", str(kb)])
    assert r.exit_code == 0, r.output
    assert json.loads((kb / "manifest.json").read_text())["inputs"]["split"]["path"] == str(split)
    args = ["fit", "--data", str(h5ad), "--knowledge", str(kb), "-o", str(run), "--variant", "noVAE", "--epochs", "1",
            "--set", "hidden=8", "--set", "d_ff=16"] + (["--split", str(split)] if with_split else [])
    r = runner.invoke(biodsnn, args)
    assert r.exit_code == 0, r.output
    assert Split.load(run / "split.json").fingerprint == Split.load(split).fingerprint
