from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from biodsnn.data import canonical_condition, condition_genes, format_condition, parse_condition
from reactomenet.errors import InputError


def test_contract_examples() -> None:
    assert parse_condition("B+A") == ("A", "B")
    assert parse_condition("A") == parse_condition("A+ctrl") == parse_condition("ctrl+A") == ("A",)
    assert parse_condition("ctrl") == ()
    assert format_condition(("B", "A")) == "A+B"
    assert format_condition(("A",)) == "A+ctrl"
    assert format_condition(()) == "ctrl"
    assert format_condition(("C", "A", "B")) == "A+B+C"


def test_other_labels_and_delimiters() -> None:
    assert parse_condition("non-targeting", control_label="non-targeting") == ()
    assert parse_condition("control", control_label="control") == ()
    assert parse_condition("B_A", delimiter="_") == ("A", "B")
    assert canonical_condition(" A + B ") == "A+B"
    assert condition_genes(["A+ctrl", "B+A", "ctrl"]) == ["A", "B"]


@pytest.mark.parametrize("bad", ["", "  ", "A+A"])
def test_bad_names(bad: str) -> None:
    with pytest.raises(InputError):
        parse_condition(bad)


symbol = st.text(alphabet="ABCDEFGHIJ0123456789-", min_size=1, max_size=6).filter(lambda s: s != "ctrl")


@given(st.sets(symbol, max_size=4))
def test_round_trip(genes: set[str]) -> None:
    name = format_condition(genes)
    assert parse_condition(name) == tuple(sorted(genes))
    assert format_condition(parse_condition(name)) == name


def test_import_loads_no_torch_or_scanpy() -> None:
    import subprocess
    import sys

    code = "import sys, biodsnn.data; print('torch' in sys.modules, 'scanpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
