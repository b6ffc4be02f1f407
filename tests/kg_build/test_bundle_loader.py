"""The bundle's defaults, its genes table and what its loader refuses, each by its exact line (library level; the
CLI's tamper tests are in tests/hostile). Each case killed mutants of ``kg_build/bundle.py`` that the other bundle
tests let through (docs/testing.md)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from kg_build import KnowledgeBundle, build_bundle, data_symbols, genes_frame
from kg_build.bundle import _release_provenance
from reactomenet.errors import InputError, NotFoundError


@pytest.fixture
def built(tmp_path, data, split, fakes):
    split_file = tmp_path / "my_split.json"
    split.save(split_file)
    out = build_bundle(data, split, tmp_path / "kb", reactome=fakes.FakeReactome(), perturbable=["ACTB", "RB1"],
                       split_path=split_file)
    return out, split_file


def _line(call) -> str:
    with pytest.raises((InputError, NotFoundError)) as err:
        call()
    return str(err.value)


def test_the_defaults_are_the_documented_ones_and_the_manifest_records_them(built):
    out, split_file = built
    man = json.loads((out / "manifest.json").read_text())
    params = {k: man["parameters"][k] for k in ("level", "go_top_k", "go_min_similarity", "coexpr_top_k",
                                                "coexpr_threshold", "coexpr_cells", "mask_top_k", "mask_threshold")}
    assert params == {"level": 3, "go_top_k": 20, "go_min_similarity": 0.1, "coexpr_top_k": 20,
                      "coexpr_threshold": 0.4, "coexpr_cells": None, "mask_top_k": 20, "mask_threshold": 0.4}
    assert man["parameters"]["go"]["propagate"] is False
    assert man["inputs"]["split"]["path"] == str(split_file)
    assert "parents_sha256" not in man["inputs"]["go"]  # no GO propagation by default
    kb = KnowledgeBundle.load(out)  # every kept co-expression edge is above the default |r| > 0.4
    assert kb.coexpression.num_edges > 0 and (kb.coexpression.weight > 0.4).all()


def test_a_bundle_is_not_overwritten_into_a_folder_of_other_files_by_default(tmp_path, data, split, fakes):
    out = tmp_path / "kb"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputError):
        build_bundle(data, split, out, reactome=fakes.FakeReactome(), perturbable=["ACTB"])
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_the_loaded_bundle_keeps_its_path_table_split_and_dtypes(built):
    out, _ = built
    kb = KnowledgeBundle.load(out)
    assert kb.path == out and kb.split_file == out / "split.json"
    assert kb.genes_table.columns.tolist() == ["gene", "symbol", "measured_index", "perturbable_index"]
    assert kb.go_graph.weight.dtype == np.float32 and kb.coexpression.weight.dtype == np.float32
    assert kb.mask.source.dtype.kind == "U" and kb.mask.edge_index.shape == (2, kb.mask.num_edges)
    # a manifest that does not list split.json: the file beside it is not the bundle's split
    man = json.loads((out / "manifest.json").read_text())
    del man["files"]["split.json"]
    (out / "manifest.json").write_text(json.dumps(man))
    assert KnowledgeBundle.load(out).split_file is None


def test_genes_table_rows_by_hand():
    frame = genes_frame(["a1", "B", "x", "D"], ["A", "B", None, "D"], ["A", "C", "B"])
    assert frame.values.tolist() == [["a1", "A", 0, 0], ["B", "B", 1, 2], ["x", None, 2, -1], ["D", "D", 3, -1],
                                     ["C", "C", -1, 1]]
    with pytest.raises(ValueError):
        genes_frame(["A", "B"], ["A"], [])  # one symbol per measured gene


def test_gene_names_that_are_not_symbols_are_refused_with_the_reason():
    known = {"TP53", "MDM2"}
    assert _line(lambda: data_symbols(["ENSG00000141510", "ENSG00000135679", "TP53"], known)) == (
        "the data's gene names look like Ensembl ids (e.g. ENSG00000141510, ENSG00000135679, TP53); pass "
        "--map-genes (map_genes=True) to map Ensembl ids and aliases to symbols with reactomenet.GeneMapper, or "
        "--gene-name-key with a symbol column")
    # half Ensembl ids is not "most": the names stay, as long as one is a known symbol
    assert data_symbols(["ENSG00000141510", "TP53"], known) == ["ENSG00000141510", "TP53"]
    assert data_symbols(["TP53", "NOTAGENE", "OTHER"], known) == ["TP53", "NOTAGENE", "OTHER"]
    # exactly half Ensembl ids and no known symbol: the names are refused as unknown, not as Ensembl ids
    assert _line(lambda: data_symbols(["ENSG00000141510", "FOO"], known)).startswith(
        "the data's gene names are not known gene symbols (e.g. ENSG00000141510, FOO)")
    assert _line(lambda: data_symbols(["FOO", "BAR", "BAZ", "QUX"], known)).startswith(
        "the data's gene names are not known gene symbols (e.g. FOO, BAR, BAZ); pass --map-genes")
    assert _line(lambda: data_symbols(["FOO", "BAR", "BAZ", "QUX"], known, map_genes=True)) == (
        "none of the 4 measured genes maps to a known gene symbol (e.g. FOO, BAR, BAZ); check the organism (human) "
        "and the gene column (--gene-name-key)")


def test_release_provenance_from_a_release_with_and_without_its_own_record():
    assert _release_provenance(SimpleNamespace()) == {}
    own = SimpleNamespace(release=SimpleNamespace(provenance=lambda: {"version": "86"}))
    assert _release_provenance(own) == {"version": "86"}
    bare = SimpleNamespace(release=SimpleNamespace(sha256={"a.txt": "00"}, species="Homo sapiens"))
    assert _release_provenance(bare) == {"sha256": {"a.txt": "00"}, "species": "Homo sapiens"}
    assert _release_provenance(SimpleNamespace(release=SimpleNamespace())) == {"sha256": {}, "species": None}


def _rewrite(out: Path, edit) -> None:
    man = json.loads((out / "manifest.json").read_text())
    edit(man)
    (out / "manifest.json").write_text(json.dumps(man))


def test_the_loader_refuses_each_kind_of_damage_by_its_line(built, tmp_path):
    out, _ = built
    assert _line(lambda: KnowledgeBundle.load(tmp_path / "none")) == (
        f"knowledge bundle {tmp_path / 'none'} not found; build one with `kg-build bundle`")
    part = tmp_path / "part"
    part.mkdir()
    (part / "manifest.json").write_text("{}")
    assert _line(lambda: KnowledgeBundle.load(part)) == (
        f"{part} is not a complete knowledge bundle (no go_graph.parquet, coexpression.parquet, "
        "attention_mask.parquet, genes.parquet); rebuild it")
    man_path = out / "manifest.json"
    good = man_path.read_bytes()
    man_path.write_bytes(b"\xff\xfe\x00")
    assert _line(lambda: KnowledgeBundle.load(out)) == f"{man_path} is not a text file; rebuild the bundle"
    man_path.write_text("{")
    assert _line(lambda: KnowledgeBundle.load(out)).startswith(f"{man_path} is not valid JSON (")
    man_path.write_text("[1]")
    assert _line(lambda: KnowledgeBundle.load(out)) == (
        f"{out} is not a biodsnn-knowledge-bundle (manifest format None); rebuild it")
    man_path.write_bytes(good)
    _rewrite(out, lambda m: m.update(format="other"))
    assert _line(lambda: KnowledgeBundle.load(out)) == (
        f"{out} is not a biodsnn-knowledge-bundle (manifest format 'other'); rebuild it")
    man_path.write_bytes(good)
    _rewrite(out, lambda m: m.update(format_version=2))
    assert _line(lambda: KnowledgeBundle.load(out)) == f"{out} was written by a newer kg_build (format 2); upgrade"
    man_path.write_bytes(good)
    _rewrite(out, lambda m: m.pop("format_version"))
    assert KnowledgeBundle.load(out).genes  # no version: the first format
    man_path.write_bytes(good)


def test_the_loader_checks_every_files_size_and_hash_the_kept_split_included(built):
    out, _ = built
    man_path = out / "manifest.json"
    good = man_path.read_bytes()
    go = out / "go_graph.parquet"
    blob = go.read_bytes()
    go.write_bytes(blob[:-10])
    assert _line(lambda: KnowledgeBundle.load(out)) == (
        f"{go} has {len(blob) - 10} bytes, the manifest says {len(blob)} (truncated or replaced); rebuild the bundle "
        "with `kg-build bundle`")
    # the same size, other bytes: only the hash tells
    go.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    assert _line(lambda: KnowledgeBundle.load(out)) == (
        f"{go} is not the file this bundle was built with (sha256 differs from manifest.json; copied from another "
        "bundle or corrupted); rebuild the bundle with `kg-build bundle`")
    # without sizes in the manifest the hash still catches a truncated file
    _rewrite(out, lambda m: m.pop("file_sizes"))
    go.write_bytes(blob[:-10])
    assert "sha256 differs" in _line(lambda: KnowledgeBundle.load(out))
    go.write_bytes(blob)
    man_path.write_bytes(good)
    split = out / "split.json"
    text = split.read_text()
    split.write_text(text + " ")
    assert _line(lambda: KnowledgeBundle.load(out)).startswith(f"{split} has {len(text.encode()) + 1} bytes")
    split.write_text(text)
    # a file the manifest does not vouch for that is no Parquet, and one with other columns
    genes = out / "genes.parquet"
    kept = genes.read_bytes()
    genes.write_bytes(b"not parquet")
    _rewrite(out, lambda m: (m["files"].pop("genes.parquet"), m["file_sizes"].pop("genes.parquet")))
    assert _line(lambda: KnowledgeBundle.load(out)).startswith(f"{genes} is not a readable Parquet file (")
    pd.DataFrame({"other": [1]}).to_parquet(genes)
    assert _line(lambda: KnowledgeBundle.load(out)) == (
        f"{out} is not a valid knowledge bundle (KeyError: 'measured_index'); rebuild it")
    genes.write_bytes(kept)
    man_path.write_bytes(good)
    assert KnowledgeBundle.load(out).genes


def test_check_compatible_lines_name_the_counts_and_fingerprints(built, data, split, fakes):
    out, _ = built
    kb = KnowledgeBundle.load(out)
    fewer = fakes.make_data(genes=fakes.GENES[:-1])
    assert _line(lambda: kb.check_compatible(fewer, split)) == (
        f"knowledge bundle {out} was built for other genes ({len(fakes.GENES)} genes in the bundle vs "
        f"{len(fakes.GENES) - 1} in the data); rebuild it")
    other = fakes.FakeSplit({**fakes.SPLIT, "CEBPA+ctrl": "train"})
    assert _line(lambda: kb.check_compatible(data, other)) == (
        f"knowledge bundle {out} was built for another split (fingerprint {split.fingerprint[:12]}… vs "
        f"{other.fingerprint[:12]}…); rebuild it with this split")
    new = fakes.make_data(seed=5)
    assert _line(lambda: kb.check_compatible(new, split)) == (
        f"knowledge bundle {out} was built from other data (fingerprint {data.fingerprint[:12]}… vs "
        f"{new.fingerprint[:12]}…); rebuild it for this data file")


def test_every_option_reaches_its_builder_and_the_manifest_says_so(tmp_path, data, fakes):
    """Non-default options: each table equals its builder called directly with them; the manifest and each
    Parquet file's metadata say what was built from what."""
    from kg_build.coexpression import coexpression_graph, pearson_matrix, training_cells
    from kg_build.go import BUNDLED_PARENTS, bundled_path, file_sha256, go_graph, load_go_annotations
    from kg_build.mask import mask_from_reactome
    from reactomenet.io import read_parquet_metadata

    split = fakes.FakeSplit(fakes.SPLIT)
    split.seed = 7
    rows = training_cells(data, split)
    n = rows.size - 5
    data_path, split_path = tmp_path / "d.h5ad", tmp_path / "s.json"
    opts = {"level": 2, "go_top_k": 3, "go_min_similarity": 0.2, "coexpr_top_k": 2, "coexpr_threshold": 0.15,
            "coexpr_cells": n, "mask_top_k": 3, "mask_threshold": 0.6, "ontologies": ("BP", "MF"),
            "drop_evidence": ("IEA",), "propagate": True}
    class Recording(fakes.FakeReactome):  # the stand-in's pathways do not depend on the level: record it
        def mask(self, genes, level=3):
            self.level = level
            return super().mask(genes, level)

    reactome = Recording()
    data.options = {"convention": "gears"}
    out = build_bundle(data, split, tmp_path / "kb", reactome=reactome, perturbable=["ACTB", "RB1"],
                       data_path=data_path, split_path=split_path, **opts)
    assert reactome.level == 2
    drawn = np.sort(np.random.default_rng(7).choice(rows, n, replace=False))
    corr = pearson_matrix(data.X, drawn)
    annotations = load_go_annotations(None, ontologies=("BP", "MF"), drop_evidence=("IEA",), propagate=True)
    kb = KnowledgeBundle.load(out)
    want = {
        "coexpression": coexpression_graph(corr, data.genes, top_k=2, threshold=0.15).to_frame(),
        "attention_mask": mask_from_reactome(reactome, data.genes, corr, level=2, top_k=3, threshold=0.6,
                                             symbols=data.genes).to_frame(),
        "go_graph": go_graph(annotations, kb.perturbable_genes, top_k=3, min_similarity=0.2).to_frame(),
    }
    for name, frame in want.items():
        got = pd.read_parquet(out / f"{name}.parquet").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, frame.reset_index(drop=True), check_dtype=False, obj=name)
    assert not want["coexpression"].empty and not want["go_graph"].empty
    at_default = mask_from_reactome(reactome, data.genes, corr, level=2, top_k=3, symbols=data.genes).to_frame()
    assert len(at_default) != len(want["attention_mask"])  # the threshold given changes the mask
    man = json.loads((out / "manifest.json").read_text())
    assert {k: man[k] for k in ("format", "format_version", "package")} == {
        "format": "biodsnn-knowledge-bundle", "format_version": 1, "package": "kg_build"}
    assert man["inputs"]["go"] == {"path": annotations.source, "sha256": annotations.sha256,
                                   "parents_sha256": file_sha256(bundled_path(BUNDLED_PARENTS))}
    assert man["inputs"]["reactome"] == {"sha256": {"ReactomePathways.gmt": "f" * 64}, "species": "R-HSA"}
    assert man["inputs"]["data"] == {"path": str(data_path), "fingerprint": data.fingerprint,
                                     "options": {"convention": "gears"}}
    assert man["inputs"]["split"] == {"path": str(split_path), "fingerprint": split.fingerprint, "kind": "custom",
                                      "seed": 7}
    assert man["parameters"] == {**{k: v for k, v in opts.items() if k not in ("ontologies", "drop_evidence",
                                                                                 "propagate")},
                                 "go": annotations.options, "perturbable": "user list", "map_genes": False}
    perturbed = sorted({g for c in data.conditions for g in data.condition_genes(c)})
    assert man["counts"] == {
        "measured_genes": len(data.genes), "perturbable_genes": len(kb.perturbable_genes), "training_cells": n,
        "go_edges": kb.go_graph.num_edges, "coexpression_edges": kb.coexpression.num_edges,
        "mask_pairs": kb.mask.num_edges, "perturbed_genes": len(perturbed),
        "perturbed_without_go": sorted(set(perturbed) - set(kb.perturbable_genes)), "measured_without_symbol": 0}
    files = sorted(p.name for p in out.iterdir() if p.name != "manifest.json")
    assert man["file_sizes"] == {f: (out / f).stat().st_size for f in files} and sorted(man["files"]) == files
    for name in ("go_graph", "coexpression", "attention_mask", "genes"):
        meta = read_parquet_metadata(out / f"{name}.parquet")
        assert {k: meta[k] for k in ("bundle", "data_fingerprint", "split_fingerprint", "kind")} == {
            "bundle": "biodsnn-knowledge-bundle", "data_fingerprint": data.fingerprint,
            "split_fingerprint": split.fingerprint, "kind": name}, name


def test_build_refusals_by_their_lines(tmp_path, data, split, fakes):
    opts = {"reactome": fakes.FakeReactome(), "perturbable": ["ACTB"]}
    assert _line(lambda: build_bundle(data, None, tmp_path / "a", **opts)) == (
        "no split given: the co-expression graph and the mask use training cells only; pass --split split.json "
        "(make one with `biodsnn data split`)")
    odd = fakes.FakeData(data.X, data.genes, [c.replace("TP53", "ZZ_A").replace("MYC", "ZZ_B")
                                              .replace("KLF1", "ZZ_C").replace("GATA1", "ZZ_D")
                                              .replace("CEBPA", "ZZ_E") for c in data._cond])
    odd_split = fakes.FakeSplit({k.replace("TP53", "ZZ_A").replace("MYC", "ZZ_B").replace("KLF1", "ZZ_C")
                                 .replace("GATA1", "ZZ_D").replace("CEBPA", "ZZ_E"): v for k, v in fakes.SPLIT.items()})
    # the perturbed genes are always perturbable: with none of them in GO and a list of none either, nothing is
    assert _line(lambda: build_bundle(odd, odd_split, tmp_path / "b", **{**opts, "perturbable": ["ZZ_NOVEL1"]})) == (
        "no perturbable gene has a GO annotation; give --perturbable genes that GO annotates")
    assert _line(lambda: build_bundle(odd, odd_split, tmp_path / "c", **opts)) == (
        "none of the 5 perturbed genes has a GO annotation (e.g. ZZ_A, ZZ_B, ZZ_C); are the condition names gene "
        "symbols?")
    two = build_bundle(data, split, tmp_path / "d", coexpr_cells=2, **opts)  # two cells are enough to correlate
    man = json.loads((two / "manifest.json").read_text())
    assert man["counts"]["training_cells"] == 2 and man["inputs"]["split"]["path"] is None  # no split file given
    assert man["inputs"]["data"]["path"] == ""  # neither a data path nor a source
    assert _line(lambda: build_bundle(data, split, tmp_path / "e", coexpr_cells=1, **opts)) == (
        "coexpr_cells must be at least 2, got 1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]
