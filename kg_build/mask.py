"""The attention mask: Reactome's gene × gene mask, with the rows of genes absent from Reactome filled by Pearson
correlation over training cells, plus the diagonal. Every allowed pair records where it came from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from kg_build.coexpression import correlation_topk
from reactomenet.errors import InputError

SOURCES = ("reactome", "coexpression", "self")


@dataclass(frozen=True)
class AttentionMask:
    """Allowed (i, j) pairs over the measured genes, sorted by (i, j), both directions, diagonal included.

    Attributes:
        genes: measured genes in data order.
        i, j: int64 pair indices.
        source: per pair, ``"reactome"``, ``"coexpression"`` or ``"self"`` (the diagonal).
        level: Reactome pathway level used.
        missing: genes absent from Reactome (their rows were filled from co-expression).

    Example:
        >>> m = AttentionMask(["A", "B"], np.array([0, 1]), np.array([0, 1]), np.array(["self", "self"]), 3, ["B"])
        >>> m.report()["density"]
        0.5
    """

    genes: list[str]
    i: np.ndarray
    j: np.ndarray
    source: np.ndarray
    level: int
    missing: list[str]

    @property
    def edge_index(self) -> np.ndarray:
        """``np.int64 [2, E]`` (row 0 = i, row 1 = j)."""
        return np.vstack([self.i, self.j]).astype(np.int64, copy=False)

    def to_frame(self) -> pd.DataFrame:
        """Pairs as a DataFrame ``i, j, gene_i, gene_j, source``.

        Example:
            >>> AttentionMask(["A"], np.array([0]), np.array([0]), np.array(["self"]), 3, []).to_frame().source[0]
            'self'
        """
        names = np.asarray(self.genes, dtype=object)
        return pd.DataFrame(
            {
                "i": self.i.astype(np.int64),
                "j": self.j.astype(np.int64),
                "gene_i": names[self.i],
                "gene_j": names[self.j],
                "source": self.source.astype(object),
            }
        )

    def report(self) -> dict[str, Any]:
        """Density and coverage: pairs per source and how many genes' rows hold a pair of each source.

        Example:
            >>> m = AttentionMask(["A", "B"], np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]),
            ...                   np.array(["self", "coexpression", "coexpression", "self"]), 3, ["A", "B"])
            >>> m.report()["genes_covered"]
            {'reactome': 0, 'coexpression': 2, 'self': 2}
        """
        n = len(self.genes)
        pairs = {s: int(np.sum(self.source == s)) for s in SOURCES}
        covered = {s: int(np.unique(self.i[self.source == s]).size) for s in SOURCES}
        missing_idx = set(range(n)) - set(np.unique(self.i[self.source == "reactome"]).tolist())
        filled = set(np.unique(self.i[self.source == "coexpression"]).tolist())
        return {
            "genes": n,
            "pairs": int(self.i.size),
            "density": float(self.i.size / (n * n)) if n else 0.0,
            "pairs_by_source": pairs,
            "genes_covered": covered,
            "genes_missing_from_reactome": len(self.missing),
            "genes_with_diagonal_only": len(missing_idx - filled),
        }


def attention_mask(
    reactome_mask: Any,
    corr: np.ndarray,
    *,
    top_k: int = 20,
    threshold: float = 0.4,
) -> AttentionMask:
    """Fill the rows of genes absent from Reactome with their co-expression partners.

    Rule: for each gene ``g`` in ``reactome_mask.missing``, take its ``top_k`` partners ``h ≠ g`` by ``|r|`` with
    ``|r| > threshold`` (ties: lower index first) among all measured genes; allow ``(g, h)`` and ``(h, g)``
    (symmetrised). Pairs Reactome already allows keep source ``reactome``; the diagonal is always ``self``.

    Args:
        reactome_mask: a ``reactomenet.GeneMask`` (``genes``, ``i``, ``j``, ``missing``, ``level``).
        corr: Pearson correlation over training cells, ``(n, n)`` in the mask's gene order.
        top_k: cap on co-expression partners per missing gene.
        threshold: minimum ``|r|`` (strict).

    Example:
        >>> class M:  # a stand-in for reactomenet.GeneMask over A, B, C with C absent from Reactome
        ...     genes = ["A", "B", "C"]; missing = ["C"]; level = 3
        ...     i = np.array([0, 0, 1, 1, 2]); j = np.array([0, 1, 0, 1, 2])
        >>> c = np.array([[1, .1, .9], [.1, 1, .2], [.9, .2, 1]])
        >>> attention_mask(M(), c, top_k=5, threshold=0.4).to_frame().source.tolist()
        ['self', 'reactome', 'coexpression', 'reactome', 'self', 'coexpression', 'self']
    """
    genes = list(reactome_mask.genes)
    n = len(genes)
    if corr.shape != (n, n):
        raise InputError(f"correlation matrix is {corr.shape} but the mask has {n} genes")
    index = {g: k for k, g in enumerate(genes)}
    missing_rows = np.array([index[g] for g in reactome_mask.missing], dtype=np.int64)
    ri = np.asarray(reactome_mask.i, dtype=np.int64)
    rj = np.asarray(reactome_mask.j, dtype=np.int64)
    off = ri != rj
    g, p, _ = correlation_topk(corr, top_k=top_k, threshold=threshold, rows=missing_rows)
    diag = np.arange(n, dtype=np.int64)
    # codes: 0 reactome, 1 coexpression, 2 self; the smallest code wins for a pair listed twice
    i_all = np.concatenate([diag, ri[off], g, p])
    j_all = np.concatenate([diag, rj[off], p, g])
    code = np.concatenate([np.full(n, 2), np.zeros(int(off.sum())), np.ones(2 * g.size)]).astype(np.int8)
    key = i_all * n + j_all
    order = np.lexsort((code, key))
    key, code = key[order], code[order]
    first = np.ones(key.size, dtype=bool)
    first[1:] = key[1:] != key[:-1]
    key, code = key[first], code[first]
    names = np.array(SOURCES, dtype=object)
    return AttentionMask(
        genes=genes,
        i=(key // n).astype(np.int64) if n else key,
        j=(key % n).astype(np.int64) if n else key,
        source=names[code],
        level=int(getattr(reactome_mask, "level", 0)),
        missing=list(reactome_mask.missing),
    )


def mask_from_reactome(
    reactome: Any,
    genes: Sequence[str],
    corr: np.ndarray,
    *,
    level: int = 3,
    top_k: int = 20,
    threshold: float = 0.4,
    symbols: Sequence[str | None] | None = None,
) -> AttentionMask:
    """``reactome.mask(genes, level)`` plus the co-expression fallback (see :func:`attention_mask`).

    ``symbols`` (same length as ``genes``) are the names looked up in Reactome when the data's gene names are not
    symbols (e.g. Ensembl ids mapped with ``reactomenet.GeneMapper``); unmapped genes (None) count as missing.
    Refuses a gene list with no gene in Reactome.

    Example:
        >>> from reactomenet import ReactomeGraph
        >>> m = mask_from_reactome(ReactomeGraph.load(), ["TP53", "MDM2"], np.eye(2), level=3)
        >>> m.report()["genes_covered"]["reactome"]
        2
    """
    genes = list(genes)
    lookup = genes if symbols is None else [s if s else f"__unmapped__{k}" for k, s in enumerate(symbols)]
    if len(set(lookup)) != len(lookup):
        dup = sorted({s for s in lookup if lookup.count(s) > 1})[:3]
        raise InputError(f"several measured genes map to the same symbol ({', '.join(dup)}); drop the duplicates")
    base = reactome.mask(lookup, level=level)
    if len(base.missing) == len(genes):
        raise InputError(
            f"none of the {len(genes)} measured genes is in Reactome (e.g. {', '.join(genes[:3])}); "
            "are they gene symbols? map Ensembl ids or aliases with --map-genes"
        )
    pos = {s: k for k, s in enumerate(lookup)}

    renamed = SimpleNamespace(  # the same mask with the data's gene names
        genes=genes, i=base.i, j=base.j, missing=[genes[pos[s]] for s in base.missing], level=level
    )
    return attention_mask(renamed, corr, top_k=top_k, threshold=threshold)
