"""The bundle: files, manifest, loader, compatibility checks, bad input (nothing partial written), CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kg_build import KnowledgeBundle, build_bundle
from reactomenet.errors import InputError
from reactomenet.io import read_parquet_metadata


@pytest.fixture
def bundle(tmp_path, data, split, fakes):
    return build_bundle(data, split, tmp_path / "kb", **_options(fakes))


def _options(fakes):
    # a small perturbable list keeps the GO graph tiny (the ~20 k-gene graph is in the benchmark)
    return {"reactome": fakes.FakeReactome(), "go_top_k": 5, "coexpr_threshold": 0.1, "perturbable": ["ACTB", "RB1"]}


def test_bundle_files_manifest_and_loader(bundle, data, split):
    names = {p.name for p in bundle.iterdir()}
    assert names == {
        "go_graph.parquet",
        "coexpression.parquet",
        "attention_mask.parquet",
        "genes.parquet",
        "manifest.json",
        "split.json",
    }
    man = json.loads((bundle / "manifest.json").read_text())
    assert man["inputs"]["data"]["fingerprint"] == data.fingerprint
    assert man["inputs"]["split"]["fingerprint"] == split.fingerprint
    assert len(man["inputs"]["go"]["sha256"]) == 64 and man["inputs"]["reactome"]["sha256"]
    assert man["parameters"]["go_top_k"] == 5 and man["package_version"]
    assert set(man["files"]) == names - {"manifest.json"}
    assert read_parquet_metadata(bundle / "go_graph.parquet")["kind"] == "go_graph"

    kb = KnowledgeBundle.load(bundle)
    assert kb.genes == data.genes
    perturbed = {"TP53", "KLF1", "MYC", "GATA1", "CEBPA"}
    assert kb.perturbable_genes == sorted(perturbed | {"ACTB", "RB1"})  # perturbed genes are always added
    for es, n in ((kb.go_graph, len(kb.perturbable_genes)), (kb.coexpression, len(kb.genes))):
        assert es.edge_index.dtype == np.int64 and es.edge_index.shape == (2, es.num_edges) and es.num_edges > 0
        assert es.weight.dtype == np.float32 and es.weight.shape == (es.num_edges,)
        assert es.edge_index.min() >= 0 and es.edge_index.max() < n
    assert kb.mask.edge_index.shape[1] == kb.mask.source.size
    assert set(kb.mask.source) == {"reactome", "coexpression", "self"}
    assert man["counts"]["mask_pairs"] == kb.mask.num_edges == man["mask"]["pairs"]
    genes = pd.read_parquet(bundle / "genes.parquet")
    assert genes.measured_index.tolist()[: len(data.genes)] == list(range(len(data.genes)))
    tp53 = genes[genes.gene == "TP53"].iloc[0]
    assert kb.perturbable_genes[tp53.perturbable_index] == "TP53"
    kb.check_compatible(data, split)


def test_same_inputs_same_bundle(tmp_path, data, split, fakes, bundle):
    again = build_bundle(data, split, tmp_path / "kb2", **_options(fakes))
    for f in ("go_graph.parquet", "coexpression.parquet", "attention_mask.parquet", "genes.parquet"):
        assert pd.read_parquet(bundle / f).equals(pd.read_parquet(again / f))


def test_check_compatible_names_what_differs(bundle, data, split, fakes):
    kb = KnowledgeBundle.load(bundle)
    other_genes = fakes.make_data(genes=[*fakes.GENES[:-1], "ZZ_OTHER"])
    with pytest.raises(InputError, match=r"other genes \(gene 20 is ZZ_NOVEL2 in the bundle but ZZ_OTHER"):
        kb.check_compatible(other_genes, split)
    with pytest.raises(InputError, match="another split"):
        kb.check_compatible(data, fakes.FakeSplit({**fakes.SPLIT, "CEBPA+ctrl": "train"}))
    with pytest.raises(InputError, match="other data"):
        kb.check_compatible(fakes.make_data(seed=5), split)
    kb.check_compatible(fakes.make_data(seed=5), split, check_data=False)


@pytest.mark.parametrize(
    "case,match",
    [
        ("ensembl", "look like Ensembl ids.*--map-genes"),
        ("nosplit", "no split given"),
        ("noreactome", "none of the .* measured genes is in Reactome"),
    ],
)
def test_bad_input_one_line_nothing_written(tmp_path, fakes, split, case, match):
    data, sp_ = fakes.make_data(), split
    reactome = fakes.FakeReactome()
    if case == "ensembl":
        data = fakes.make_data(genes=[f"ENSG{k:011d}" for k in range(len(fakes.GENES))])
    elif case == "nosplit":
        sp_ = None
    else:
        reactome.groups = []
    out = tmp_path / "kb"
    with pytest.raises(InputError, match=match) as err:
        build_bundle(data, sp_, out, **{**_options(fakes), "reactome": reactome})
    assert "\n" not in str(err.value)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_loader_refuses_a_non_bundle(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(InputError, match="not a complete knowledge bundle"):
        KnowledgeBundle.load(tmp_path / "x")


def test_map_genes_builds_the_same_bundle_from_ensembl_ids(tmp_path, fakes, split):
    """Data named by Ensembl ids + map_genes gives the symbol-named bundle, keeping the data's own names."""
    table = pd.read_csv(
        Path(__file__).resolve().parents[2] / "reactomenet/data/genes/orgHsEgDb_3.16.0_symbol_ensembl.tsv.gz",
        sep="\t",
        dtype=str,
    ).drop_duplicates("symbol")
    ensembl_of = dict(zip(table["symbol"], table["ensembl_id"], strict=True))
    ids = [ensembl_of.get(g, g) for g in fakes.GENES]
    assert sum(i.startswith("ENSG") for i in ids) >= len(ids) - 2  # the two made-up genes keep their names
    by_symbol = build_bundle(fakes.make_data(), split, tmp_path / "symbols", **_options(fakes))
    by_ensembl = build_bundle(
        fakes.make_data(genes=ids), split, tmp_path / "ensembl", map_genes=True, **_options(fakes)
    )
    a, b = KnowledgeBundle.load(by_symbol), KnowledgeBundle.load(by_ensembl)
    assert b.genes == ids  # the bundle keeps the data's names, so it matches the data it was built from
    genes_table = pd.read_parquet(by_ensembl / "genes.parquet").dropna(subset=["measured_index"])
    expected = [g if not g.startswith("ZZ_") else None for g in fakes.GENES]  # made-up names map to nothing
    assert genes_table.sort_values("measured_index")["symbol"].tolist() == expected
    for part in ("mask", "coexpression", "go_graph"):
        np.testing.assert_array_equal(getattr(a, part).edge_index, getattr(b, part).edge_index)
    assert (a.manifest["parameters"]["map_genes"], b.manifest["parameters"]["map_genes"]) == (False, True)
    assert b.manifest["counts"]["measured_without_symbol"] == 2  # the two made-up names


def test_coexpr_cells_correlates_a_seeded_draw_of_training_cells_only(tmp_path, data, split, fakes):
    from kg_build.coexpression import coexpression_graph, pearson_matrix, training_cells

    rows = training_cells(data, split)
    n = rows.size - 3
    out = build_bundle(data, split, tmp_path / "capped", coexpr_cells=n, **_options(fakes))
    drawn = np.sort(np.random.default_rng(int(getattr(split, "seed", 0) or 0)).choice(rows, n, replace=False))
    want = coexpression_graph(pearson_matrix(data.X, drawn), data.genes, top_k=20, threshold=0.1).to_frame()
    got = pd.read_parquet(out / "coexpression.parquet")
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False)
    man = json.loads((out / "manifest.json").read_text())
    assert man["parameters"]["coexpr_cells"] == n and man["counts"]["training_cells"] == n
    plain = pd.read_parquet(build_bundle(data, split, tmp_path / "plain", **_options(fakes)) / "coexpression.parquet")
    assert not got.equals(plain)  # the draw is what was correlated
    # a cap at or above the training cells changes nothing
    full = build_bundle(data, split, tmp_path / "full", coexpr_cells=rows.size, **_options(fakes))
    assert pd.read_parquet(full / "coexpression.parquet").equals(plain)
    with pytest.raises(InputError, match="coexpr_cells"):
        build_bundle(data, split, tmp_path / "bad", coexpr_cells=1, **_options(fakes))
