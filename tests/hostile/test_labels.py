"""Case 5: labels are never silently reinterpreted; property-based tests of the condition parser and the split and
mapping readers (issue 16)."""

from __future__ import annotations

import contextlib
import json
import string

import anndata
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from biodsnn.data import Split, canonical_condition, format_condition, make_split, parse_condition, read_mapping
from cli.biodsnn import main as biodsnn
from reactomenet.errors import InputError

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FILES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _relabel(sandbox, tmp_path, change) -> str:
    adata = anndata.read_h5ad(sandbox.root / "data.h5ad")
    labels = adata.obs["condition"].astype(str).to_numpy().astype(object)
    adata.obs["condition"] = change(labels)
    adata.write_h5ad(tmp_path / "bad.h5ad")
    return "bad.h5ad"


def test_nan_condition_is_refused(sandbox, tmp_path, refused) -> None:
    def nan_first(labels):
        labels = labels.copy()
        labels[5] = np.nan
        return pd.Series(labels, dtype=object).to_numpy()

    name = _relabel(sandbox, tmp_path, nan_first)
    refused(biodsnn, ["data", "info", "--data", name], "no condition")


def test_text_nan_condition_is_refused(sandbox, tmp_path, refused) -> None:
    name = _relabel(sandbox, tmp_path, lambda labels: np.where(np.arange(len(labels)) == 3, "nan", labels))
    refused(biodsnn, ["data", "info", "--data", name], "'nan'", "missing value")


def test_trailing_delimiter_is_refused(sandbox, tmp_path, refused) -> None:
    double = next(c for c in sandbox.data.conditions if len(parse_condition(c)) == 2)
    first = parse_condition(double)[0]
    name = _relabel(sandbox, tmp_path, lambda labels: np.where(labels == double, f"{first}+", labels))
    refused(biodsnn, ["data", "info", "--data", name], f"{first}+", "empty gene")


def test_other_delimiter_hints_at_the_option(sandbox, tmp_path, refused) -> None:
    def underscore(labels):
        out = []
        for c in labels:
            genes = parse_condition(c)
            out.append("ctrl" if not genes else "_".join(genes))
        return np.asarray(out, dtype=object)

    name = _relabel(sandbox, tmp_path, underscore)
    refused(biodsnn, ["data", "info", "--data", name], "--delimiter '_'")
    from cli.biodsnn import main

    from .conftest import invoke

    r = invoke(main, ["data", "info", "--data", tmp_path / name, "--delimiter", "_", "--json"])
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["conditions"] == len(sandbox.data.conditions)


def test_lower_case_gene_gets_did_you_mean(sandbox, work, refused) -> None:
    work("run_full")
    gene = sandbox.perturbed[0]
    refused(biodsnn, ["predict", "run_full", "-p", gene.lower(), "-o", "pred.h5ad"], f"did you mean {gene}")


@pytest.mark.parametrize("fmt", ["json_duplicate_key", "csv_duplicate", "same_condition_two_spellings"])
def test_condition_listed_twice_in_a_mapping(sandbox, tmp_path, refused, fmt) -> None:
    single = next(c for c in sandbox.data.conditions if len(parse_condition(c)) == 1)
    double = next(c for c in sandbox.data.conditions if len(parse_condition(c)) == 2)
    a, b = parse_condition(double)
    if fmt == "json_duplicate_key":
        path, text = "m.json", f'{{"{single}": "train", "{double}": "train", "{double}": "test"}}'
    elif fmt == "csv_duplicate":
        path, text = "m.csv", f"condition,split\n{single},train\n{double},train\n{double},test\n"
    else:
        path, text = "m.json", json.dumps({single: "train", f"{a}+{b}": "train", f"{b}+{a}": "test"})
    (tmp_path / path).write_text(text)
    refused(biodsnn, ["data", "split", "--data", sandbox.root / "data.h5ad", "--kind", "custom", "--mapping", path,
                      "-o", "split.json"], "twice")


# ------------------------------------------------------------------------------------------- property-based
gene = st.text(alphabet=string.ascii_uppercase + string.digits + "-.", min_size=1, max_size=8).filter(
    lambda g: g.strip(".-") == g and g.lower() not in {"nan", "na", "none", "null", "ctrl"})
genes = st.lists(gene, min_size=0, max_size=4, unique=True)


@FAST
@given(genes, st.randoms())
def test_format_then_parse_round_trips_in_any_order(gs, rnd) -> None:
    shuffled = list(gs)
    rnd.shuffle(shuffled)
    written = "+".join(shuffled) if len(shuffled) != 1 else rnd.choice([shuffled[0], f"{shuffled[0]}+ctrl",
                                                                        f"ctrl+{shuffled[0]}"])
    if not shuffled:
        written = "ctrl"
    assert parse_condition(written) == tuple(sorted(gs))
    assert parse_condition(format_condition(gs)) == tuple(sorted(gs))
    assert canonical_condition(canonical_condition(written)) == canonical_condition(written)


@FAST
@given(st.text(max_size=20))
def test_parse_of_any_text_is_genes_or_one_input_error(text) -> None:
    try:
        out = parse_condition(text)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert out == tuple(sorted(set(out)))
    assert all(g and g == g.strip() and "+" not in g and g.lower() != "nan" for g in out)


@FAST
@given(genes.filter(lambda g: len(g) >= 2), st.sampled_from(["_", ";", ","]))
def test_other_delimiters_are_named_when_the_parts_are_genes(gs, sep) -> None:
    from biodsnn.data.conditions import delimiter_hint

    assert f"--delimiter {sep!r}" in delimiter_hint(sep.join(gs), genes=gs)
    assert delimiter_hint(gs[0], genes=gs) == ""


mapping = st.dictionaries(st.builds(format_condition, genes.filter(bool)), st.sampled_from(["train", "val", "test"]),
                          max_size=6)


@FILES
@given(mapping)
def test_mapping_files_read_back_exactly(tmp_path, m) -> None:
    (tmp_path / "m.json").write_text(json.dumps(m))
    assert read_mapping(tmp_path / "m.json") == m
    (tmp_path / "m.csv").write_text("condition,split\n" + "".join(f"{k},{v}\n" for k, v in m.items()))
    assert read_mapping(tmp_path / "m.csv") == m


@FILES
@given(mapping.filter(bool))
def test_a_repeated_condition_is_always_refused(tmp_path, m) -> None:
    key, value = next(iter(m.items()))
    body = ", ".join(f'"{k}": "{v}"' for k, v in m.items())
    (tmp_path / "m.json").write_text(f'{{{body}, "{key}": "{value}"}}')
    with pytest.raises(InputError, match="twice"):
        read_mapping(tmp_path / "m.json")
    (tmp_path / "m.csv").write_text("condition,split\n" + "".join(f"{k},{v}\n" for k, v in [*m.items(), (key, value)]))
    with pytest.raises(InputError, match="twice"):
        read_mapping(tmp_path / "m.csv")


@FILES
@given(st.one_of(st.binary(max_size=64), st.text(max_size=64).map(str.encode),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                              lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                              max_leaves=8).map(lambda o: json.dumps(o).encode())))
def test_readers_of_any_bytes_give_a_result_or_one_input_error(tmp_path, blob) -> None:
    for name in ("x.json", "x.csv"):
        (tmp_path / name).write_bytes(blob)
        try:
            out = read_mapping(tmp_path / name)
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in out.items())
        except InputError:
            pass
    with contextlib.suppress(InputError):
        Split.load(tmp_path / "x.json")


@FILES
@given(mapping.filter(lambda m: "train" in m.values()))
def test_custom_split_keeps_the_mapping(m) -> None:
    split = make_split(sorted(m), kind="custom", mapping=m)
    assert split.assignment == m
