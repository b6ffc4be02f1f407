"""GeneMapper: symbols, aliases, Ensembl ids, ambiguity, and the bundled org.Hs.eg.db tables."""

from __future__ import annotations

import gzip

import pytest

from reactomenet import GeneMapper
from reactomenet.errors import NotFoundError, ReleaseFormatError


@pytest.fixture
def small() -> GeneMapper:
    return GeneMapper(
        symbols=["TP53", "NAT1", "SLC6A2", "GENEX"],
        aliases=[("p53", "TP53"), ("NAT-1", "NAT1"), ("NAT-1", "SLC6A2"), ("OLDX", "GENEX")],
        ensembl=[("ENSG01", "TP53"), ("ENSG02", "NAT1"), ("ENSG02", "SLC6A2")],
    )


def test_symbols_aliases_and_ensembl(small):
    r = small.map(["TP53", "p53", "ENSG01", "ENSG01.7", "oldx", "nothing"])
    assert r.symbols == ["TP53", "TP53", "TP53", "TP53", "GENEX", None]
    assert r.renamed == {"p53": "TP53", "ENSG01": "TP53", "ENSG01.7": "TP53", "oldx": "GENEX"}
    assert r.unmapped == ["nothing"]
    assert r.collisions == {"TP53": ["TP53", "p53", "ENSG01", "ENSG01.7"]}
    assert r.mapping["p53"] == "TP53"


def test_ambiguous_names_are_reported_not_guessed(small):
    r = small.map(["NAT-1", "ENSG02"])
    assert r.symbols == [None, None]
    assert r.unmapped == ["NAT-1", "ENSG02"]
    assert r.ambiguous == {"NAT-1": ["NAT1", "SLC6A2"], "ENSG02": ["NAT1", "SLC6A2"]}


def test_universe_resolves_ambiguity_and_keeps_its_own_symbols(small):
    r = small.map(["NAT-1", "gag"], universe=["NAT1", "gag"])
    assert r.symbols == ["NAT1", "gag"]
    assert r.renamed == {"NAT-1": "NAT1"}
    assert r.ambiguous == {}


def test_a_current_symbol_wins_over_an_alias():
    m = GeneMapper(symbols=["A", "B"], aliases=[("A", "B")])
    assert m.map(["A"]).symbols == ["A"]


def test_bundled_tables():
    m = GeneMapper.load()
    r = m.map(["TP53", "p53", "ENSG00000141510", "tp53", "definitely-not-a-gene"])
    assert r.symbols[:4] == ["TP53"] * 4
    assert r.unmapped == ["definitely-not-a-gene"]
    assert len(m.symbols) > 50_000


def test_missing_or_malformed_tables(tmp_path):
    with pytest.raises(NotFoundError):
        GeneMapper.load(tmp_path)
    for name, text in [
        ("orgHsEgDb_3.16.0_genes.tsv.gz", "entrez\tsymbol\tgene_name\n1\tA1BG\n"),
        ("orgHsEgDb_3.16.0_alias.tsv.gz", "entrez\talias_symbol\n"),
        ("orgHsEgDb_3.16.0_symbol_ensembl.tsv.gz", "entrez\tsymbol\tensembl_id\n"),
    ]:
        (tmp_path / name).write_bytes(gzip.compress(text.encode()))
    with pytest.raises(ReleaseFormatError, match=r"genes\.tsv\.gz line 2"):
        GeneMapper.load(tmp_path)
