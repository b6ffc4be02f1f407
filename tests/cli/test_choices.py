"""CLI choice lists come from the registries (issue 18, point 4): every RegistryChoice names a registry that exists,
and an unknown name is one `error:` line with close matches."""

from __future__ import annotations

import importlib

import click
import pytest
from click.testing import CliRunner

from cli._common import RegistryChoice
from cli.biodsnn import main as biodsnn
from cli.kg_build import main as kg_build
from cli.reactomenet import main as reactomenet


def _registry_params() -> list[tuple[str, click.Parameter]]:
    found = []

    def walk(command: click.Command, path: str) -> None:
        for param in command.params:
            if isinstance(param.type, RegistryChoice):
                found.append((f"{path} {param.name}", param))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    for main, name in ((biodsnn, "biodsnn"), (kg_build, "kg-build"), (reactomenet, "reactomenet")):
        walk(main, name)
    return found


PARAMS = _registry_params()


def test_the_registry_choices_are_found() -> None:
    names = {where for where, _ in PARAMS}
    assert {"biodsnn data split kind", "biodsnn fit variant", "biodsnn evaluate baselines", "biodsnn evaluate metrics",
            "biodsnn simulate preset", "kg-build go relations"} <= names


@pytest.mark.parametrize(("where", "param"), PARAMS, ids=[w for w, _ in PARAMS])
def test_each_choice_is_its_registry(where: str, param: click.Parameter) -> None:
    choice = param.type
    assert isinstance(choice, RegistryChoice)
    module, _, attribute = choice.source.partition(":")
    registry = getattr(importlib.import_module(module), attribute)
    assert choice.choices == tuple(n for n in registry if n not in choice.exclude) + choice.extra
    defaults = param.default if isinstance(param.default, (tuple, list)) else (param.default,)
    for default in (d for d in defaults if isinstance(d, str)):  # not None or click's UNSET
        assert choice.convert(default, param, None) == default  # the default is a registered name


def test_a_list_choice_takes_names_and_extra_words() -> None:
    choice = RegistryChoice("biodsnn.baselines:BASELINES", what="baseline", separator=",", extra=("all", "none"))
    assert choice.convert("mean, additive", None, None) == "mean, additive"  # passed on as given
    assert choice.convert("ALL", None, None) == "ALL"


def test_an_unknown_name_is_one_line_with_close_matches(tmp_path) -> None:
    result = CliRunner().invoke(biodsnn, ["data", "split", "--data", str(tmp_path / "d.h5ad"), "--kind", "singel",
                                          "-o", str(tmp_path / "s.json")])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: unknown split kind 'singel' (did you mean single?); choose simulation, single, combo_seen0, "
        "combo_seen1, combo_seen2, transfer, no_test, custom"
    ]
    assert list(tmp_path.iterdir()) == []
