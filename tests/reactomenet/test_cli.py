"""The `reactomenet` command: outputs, and one-line errors with exit status 2 for bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from cli.reactomenet import main
from reactomenet.io import read_parquet_metadata


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def assert_user_error(result, match: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert match in lines[0], lines[0]


def test_genes_of_prints_the_gmt_set(raw):
    line = next(ln for ln in raw.files["ReactomePathways.gmt"].decode().splitlines() if "\tR-HSA-109581\t" in ln)
    result = run("genes-of", "R-HSA-109581")
    assert result.exit_code == 0
    assert result.stdout == "\n".join(sorted(line.split("\t")[2:])) + "\n"
    as_json = run("genes-of", "R-HSA-109581", "--format", "json")
    assert json.loads(as_json.stdout) == sorted(line.split("\t")[2:])
    table = run("genes-of", "R-HSA-109581", "--format", "table")
    assert "CASP3" in table.stdout


def test_pathways_of_levels_and_padding(graph):
    result = run("pathways-of", "TP53", "--level", "2")
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "id\tname\tlevel"
    assert [ln.split("\t")[0] for ln in lines[1:]] == graph.pathways_of("TP53", level=2).ids
    assert result.stderr == ""
    deep = graph.pathways_of("TP53", level="all").deepest_level
    padded = run("pathways-of", "TP53", "--level", str(deep + 1), "--format", "json")
    payload = json.loads(padded.stdout)
    assert payload["padded"] is True and all(p["level"] == deep for p in payload["pathways"])
    assert "padded" in padded.stderr
    assert_user_error(run("pathways-of", "TP53", "--level", "two"), "--level")
    assert_user_error(run("pathways-of", "TP5"), "did you mean TP53")


def test_hierarchy_commands(graph):
    result = run("children", "R-HSA-109581")
    assert [ln.split("\t")[0] for ln in result.stdout.strip().splitlines()[1:]] == graph.children("R-HSA-109581")
    result = run("parents", "R-HSA-109581")
    assert result.stdout.strip().splitlines()[1] == "R-HSA-5357801\tProgrammed Cell Death\t1"
    assert run("ancestors", "R-HSA-109581").exit_code == 0
    assert len(run("descendants", "R-HSA-109581").stdout.strip().splitlines()) == 1 + len(
        graph.descendants("R-HSA-109581")
    )
    assert run("level", "R-HSA-109581").stdout == "2\n"
    assert_user_error(run("level", "R-HSA-10958"), "R-HSA-109581")
    search = run("search", "apoptosis", "--limit", "2")
    assert search.stdout.strip().splitlines()[1].startswith("R-HSA-109581\tApoptosis\t2")


def test_species_and_release_options(tmp_path, tiny_parts, make_release):
    assert run("level", "R-MMU-109581", "--species", "R-MMU").stdout == "2\n"
    folder = make_release(tmp_path / "tiny", *tiny_parts)
    assert run("level", "R-HSA-12", "--release", str(folder)).stdout == "2\n"
    (folder / "ReactomePathwaysRelation.txt").write_text("R-HSA-1\n")
    assert_user_error(run("level", "R-HSA-12", "--release", str(folder)), "line 1")
    assert_user_error(run("info", "--release", str(tmp_path / "nowhere")), "does not exist")


def test_mask_command(tmp_path):
    genes = tmp_path / "genes.txt"
    genes.write_text("# my genes\nTP53\n\nMDM2   # the E3 ligase\nNOT_A_GENE\n")
    out = tmp_path / "mask.parquet"
    result = run("mask", "--genes", str(genes), "--level", "3", "-o", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    assert frame.columns.tolist() == ["i", "j", "gene_i", "gene_j", "source"]
    assert set(frame.gene_i) == {"TP53", "MDM2", "NOT_A_GENE"}
    meta = read_parquet_metadata(out)
    assert meta["gene_count"] == 3 and meta["level"] == 3 and meta["missing"] == ["NOT_A_GENE"]
    assert "NOT_A_GENE" in result.stderr


def test_mask_with_name_mapping(tmp_path):
    genes = tmp_path / "genes.txt"
    genes.write_text("p53\nMDM2\n")
    out = tmp_path / "mask.parquet"
    result = run("mask", "--genes", str(genes), "-o", str(out), "--map-names")
    assert result.exit_code == 0, result.output
    assert "renamed p53 -> TP53" in result.stderr
    assert list(pd.read_parquet(out).gene_i.unique()) == ["TP53", "MDM2"]


@pytest.mark.parametrize(
    ("content", "match"),
    [("", "empty"), ("# only a comment\n\n", "empty"), ("TP53\nMDM2\nTP53\n", "listed twice"), ("TP53 MDM2\n", "one")],
)
def test_mask_bad_gene_lists(tmp_path, content, match):
    genes = tmp_path / "genes.txt"
    genes.write_text(content)
    out = tmp_path / "mask.parquet"
    assert_user_error(run("mask", "--genes", str(genes), "-o", str(out)), match)
    assert not out.exists()


def test_mask_unreadable_input_and_unwritable_output(tmp_path):
    assert_user_error(run("mask", "--genes", str(tmp_path / "none.txt"), "-o", str(tmp_path / "m.parquet")), "none.txt")
    genes = tmp_path / "genes.txt"
    genes.write_text("TP53\n")
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    assert_user_error(run("mask", "--genes", str(genes), "-o", str(blocker / "m.parquet")), "cannot write")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "genes.txt"]


def test_export_and_info(tmp_path):
    out = tmp_path / "graph"
    result = run("export", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "edges.parquet",
        "gene_pathways_L1.parquet",
        "gene_pathways_L2.parquet",
        "gene_pathways_L3.parquet",
        "nodes.parquet",
    ]
    info = json.loads(run("info", "--format", "json").stdout)
    assert info["species"] == "R-HSA" and info["levels"]["1"] == 29
    assert set(info["release_sha256"]) == {
        "ReactomePathways.txt",
        "ReactomePathwaysRelation.txt",
        "ReactomePathways.gmt",
    }
    text = run("info").stdout
    assert "pathways at level 3" in text and "sha256 ReactomePathways.gmt" in text
    assert_user_error(run("export", "-o", str(out), "--levels", "a,b"), "--levels")


def test_neo4j_backend_needs_a_password(monkeypatch):
    monkeypatch.delenv("REACTOMENET_NEO4J_PASSWORD", raising=False)
    assert_user_error(run("genes-of", "R-HSA-109581", "--backend", "neo4j"), "no password")


def test_map_command():
    result = run("map", "p53", "TP53", "definitely-not-a-gene", "--format", "json")
    rows = json.loads(result.stdout)
    assert [r["status"] for r in rows] == ["renamed", "ok", "unmapped"]
    assert "could not be mapped" in result.stderr


def test_neo4j_backend_refuses_a_release_folder(tmp_path):
    result = run("level", "R-HSA-109581", "--backend", "neo4j", "--release", str(tmp_path))
    assert_user_error(result, "neo4j load")
