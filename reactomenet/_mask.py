"""Gene × gene masks from sparse gene × pathway memberships (never an O(genes²) Python loop)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy, scipy and pandas load when a mask is built, not when a query command starts
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp

SOURCE_REACTOME = "reactome"
SOURCE_SELF = "self"


@dataclass(frozen=True)
class GeneMask:
    """Allowed gene pairs for an ordered gene list: (i, j) pairs, both directions, diagonal included.

    Attributes:
        genes: The genes, in the caller's order (row/column ``k`` is ``genes[k]``).
        i, j: int64 arrays of allowed pairs, sorted by (i, j); every diagonal pair is present.
        missing: Genes in no Reactome gene set (their rows hold only the diagonal).
        padded: Genes whose deepest pathway is shallower than ``level`` (they stand in their deepest pathways).
        level: The pathway level the mask was built at.
        metadata: Provenance (release hashes, species, level, …) written into Parquet exports.

    Example:
        >>> from reactomenet import ReactomeGraph
        >>> m = ReactomeGraph.load().mask(["TP53", "MDM2"], level=3)
        >>> m.to_scipy().toarray().tolist()
        [[True, True], [True, True]]
    """

    genes: list[str]
    i: np.ndarray
    j: np.ndarray
    missing: list[str]
    padded: list[str]
    level: int
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def n_pairs(self) -> int:
        """How many (i, j) pairs are allowed, diagonal included."""
        return int(self.i.shape[0])

    def to_scipy(self) -> sp.csr_matrix:
        """The mask as an n × n boolean CSR matrix.

        Example:
            >>> from reactomenet import ReactomeGraph
            >>> ReactomeGraph.load().mask(["TP53"], level=2).to_scipy().shape
            (1, 1)
        """
        import numpy as np
        import scipy.sparse as sp

        n = len(self.genes)
        data = np.ones(self.i.shape[0], dtype=bool)
        return sp.csr_matrix((data, (self.i, self.j)), shape=(n, n))

    def to_frame(self) -> pd.DataFrame:
        """The mask as rows (i, j, gene_i, gene_j, source); source is "self" on the diagonal, else "reactome".

        Example:
            >>> from reactomenet import ReactomeGraph
            >>> ReactomeGraph.load().mask(["TP53", "MDM2"], level=3).to_frame().source.tolist()
            ['self', 'reactome', 'reactome', 'self']
        """
        import numpy as np
        import pandas as pd

        names = np.asarray(self.genes, dtype=object)
        source = np.where(self.i == self.j, SOURCE_SELF, SOURCE_REACTOME).astype(object)
        return pd.DataFrame(
            {
                "i": self.i.astype(np.int64),
                "j": self.j.astype(np.int64),
                "gene_i": names[self.i],
                "gene_j": names[self.j],
                "source": source,
            }
        )

    def to_parquet(self, path: str | os.PathLike[str], extra: Mapping[str, Any] | None = None) -> Path:
        """Write the mask atomically as Parquet with its provenance in the schema metadata.

        Example:
            >>> import tempfile, pathlib
            >>> from reactomenet import ReactomeGraph
            >>> from reactomenet.io import read_parquet_metadata
            >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.parquet"
            >>> _ = ReactomeGraph.load().mask(["TP53", "MDM2"]).to_parquet(p)
            >>> read_parquet_metadata(p)["gene_count"]
            2
        """
        from reactomenet.io import write_parquet

        return write_parquet(self.to_frame(), path, {**self.export_metadata(), **dict(extra or {})})

    def export_metadata(self) -> dict[str, Any]:
        """The provenance written with the mask: release, species, level, counts, package version."""
        from reactomenet import __version__

        return {
            **self.metadata,
            "kind": "reactome_mask",
            "level": self.level,
            "gene_count": len(self.genes),
            "pair_count": self.n_pairs,
            "missing": list(self.missing),
            "padded": list(self.padded),
            "package": "reactomenet",
            "package_version": __version__,
        }


def effective_membership(member: sp.csr_matrix, col_level: np.ndarray, level: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """Each gene's level-``level`` pathways, or its deepest ones when it has none that deep (P-NET padding).

    The one implementation of the padding rule: ReactomeGraph and the Neo4j backend both call it.

    Returns:
        The bool CSR matrix of kept memberships and a bool array saying which rows are padded.

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> m = sp.csr_matrix(np.array([[1, 1], [1, 0]], dtype=bool))
        >>> eff, padded = effective_membership(m, np.array([1, 2]), 2)
        >>> eff.toarray().tolist(), padded.tolist()
        ([[False, True], [True, False]], [False, True])
    """
    import numpy as np
    import scipy.sparse as sp

    coo = member.tocoo()
    entry_level = np.asarray(col_level, dtype=np.int64)[coo.col]
    deepest = np.zeros(member.shape[0], dtype=np.int64)
    np.maximum.at(deepest, coo.row, entry_level)
    target = np.minimum(deepest, level)
    keep = entry_level == target[coo.row]
    eff = sp.csr_matrix((np.ones(int(keep.sum()), dtype=bool), (coo.row[keep], coo.col[keep])), shape=member.shape)
    eff.sort_indices()
    return eff, deepest < level


def build_mask(
    genes: Sequence[str],
    gene_index: Mapping[str, int],
    member: sp.csr_matrix,
    effective: sp.csr_matrix,
    padded: np.ndarray,
    *,
    level: int,
    metadata: Mapping[str, Any] | None = None,
) -> GeneMask:
    """Build a :class:`GeneMask` with two sparse products.

    ``A = E · Sᵀ`` counts, for genes i and j, the pathways in i's effective set (its level-k pathways, or its
    deepest ones when padded) that hold j; allowed = A ∨ Aᵀ ∨ I. For two unpadded genes this is exactly
    "share a level-k pathway".

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> s = sp.csr_matrix(np.array([[1, 0], [1, 1]], dtype=bool))
        >>> m = build_mask(["A", "B"], {"A": 0, "B": 1}, s, s, np.zeros(2, bool), level=1)
        >>> m.i.tolist(), m.j.tolist()
        ([0, 0, 1, 1], [0, 1, 0, 1])
    """
    import numpy as np
    import scipy.sparse as sp

    n = len(genes)
    rows = np.fromiter((gene_index.get(g, -1) for g in genes), dtype=np.int64, count=n)
    present = rows >= 0
    sel = np.flatnonzero(present)
    # Restrict both matrices to the listed genes and to the pathways some listed gene stands in.
    eff = effective[rows[sel]]
    used = np.unique(eff.indices)
    eff = eff[:, used].astype(np.float32)
    mem = member[rows[sel]][:, used].astype(np.float32)
    product = (eff @ mem.T).tocsr()
    both = (product + product.T).tocoo()
    local_i = np.concatenate([sel[both.row], np.arange(n, dtype=np.int64)])
    local_j = np.concatenate([sel[both.col], np.arange(n, dtype=np.int64)])
    allowed = sp.csr_matrix((np.ones(local_i.shape[0], dtype=bool), (local_i, local_j)), shape=(n, n))
    allowed.sum_duplicates()
    allowed.sort_indices()
    counts = np.diff(allowed.indptr)
    i = np.repeat(np.arange(n, dtype=np.int64), counts)
    j = allowed.indices.astype(np.int64)
    genes = list(genes)
    return GeneMask(
        genes=genes,
        i=i,
        j=j,
        missing=[g for g, ok in zip(genes, present, strict=False) if not ok],
        padded=[genes[k] for k in sel if padded[rows[k]]],
        level=level,
        metadata=dict(metadata or {}),
    )
