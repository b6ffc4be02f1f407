"""Release files: plain vs gz, hashes, species filter, the environment variable, and malformed input (fuzzed)."""

from __future__ import annotations

import contextlib
import gzip
import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reactomenet import RELEASE_ENV, ReactomeGraph
from reactomenet._release import parse_gmt, parse_pathways, parse_relations
from reactomenet.errors import NotFoundError, ReleaseFormatError

NAMES = ("ReactomePathways.txt", "ReactomePathwaysRelation.txt", "ReactomePathways.gmt")


def _plain_copy(raw, folder):
    folder.mkdir()
    for name, blob in raw.files.items():
        (folder / name).write_bytes(blob)
    return folder


def test_sha256_is_of_the_decompressed_content(graph, raw):
    assert graph.release.sha256 == {n: hashlib.sha256(b).hexdigest() for n, b in raw.files.items()}
    assert graph.release.bundled
    assert all(p.suffix == ".gz" for p in graph.release.files.values())


def test_plain_and_gz_give_identical_graphs(graph, raw, tmp_path):
    plain = ReactomeGraph.load(_plain_copy(raw, tmp_path / "plain"), cache=False)
    assert plain.release.sha256 == graph.release.sha256
    assert not plain.release.bundled
    assert plain.pathways() == graph.pathways()
    assert plain.levels() == graph.levels()
    assert plain.genes() == graph.genes()
    for pid in ("R-HSA-109581", "R-HSA-5357801", "R-HSA-1640170"):
        assert plain.genes_of(pid) == graph.genes_of(pid)
        assert plain.children(pid) == graph.children(pid)
    genes = graph.genes()[::40]
    a, b = plain.mask(genes, level=3), graph.mask(genes, level=3)
    assert (a.i == b.i).all() and (a.j == b.j).all()


def test_mixed_plain_and_gz_files(raw, tmp_path, tiny_parts, make_release):
    folder = make_release(tmp_path / "mixed", *tiny_parts)
    gmt = folder / "ReactomePathways.gmt"
    (folder / "ReactomePathways.gmt.gz").write_bytes(gzip.compress(gmt.read_bytes()))
    gmt.unlink()
    g = ReactomeGraph.load(folder, cache=False)
    assert g.release.files["ReactomePathways.gmt"].name == "ReactomePathways.gmt.gz"
    assert g.genes_of("R-HSA-13") == ["B", "P", "Q"]


def test_species_filter_mouse(mouse_raw):
    mouse = ReactomeGraph.load(species="R-MMU")
    assert mouse.release.species == "R-MMU" and mouse.release.species_name == "Mus musculus"
    assert {p.id for p in mouse.pathways()} == set(mouse_raw.names)
    assert {p: mouse.level_of(p) for p in mouse_raw.names} == mouse_raw.levels
    pid = next(iter(sorted(mouse_raw.children)))
    assert mouse.children(pid) == sorted(mouse_raw.children[pid])
    # This release ships gene sets for human only.
    assert mouse.genes() == [] and mouse.genes_of(pid) == []
    with pytest.raises(NotFoundError, match="--species"):
        mouse.level_of("R-HSA-109581")
    assert ReactomeGraph.load(species="mmu") is mouse  # normalised prefix, cached


def test_unknown_species_and_missing_release(tmp_path):
    with pytest.raises(NotFoundError, match="R-HSA"):
        ReactomeGraph.load(species="R-XYZ")
    with pytest.raises(NotFoundError, match="id prefix"):
        ReactomeGraph.load(species="human beings")
    with pytest.raises(NotFoundError, match="does not exist"):
        ReactomeGraph.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotFoundError, match=r"ReactomePathways\.txt"):
        ReactomeGraph.load(tmp_path / "empty")


def test_environment_variable_overrides_bundled(tmp_path, monkeypatch, tiny_parts, make_release):
    folder = make_release(tmp_path / "env", *tiny_parts, gz=True)
    monkeypatch.setenv(RELEASE_ENV, str(folder))
    g = ReactomeGraph.load(cache=False)
    assert g.release.dir == folder and len(g.pathways()) == 6
    monkeypatch.setenv(RELEASE_ENV, str(tmp_path / "missing"))
    with pytest.raises(NotFoundError, match=RELEASE_ENV):
        ReactomeGraph.load(cache=False)


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("ReactomePathways.txt", "R-HSA-1\tRoot one\n", r"ReactomePathways.txt line 1: expected 3"),
        ("ReactomePathways.txt", "R-HSA-1\tRoot\tHomo sapiens\nR-HSA-1\tAgain\tHomo sapiens\n", "twice"),
        ("ReactomePathways.txt", "", "empty"),
        ("ReactomePathwaysRelation.txt", "R-HSA-1\tR-HSA-10\nR-HSA-10\n", r"Relation.txt line 2"),
        ("ReactomePathwaysRelation.txt", "R-HSA-1\tR-HSA-99\n", "R-HSA-99 is not in"),
        ("ReactomePathwaysRelation.txt", "R-HSA-1\tR-HSA-10\nR-HSA-10\tR-HSA-1\n", "cycle"),
        ("ReactomePathwaysRelation.txt", "R-HSA-1\tR-HS\n", "not a Reactome stable id"),
        ("ReactomePathways.gmt", "Root one\tR-HSA-1\n", r"gmt line 1: expected name, id and at least one gene"),
        ("ReactomePathways.gmt", "Root one\tR-HSA-1\tA\tA\n", "twice"),
        ("ReactomePathways.gmt", "Root one\tR-HSA-77\tA\n", "R-HSA-77 is not in"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path, tiny_parts, make_release, name, text, match):
    folder = make_release(tmp_path / "bad", *tiny_parts)
    (folder / name).write_text(text)
    with pytest.raises(ReleaseFormatError, match=match):
        ReactomeGraph.load(folder, cache=False)


def test_truncated_gzip_is_a_format_error(tmp_path, tiny_parts, make_release):
    folder = make_release(tmp_path / "gz", *tiny_parts, gz=True)
    blob = (folder / "ReactomePathways.gmt.gz").read_bytes()
    (folder / "ReactomePathways.gmt.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ReleaseFormatError, match="truncated gzip"):
        ReactomeGraph.load(folder, cache=False)


def test_crlf_and_missing_final_newline_are_accepted():
    assert parse_pathways(b"R-HSA-1\tA\tHomo sapiens\r\nR-HSA-2\tB\tHomo sapiens") == [
        ("R-HSA-1", "A", "Homo sapiens"),
        ("R-HSA-2", "B", "Homo sapiens"),
    ]


# ------------------------------------------------------------------------------------------- fuzzing
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
PARSERS = (parse_pathways, parse_relations, parse_gmt)

_token = st.sampled_from(["R-HSA-1", "R-HSA-10", "R-MMU-5", "R-HS", "TP53", "Apoptosis", "", " ", "Homo sapiens"])
_line = st.lists(_token, min_size=0, max_size=5).map("\t".join)
_text = st.lists(_line, max_size=8).map("\n".join)


@FUZZ
@given(data=st.binary(max_size=300))
def test_parsers_on_random_bytes_raise_only_format_errors(data):
    for parse in PARSERS:
        with contextlib.suppress(ReleaseFormatError):
            parse(data)


@FUZZ
@given(text=_text, crlf=st.booleans())
def test_parsers_on_near_valid_text_raise_only_format_errors(text, crlf):
    data = (text.replace("\n", "\r\n") if crlf else text).encode()
    for parse in PARSERS:
        try:
            rows = parse(data)
        except ReleaseFormatError:
            continue
        assert isinstance(rows, list)


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(which=st.sampled_from(NAMES), cut=st.floats(0, 1), gz=st.booleans(), extra=st.binary(max_size=20))
def test_truncated_or_corrupted_release_loads_or_raises_format_error(tiny_parts, make_release, which, cut, gz, extra):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        folder = make_release(Path(tmp) / "r", *tiny_parts, gz=gz)
        path = folder / (which + (".gz" if gz else ""))
        blob = path.read_bytes()
        path.write_bytes(blob[: int(len(blob) * cut)] + extra)
        try:
            g = ReactomeGraph.load(folder, cache=False)
        except ReleaseFormatError:
            return
        assert len(g.pathways()) >= 1  # whatever survived is a consistent graph
        for p in g.pathways():
            assert g.level_of(p.id) == 1 or any(g.level_of(q) == p.level - 1 for q in g.parents(p.id))
