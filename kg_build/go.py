"""The GO perturbation graph (G_pert): Jaccard similarity of GO-term sets, top-k neighbours per gene.

Annotations come from the bundled org.Hs.eg.db 3.16.0 gene→GO table (see ``kg_build/data/README.md``), or from a
user table (TSV/CSV with a gene column and a GO-id column) or a GAF 2.x file. All pairs are computed in row blocks:
the intersection counts of a block are ``A_block · Aᵀ`` on the binary gene×term matrix ``A``, split into a dense BLAS
product over the few large terms and a sparse product over the many small ones; unions are ``|a| + |b| − inter``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kg_build._topk import Graph, topk_per_row
from reactomenet.console import progress_bar
from reactomenet.errors import NotFoundError, ReleaseFormatError, did_you_mean

ONTOLOGIES = ("BP", "CC", "MF")
#: Relations over which annotations are propagated to ancestor terms by default ("true path rule").
DEFAULT_RELATIONS = ("is_a", "part_of")
ALL_RELATIONS = ("is_a", "part_of", "regulates", "positively_regulates", "negatively_regulates")
BUNDLED_TABLE = "orgHsEgDb_3.16.0_gene2go_direct.tsv.gz"
BUNDLED_PARENTS = "GOdb_3.16.0_parents.tsv.gz"
BUNDLED_TERMS = "GOdb_3.16.0_terms.tsv.gz"
_GAF_ASPECT = {"P": "BP", "F": "MF", "C": "CC"}
_GENE_COLUMNS = ("symbol", "gene", "gene_symbol", "gene_name", "db_object_symbol")
_GO_COLUMNS = ("go_id", "go", "term", "go_term")
_EVIDENCE_COLUMNS = ("evidence", "evidence_code")
_ONTOLOGY_COLUMNS = ("ontology", "aspect", "namespace")


def bundled_path(name: str) -> Path:
    """Path of a file shipped in ``kg_build/data/go/``.

    Example:
        >>> bundled_path(BUNDLED_TABLE).name
        'orgHsEgDb_3.16.0_gene2go_direct.tsv.gz'
    """
    return Path(str(resources.files("kg_build") / "data" / "go" / name))


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a file's content, decompressed first when it ends in ``.gz`` (same rule as Reactome releases).

    Example:
        >>> len(file_sha256(bundled_path(BUNDLED_PARENTS)))
        64
    """
    h = hashlib.sha256()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class GoAnnotations:
    """Binary gene × GO-term annotation matrix after filtering (and optional propagation).

    Attributes:
        genes: annotated gene symbols, sorted.
        terms: GO ids, sorted.
        matrix: ``scipy.sparse.csr_matrix`` (uint8, genes × terms), 1 where the gene is annotated to the term.
        source: the table's path.
        sha256: sha256 of the table (decompressed content).
        options: the filters used (ontologies, dropped evidence codes, propagation relations).

    Example:
        >>> ann = load_go_annotations(ontologies=["MF"], drop_evidence=["IEA", "ND"])
        >>> "GO:0005515" in ann.terms_of("TP53")
        True
    """

    genes: list[str]
    terms: list[str]
    matrix: sp.csr_matrix
    source: str
    sha256: str
    options: dict = field(default_factory=dict)

    def terms_of(self, gene: str) -> set[str]:
        """The set of GO ids annotated to ``gene`` (raises NotFoundError for an unannotated gene).

        Example:
            >>> sorted(load_go_annotations(ontologies=["CC"]).terms_of("A1BG"))[:1]
            ['GO:0005576']
        """
        index = _gene_index(self.genes)
        if gene not in index:
            hint = did_you_mean(gene, self.genes)
            raise NotFoundError(f"gene {gene} has no GO annotation in {self.source}{hint}")
        row = self.matrix.getrow(index[gene])
        return {self.terms[t] for t in row.indices}


def _gene_index(genes: Sequence[str]) -> dict[str, int]:
    return {g: i for i, g in enumerate(genes)}


def _pick(columns: Sequence[str], names: Sequence[str]) -> str | None:
    lower = {c.lower(): c for c in columns}
    for n in names:
        if n in lower:
            return lower[n]
    return None


def _read_text(path: Path) -> str:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        return fh.read()


def _is_gaf(path: Path, head: str) -> bool:
    name = path.name.lower()
    return head.startswith("!gaf-version") or name.endswith((".gaf", ".gaf.gz"))


def read_annotation_table(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Read a gene→GO table into columns ``symbol, go_id, evidence, ontology`` (evidence/ontology may be NA).

    Accepts the bundled table (``None``), a TSV/CSV with a header naming a gene column (``symbol``/``gene``/…) and a
    GO column (``go_id``/``go``/…), or a GAF 2.x file (``.gaf`` / ``.gaf.gz`` or a ``!gaf-version`` header; rows with a
    ``NOT`` qualifier are dropped).

    Example:
        >>> read_annotation_table().columns.tolist()
        ['symbol', 'go_id', 'evidence', 'ontology']
    """
    p = bundled_path(BUNDLED_TABLE) if path is None else Path(path)
    if not p.is_file():
        raise NotFoundError(f"GO annotation table {p} not found; give an existing TSV/CSV/GAF file or omit it")
    text = _read_text(p)
    if not text.strip():
        raise ReleaseFormatError(f"GO annotation table {p} is empty; give a gene→GO table with a header or a GAF file")
    if _is_gaf(p, text[:200]):
        body = [ln for ln in text.splitlines() if ln and not ln.startswith("!")]
        rows = [ln.split("\t") for ln in body]
        bad = next((i for i, r in enumerate(rows) if len(r) < 15), None)
        if bad is not None:
            raise ReleaseFormatError(f"GAF file {p}: line {bad + 1} has fewer than 15 tab-separated columns")
        df = pd.DataFrame(
            {
                "symbol": [r[2] for r in rows],
                "qualifier": [r[3] for r in rows],
                "go_id": [r[4] for r in rows],
                "evidence": [r[6] for r in rows],
                "ontology": [_GAF_ASPECT.get(r[8].strip(), pd.NA) for r in rows],
            }
        )
        df = df[~df["qualifier"].str.contains("NOT", na=False)].drop(columns="qualifier")
    else:
        sep = "," if p.name.lower().endswith((".csv", ".csv.gz")) else "\t"
        try:
            raw = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, comment=None)
        except pd.errors.ParserError as exc:
            raise ReleaseFormatError(f"GO annotation table {p} cannot be parsed: {exc}".splitlines()[0]) from exc
        gene_col, go_col = _pick(raw.columns, _GENE_COLUMNS), _pick(raw.columns, _GO_COLUMNS)
        if gene_col is None or go_col is None:
            raise ReleaseFormatError(
                f"GO annotation table {p} needs a header with a gene column ({'/'.join(_GENE_COLUMNS)}) and a GO "
                f"column ({'/'.join(_GO_COLUMNS)}); found {', '.join(map(str, raw.columns[:8]))}"
            )
        ev_col, ont_col = _pick(raw.columns, _EVIDENCE_COLUMNS), _pick(raw.columns, _ONTOLOGY_COLUMNS)
        df = pd.DataFrame(
            {
                "symbol": raw[gene_col],
                "go_id": raw[go_col],
                "evidence": raw[ev_col] if ev_col else pd.NA,
                "ontology": raw[ont_col].map(lambda v: _GAF_ASPECT.get(v, v) if isinstance(v, str) else v)
                if ont_col
                else pd.NA,
            }
        )
    df = df.dropna(subset=["symbol", "go_id"])
    df = df[(df["symbol"].str.len() > 0) & df["go_id"].str.startswith("GO:")]
    if df.empty:
        raise ReleaseFormatError(f"GO annotation table {p} has no rows with a gene and a GO:NNNNNNN id")
    return df.reset_index(drop=True)


def _term_ontology() -> pd.Series:
    t = pd.read_csv(bundled_path(BUNDLED_TERMS), sep="\t", usecols=["go_id", "ontology"], dtype=str)
    return t.set_index("go_id")["ontology"]


def _normalise_relation(name: str) -> str:
    return {"isa": "is_a", "part of": "part_of"}.get(name, name.replace(" ", "_"))


def _ancestor_closure(terms: list[str], relations: Sequence[str]) -> tuple[list[str], sp.csr_matrix]:
    """All terms reachable from ``terms`` over ``relations`` (child→parent), and the term→(self+ancestors) matrix."""
    parents = pd.read_csv(bundled_path(BUNDLED_PARENTS), sep="\t", dtype=str)
    parents["rel"] = parents["relationship_type"].map(_normalise_relation)
    parents = parents[parents["rel"].isin(relations)]
    universe = sorted(set(terms) | set(parents["child"]) | set(parents["parent"]))
    idx = _gene_index(universe)
    n = len(universe)
    child, parent = parents["child"].map(idx).to_numpy(), parents["parent"].map(idx).to_numpy()
    step = sp.csr_matrix((np.ones(len(parents), np.uint8), (child, parent)), shape=(n, n))
    step.data[:] = 1
    reach = (sp.identity(n, dtype=np.uint8, format="csr") + step).astype(bool).astype(np.uint8)
    while True:  # the GO DAG is shallow (< 20 levels): squaring the reachability converges in a few steps
        nxt = (reach @ reach).astype(bool).astype(np.uint8).tocsr()
        if nxt.nnz == reach.nnz:
            break
        reach = nxt
    return universe, reach


def load_go_annotations(
    path: str | os.PathLike[str] | None = None,
    *,
    ontologies: Iterable[str] = ONTOLOGIES,
    drop_evidence: Iterable[str] = (),
    propagate: bool = False,
    relations: Iterable[str] = DEFAULT_RELATIONS,
) -> GoAnnotations:
    """Load gene→GO annotations as a binary gene × term matrix.

    Args:
        path: a TSV/CSV/GAF file; ``None`` for the bundled org.Hs.eg.db 3.16.0 table (direct annotations).
        ontologies: which of BP, CC, MF to keep.
        drop_evidence: evidence codes to drop (e.g. ``IEA``, ``ND``); refused for a table without evidence codes.
        propagate: also annotate every gene to all ancestors of its terms in the bundled GO.db 3.16.0 DAG.
        relations: DAG relations followed when propagating: ``is_a`` and ``part_of`` by default (GO's "true path
            rule"); ``regulates``, ``positively_regulates``, ``negatively_regulates`` may be added.

    Example:
        >>> ann = load_go_annotations(ontologies=["BP"], drop_evidence=["IEA"], propagate=True)
        >>> "GO:0008150" in ann.terms_of("TP53")  # the BP root, reached by propagation
        True
    """
    onts = sorted({o.upper() for o in ontologies})
    unknown = [o for o in onts if o not in ONTOLOGIES]
    if unknown or not onts:
        raise ReleaseFormatError(f"unknown GO ontology {', '.join(unknown) or '(none)'}: choose from BP, CC, MF")
    rels = sorted({_normalise_relation(r) for r in relations})
    bad_rel = [r for r in rels if r not in ALL_RELATIONS]
    if bad_rel:
        raise ReleaseFormatError(f"unknown GO relation {', '.join(bad_rel)}: choose from {', '.join(ALL_RELATIONS)}")
    drop = sorted({e.upper() for e in drop_evidence})
    df = read_annotation_table(path)
    if df["ontology"].isna().any():
        lookup = _term_ontology()
        df["ontology"] = df["ontology"].fillna(df["go_id"].map(lookup))
    df = df[df["ontology"].isin(onts)]
    if drop:
        if df["evidence"].isna().all():
            raise ReleaseFormatError(f"GO table {path} has no evidence column; drop no evidence codes for it")
        df = df[~df["evidence"].str.upper().isin(drop)]
    pairs = df[["symbol", "go_id"]].drop_duplicates()
    where = "the bundled table" if path is None else str(path)
    if pairs.empty:
        raise ReleaseFormatError(f"no GO annotation left in {where} after keeping {'/'.join(onts)} without {drop}")
    genes = sorted(pairs["symbol"].unique())
    terms = sorted(pairs["go_id"].unique())
    gi, ti = _gene_index(genes), _gene_index(terms)
    A = sp.csr_matrix(
        (np.ones(len(pairs), np.uint8), (pairs["symbol"].map(gi).to_numpy(), pairs["go_id"].map(ti).to_numpy())),
        shape=(len(genes), len(terms)),
    )
    if propagate:
        universe, reach = _ancestor_closure(terms, rels)
        uidx = _gene_index(universe)
        sub = reach[[uidx[t] for t in terms]]
        A = (A @ sub).astype(bool).astype(np.uint8).tocsr()
        used = np.unique(A.indices)
        lookup = _term_ontology()
        keep = [u for u in used if lookup.get(universe[u]) in onts]
        A = A[:, keep].tocsr()
        terms = [universe[u] for u in keep]
    A.sort_indices()
    src = bundled_path(BUNDLED_TABLE) if path is None else Path(path)
    options = {"ontologies": onts, "drop_evidence": drop, "propagate": bool(propagate)}
    if propagate:
        options["relations"] = rels
    return GoAnnotations(genes, terms, A, str(src), file_sha256(src), options)


def jaccard_topk(
    matrix: sp.csr_matrix,
    *,
    top_k: int = 20,
    min_similarity: float = 0.1,
    block_size: int = 512,
    dense_min_genes: int = 128,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k Jaccard neighbours of every row of a binary matrix, computed in row blocks.

    For rows ``a, b``: ``J = |a ∩ b| / |a ∪ b|`` with ``|a ∩ b| = (A·Aᵀ)_ab`` and ``|a ∪ b| = |a| + |b| − |a ∩ b|``.
    Columns (terms) held by at least ``dense_min_genes`` rows go through a dense BLAS product, the rest through a
    sparse product; both are exact integer counts. Memory is ``O(block_size × n_rows)``.

    Returns:
        ``(target, neighbour, similarity)``: for each row (target) its neighbours with ``J > min_similarity``,
        at most ``top_k``, by descending J then ascending neighbour index; the row itself is never its neighbour.

    Example:
        >>> A = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 1], [0, 0, 1]], dtype=np.uint8))
        >>> t, n, s = jaccard_topk(A, top_k=1, min_similarity=0.0)
        >>> t.tolist(), n.tolist(), [round(float(x), 3) for x in s]
        ([0, 1, 2], [1, 0, 1], [0.667, 0.667, 0.333])
    """
    A = sp.csr_matrix(matrix, dtype=np.float32)
    A.data[:] = 1.0
    n = A.shape[0]
    sizes = np.asarray(A.sum(axis=1)).ravel().astype(np.float64)
    col_count = np.asarray(A.sum(axis=0)).ravel()
    # terms held by a single row never add to an intersection (their size is already in `sizes`)
    heavy = np.flatnonzero(col_count >= max(dense_min_genes, 2))
    light = np.flatnonzero((col_count >= 2) & (col_count < max(dense_min_genes, 2)))
    H = A[:, heavy].toarray() if heavy.size else None
    L = A[:, light].tocsr() if light.size else None
    LT = L.T.tocsc() if L is not None else None
    out_t, out_n, out_s = [], [], []
    starts = range(0, n, block_size)
    with progress_bar(enabled=progress) as bar:
        task = bar.add_task("GO Jaccard", total=len(starts), info="")
        for start in starts:
            stop = min(start + block_size, n)
            inter = np.zeros((stop - start, n), dtype=np.float64)
            if H is not None:
                inter += H[start:stop] @ H.T
            if L is not None:
                part = (L[start:stop] @ LT).tocoo()
                inter[part.row, part.col] += part.data  # (row, col) pairs are unique in a csr product
            union = sizes[start:stop, None] + sizes[None, :] - inter
            with np.errstate(divide="ignore", invalid="ignore"):
                jac = np.where(union > 0, inter / union, 0.0)
            t, c, s = topk_per_row(jac, top_k, min_similarity, row_offset=start)
            out_t.append(t)
            out_n.append(c)
            out_s.append(s)
            bar.advance(task)
    if not out_t:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
    return np.concatenate(out_t), np.concatenate(out_n), np.concatenate(out_s)


def perturbable_genes(
    annotations: GoAnnotations,
    genes: Iterable[str] | None = None,
    *,
    perturbed: Iterable[str] = (),
) -> list[str]:
    """The GO-graph nodes: ``genes`` (or all annotated genes) plus the ``perturbed`` ones, kept if annotated; sorted.

    Example:
        >>> ann = load_go_annotations()
        >>> perturbable_genes(ann, ["TP53", "NOT_A_GENE"], perturbed=["KLF1"])
        ['KLF1', 'TP53']
    """
    annotated = set(annotations.genes)
    wanted = set(annotations.genes) if genes is None else set(genes)
    wanted |= set(perturbed)
    return sorted(wanted & annotated)


def go_graph(
    annotations: GoAnnotations,
    genes: Sequence[str] | None = None,
    *,
    top_k: int = 20,
    min_similarity: float = 0.1,
    block_size: int = 512,
    progress: bool = False,
) -> Graph:
    """The GO perturbation graph over ``genes`` (default: all annotated genes, sorted).

    Each gene gets its ``top_k`` most similar other genes by Jaccard similarity of GO-term sets, keeping only
    similarities ``> min_similarity`` (GEARS keeps ``> 0.1``); ties go to the gene earlier in ``genes``.

    Example:
        >>> ann = load_go_annotations(ontologies=["BP"])
        >>> g = go_graph(ann, ["TP53", "MDM2", "CDKN1A", "ACTB"], top_k=2, min_similarity=0.0)
        >>> g.genes[:2], g.n_edges <= 8
        (['TP53', 'MDM2'], True)
    """
    from reactomenet.errors import InputError

    nodes = list(annotations.genes if genes is None else genes)
    if len(set(nodes)) != len(nodes):
        raise InputError("the GO-graph gene list has duplicates; give each gene once")
    index = _gene_index(annotations.genes)
    missing = [g for g in nodes if g not in index]
    if missing:
        raise InputError(
            f"{len(missing)} GO-graph genes have no GO annotation (e.g. {', '.join(missing[:3])}); "
            "keep only annotated genes (kg_build.perturbable_genes does)"
        )
    if not nodes:
        raise InputError("no gene to build the GO graph over: none of the requested genes has a GO annotation")
    sub = annotations.matrix[[index[g] for g in nodes]]
    t, nb, s = jaccard_topk(sub, top_k=top_k, min_similarity=min_similarity, block_size=block_size, progress=progress)
    return Graph(nodes, nb, t, s.astype(np.float32))
