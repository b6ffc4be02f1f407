"""Out-of-core expression: X of an ``.h5ad`` or zarr file read by rows on demand, never loaded whole.

anndata's own backed reader (``anndata.io.sparse_dataset`` over an h5py or zarr group) does the reading; this module
adds what training needs on top: rows in any order (read sorted, then put back in the order asked), a row subset (a
context's cells), normalisation of raw counts as rows are read, and row blocks for the passes that visit every cell
(validation, means, DE statistics, the fingerprint). Peak memory is then bounded by a block, not by the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from biodsnn.data._normalize import normalize_log1p
from reactomenet.errors import InputError

#: Rows per block in passes over many cells (float32 CSR of a 5 k-gene panel at 10 % density: ~20 MB per block).
BLOCK_ROWS = 8192


def is_zarr(path: str | os.PathLike[str]) -> bool:
    """True for a zarr store (a ``.zarr`` path or a folder), False for an ``.h5ad`` file.

    Example:
        >>> is_zarr("screen.zarr"), is_zarr("screen.h5ad")
        (True, False)
    """
    p = Path(path)
    return p.is_dir() or p.suffix == ".zarr"


def open_store(path: str | os.PathLike[str]) -> Any:
    """The root group of an ``.h5ad`` (h5py, read-only) or ``.zarr`` (zarr) AnnData store.

    Example:
        >>> import tempfile, pathlib
        >>> from biodsnn.data import simulate, write_h5ad
        >>> p = write_h5ad(simulate(preset="tiny", progress=False), pathlib.Path(tempfile.mkdtemp()) / "t.h5ad")
        >>> sorted(k for k in open_store(p).keys() if k in ("X", "obs", "var"))
        ['X', 'obs', 'var']
    """
    p = Path(path)
    if is_zarr(p):
        import zarr

        return zarr.open(str(p), mode="r")
    import h5py

    return h5py.File(p, "r")


def read_shell(store: Any) -> Any:
    """The AnnData of a store without X (obs, var, uns read; X left on disk).

    Example:
        >>> import tempfile, pathlib
        >>> from biodsnn.data import simulate, write_h5ad
        >>> p = write_h5ad(simulate(preset="tiny", progress=False), pathlib.Path(tempfile.mkdtemp()) / "t.h5ad")
        >>> shell = read_shell(open_store(p))
        >>> shell.X is None, shell.n_vars
        (True, 120)
    """
    import anndata
    from anndata.io import read_elem

    uns = read_elem(store["uns"]) if "uns" in store else {}
    return anndata.AnnData(obs=read_elem(store["obs"]), var=read_elem(store["var"]), uns=dict(uns))


class BackedMatrix:
    """Cells × genes CSR matrix of a file, read by rows on demand (float32, canonical CSR blocks).

    ``matrix[rows]`` returns the rows (any order, repeats allowed) as a ``scipy.sparse.csr_matrix``; the file is read
    once per call over the sorted distinct rows. ``normalize`` scales each row to 1e4 counts and takes log1p as it is
    read (rows are independent, so this equals normalising the whole file). :meth:`subset` gives the same file seen
    through a row subset (a context's cells) without reading anything.

    Example:
        >>> import tempfile, pathlib
        >>> from biodsnn.data import simulate, write_h5ad
        >>> ad = simulate(preset="tiny", progress=False)
        >>> p = write_h5ad(ad, pathlib.Path(tempfile.mkdtemp()) / "t.h5ad")
        >>> m = BackedMatrix(open_store(p)["X"], name=str(p))
        >>> m.shape == ad.shape, bool((m[[5, 2, 5]].toarray() == ad.X[[5, 2, 5]].toarray()).all())
        (True, True)
    """

    def __init__(self, node: Any, *, rows: np.ndarray | None = None, normalize: bool = False, name: str = "X") -> None:
        from anndata.io import sparse_dataset

        encoding = str(node.attrs.get("encoding-type", "array"))
        if encoding != "csr_matrix":
            raise InputError(f"{name}: X is stored as {encoding!r}; out-of-core reading needs CSR rows: save X as CSR "
                             "(adata.X = scipy.sparse.csr_matrix(adata.X)) or load the file in memory (no --backed)")
        self._dataset = sparse_dataset(node)
        self._node = node
        self._rows = None if rows is None else np.asarray(rows, dtype=np.int64)
        n_file, n_genes = (int(v) for v in self._dataset.shape)
        self.shape = (n_file if self._rows is None else len(self._rows), n_genes)
        self.normalize = bool(normalize)
        self.name = name

    dtype = np.dtype(np.float32)
    ndim = 2

    def __repr__(self) -> str:
        return f"BackedMatrix({self.shape[0]} × {self.shape[1]}, {self.name}{', normalised on read' * self.normalize})"

    def __len__(self) -> int:
        return self.shape[0]

    def subset(self, rows: np.ndarray) -> BackedMatrix:
        """The same file seen through ``rows`` (positions in this matrix), e.g. one context's cells."""
        rows = np.asarray(rows, dtype=np.int64)
        out = BackedMatrix.__new__(BackedMatrix)
        out._dataset, out._node, out.normalize, out.name = self._dataset, self._node, self.normalize, self.name
        out._rows = rows if self._rows is None else self._rows[rows]
        out.shape = (len(rows), self.shape[1])
        return out

    def __getitem__(self, rows: Any) -> sp.csr_matrix:
        if isinstance(rows, slice):
            rows = np.arange(*rows.indices(self.shape[0]), dtype=np.int64)
        rows = np.asarray(rows, dtype=np.int64).ravel()
        if rows.size and (rows.min() < -self.shape[0] or rows.max() >= self.shape[0]):
            raise IndexError(f"row index out of range for {self.shape[0]} rows")
        rows = np.where(rows < 0, rows + self.shape[0], rows)
        file_rows = rows if self._rows is None else self._rows[rows]
        distinct, back = np.unique(file_rows, return_inverse=True)
        if distinct.size == 0:
            return sp.csr_matrix((0, self.shape[1]), dtype=np.float32)
        block = self._dataset[distinct]  # anndata reads sorted rows, contiguous runs in one slice
        block = sp.csr_matrix(block, dtype=np.float32)
        if not block.has_canonical_format:
            block.sum_duplicates()
        if self.normalize:
            block = normalize_log1p(block)
        if distinct.size != rows.size or (np.diff(file_rows) < 0).any():
            block = block[back]
        return block

    def blocks(self, size: int | None = None) -> Iterator[tuple[int, sp.csr_matrix]]:
        """``(first row, rows first .. first + size)`` over the whole matrix, in order.

        Example:
            >>> import tempfile, pathlib
            >>> from biodsnn.data import simulate, write_h5ad
            >>> p = write_h5ad(simulate(preset="tiny", progress=False), pathlib.Path(tempfile.mkdtemp()) / "t.h5ad")
            >>> m = BackedMatrix(open_store(p)["X"])
            >>> sum(b.shape[0] for _, b in m.blocks(size=100)) == m.shape[0]
            True
        """
        size = size or BLOCK_ROWS
        for start in range(0, self.shape[0], size):
            yield start, self[start : start + size]


def block_rows() -> int:
    """Rows per block of a pass over a backed matrix (:data:`BLOCK_ROWS`, read when called)."""
    return BLOCK_ROWS


def is_backed(x: Any) -> bool:
    """True when ``x`` is read from its file on demand (a :class:`BackedMatrix`)."""
    return isinstance(x, BackedMatrix)


def row_blocks(x: Any, rows: np.ndarray, size: int | None = None) -> Iterator[tuple[np.ndarray, Any]]:
    """``(rows of the block, x[those rows])`` over ``rows`` in order: one block in memory, blocks of
    :data:`BLOCK_ROWS` for a backed matrix, so the same code computes the same numbers both ways on small sets.

    Example:
        >>> import numpy as np
        >>> [r.tolist() for r, _ in row_blocks(np.eye(3), np.array([0, 2]))]
        [[0, 2]]
    """
    rows = np.asarray(rows, dtype=np.int64)
    step = size or (BLOCK_ROWS if is_backed(x) else max(len(rows), 1))
    for start in range(0, len(rows), step):
        part = rows[start : start + step]
        yield part, x[part]


__all__ = ["BLOCK_ROWS", "BackedMatrix", "block_rows", "is_backed", "is_zarr", "open_store", "read_shell", "row_blocks"]
