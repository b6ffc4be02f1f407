"""GO graph: blocked sparse Jaccard equals brute force over Python sets; table readers; filters; propagation."""

from __future__ import annotations

import gzip
from fractions import Fraction

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from kg_build.go import (
    BUNDLED_PARENTS,
    bundled_path,
    go_graph,
    jaccard_topk,
    load_go_annotations,
    perturbable_genes,
)
from reactomenet.errors import InputError, NotFoundError, ReleaseFormatError


@pytest.fixture(scope="module")
def annotations():
    return load_go_annotations()


def brute_force(sets: list[set[str]], k: int, min_sim: float) -> list[tuple[int, int, Fraction]]:
    """Exact Jaccard with Fractions; per target: J > min_sim, by (-J, neighbour index), first k."""
    out = []
    for t, a in enumerate(sets):
        cand = []
        for s, b in enumerate(sets):
            if s == t:
                continue
            j = Fraction(len(a & b), len(a | b))
            if j > Fraction(min_sim).limit_denominator(10**6):
                cand.append((-j, s))
        cand.sort()
        out += [(t, s, -negj) for negj, s in cand[:k]]
    return out


@pytest.mark.parametrize("block_size,dense_min", [(37, 5), (1000, 10**9), (64, 2)])
def test_go_graph_equals_brute_force_on_a_sample(annotations, block_size, dense_min):
    rng = np.random.default_rng(7)
    genes = sorted(rng.choice(annotations.genes, size=250, replace=False).tolist())
    sets = [annotations.terms_of(g) for g in genes]
    k, min_sim = 5, 0.1
    expected = brute_force(sets, k, min_sim)
    index = {g: i for i, g in enumerate(annotations.genes)}
    sub = annotations.matrix[[index[g] for g in genes]]
    t, n, s = jaccard_topk(sub, top_k=k, min_similarity=min_sim, block_size=block_size, dense_min_genes=dense_min)
    got = list(zip(t.tolist(), n.tolist(), strict=True))
    assert got == [(a, b) for a, b, _ in expected]
    assert np.allclose(s, [float(j) for _, _, j in expected], rtol=0, atol=1e-12)
    # the sample really has ties at the top-k cut (so the tie rule is exercised)
    full = brute_force(sets, len(genes), min_sim)
    by_target: dict[int, list[Fraction]] = {}
    for a, _, j in full:
        by_target.setdefault(a, []).append(j)
    assert any(len(v) > k and v[k - 1] == v[k] for v in by_target.values())


def test_go_graph_orientation_and_names(annotations):
    genes = ["TP53", "MDM2", "CDKN1A", "BAX", "ACTB"]
    g = go_graph(annotations, genes, top_k=2, min_similarity=0.0)
    frame = g.to_frame()
    assert set(frame.columns) >= {"source", "target", "weight", "source_gene", "target_gene"}
    assert (frame.groupby("target").size() <= 2).all()
    for row in frame.itertuples():
        a, b = annotations.terms_of(row.target_gene), annotations.terms_of(row.source_gene)
        assert row.weight == pytest.approx(len(a & b) / len(a | b), rel=1e-6)
    assert not (frame.source == frame.target).any()
    assert g.edge_index.dtype == np.int64 and g.edge_index.shape == (2, g.n_edges)


def test_unannotated_or_duplicate_genes_refused(annotations):
    with pytest.raises(InputError, match="no GO annotation"):
        go_graph(annotations, ["TP53", "ZZ_NOT_A_GENE"])
    with pytest.raises(InputError, match="duplicates"):
        go_graph(annotations, ["TP53", "TP53"])


def test_perturbable_genes_always_include_annotated_perturbed_genes(annotations):
    assert perturbable_genes(annotations, ["TP53", "ZZ_X"], perturbed=["KLF1", "ZZ_Y"]) == ["KLF1", "TP53"]
    assert len(perturbable_genes(annotations)) == len(annotations.genes)


def test_filters_by_ontology_and_evidence():
    table = pd.read_csv(bundled_path("orgHsEgDb_3.16.0_gene2go_direct.tsv.gz"), sep="\t", dtype=str)
    mf = load_go_annotations(ontologies=["MF"], drop_evidence=["iea", "ND"])
    want = table[(table.ontology == "MF") & ~table.evidence.isin(["IEA", "ND"])]
    assert mf.matrix.nnz == len(want[["symbol", "go_id"]].drop_duplicates())
    assert mf.terms_of("TP53") == set(want[want.symbol == "TP53"].go_id)
    with pytest.raises(ReleaseFormatError, match="choose from BP, CC, MF"):
        load_go_annotations(ontologies=["XX"])


def test_propagation_matches_networkx_ancestors():
    parents = pd.read_csv(bundled_path(BUNDLED_PARENTS), sep="\t", dtype=str)
    dag = nx.DiGraph()
    kept = parents[parents.relationship_type.isin(["isa", "part of"])]
    dag.add_edges_from(zip(kept.child, kept.parent, strict=True))
    direct = load_go_annotations(ontologies=["BP"])
    prop = load_go_annotations(ontologies=["BP"], propagate=True)
    for gene in ["TP53", "KLF1", "GATA1"]:
        want = set()
        for t in direct.terms_of(gene):
            want |= {t} | (nx.descendants(dag, t) if t in dag else set())  # edges point child -> parent
        assert prop.terms_of(gene) == want - {"all"}  # GO.db's pseudo-root "all" is not a GO term
    assert "GO:0008150" in prop.terms_of("TP53")
    # regulates is not followed unless asked
    reg = parents[parents.relationship_type == "regulates"].iloc[0]
    assert reg.relationship_type == "regulates"
    with_reg = load_go_annotations(ontologies=["BP"], propagate=True, relations=["is_a", "part_of", "regulates"])
    assert with_reg.matrix.nnz > prop.matrix.nnz


def test_user_tsv_and_gaf(tmp_path):
    tsv = tmp_path / "g2go.tsv"
    tsv.write_text("gene\tgo_id\nA\tGO:0000001\nA\tGO:0000002\nB\tGO:0000002\nC\tGO:0000003\n")
    ann = load_go_annotations(tsv, ontologies=["BP", "CC", "MF"])
    assert ann.genes == ["A", "B", "C"] and ann.terms_of("A") == {"GO:0000001", "GO:0000002"}
    gaf = tmp_path / "x.gaf.gz"
    tail = ["", "", "protein", "taxon:9606", "2020", "X"]
    rows = [
        ["UniProtKB", "P1", "A", "", "GO:0005515", "PMID:1", "IPI", "", "F", *tail],
        ["UniProtKB", "P1", "A", "NOT", "GO:0005634", "PMID:1", "IDA", "", "C", *tail],
        ["UniProtKB", "P2", "B", "", "GO:0005515", "PMID:1", "IEA", "", "F", *tail],
    ]
    with gzip.open(gaf, "wt") as fh:
        fh.write("!gaf-version: 2.2\n" + "\n".join("\t".join(r) for r in rows) + "\n")
    ann = load_go_annotations(gaf)
    assert ann.terms_of("A") == {"GO:0005515"}  # the NOT row is dropped
    assert load_go_annotations(gaf, drop_evidence=["IEA"]).genes == ["A"]
    with pytest.raises(NotFoundError):
        ann.terms_of("Z")


def test_bad_tables(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("x\ty\n1\t2\n")
    with pytest.raises(ReleaseFormatError, match="needs a header"):
        load_go_annotations(bad)
    with pytest.raises(NotFoundError):
        load_go_annotations(tmp_path / "absent.tsv")
    noev = tmp_path / "noev.tsv"
    noev.write_text("symbol\tgo_id\nA\tGO:0005515\n")
    with pytest.raises(ReleaseFormatError, match="no evidence column"):
        load_go_annotations(noev, drop_evidence=["IEA"])


def test_jaccard_topk_small_exact():
    A = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 0, 1, 1], [0, 0, 0, 0]], dtype=np.uint8))
    t, n, s = jaccard_topk(A, top_k=3, min_similarity=0.0)
    assert list(zip(t.tolist(), n.tolist(), strict=True)) == [(0, 1), (1, 0), (1, 2), (2, 1)]
    assert np.allclose(s, [2 / 3, 2 / 3, 1 / 4, 1 / 4])
