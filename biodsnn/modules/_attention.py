"""Self-attention restricted to a sparse mask, on CSR kernels: sampled dense-dense products and sparse-dense products.

Nothing here ever builds a ``conditions × heads × genes × genes`` tensor, nor an ``edges × head_dim`` one. For each
condition and head, the scores of the mask's edges come from ``torch.sparse.sampled_addmm`` (one value per edge), the
softmax runs over each destination row's segment of the CSR values, and the output is one CSR @ dense product. A
hand-written backward uses the same kernels (the transposed products through a precomputed transpose permutation),
so autograd keeps one attention weight per (condition, head, edge) plus Q, K and V.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F


@contextmanager
def _quiet_sparse() -> Iterator[None]:
    """Silence torch's "sparse CSR support is in beta" notices for the kernels below only."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Sparse CSR tensor support is in beta", category=UserWarning)
        warnings.filterwarnings("ignore", message=r"Sparse invariant checks", category=UserWarning)
        yield


class SparseMask:
    """A mask's CSR structure (rows = destinations / queries, columns = sources / keys) and its transpose.

    Built once per mask (duplicates dropped, edges sorted by destination then source); the transpose is kept as a
    permutation of the edge values plus its own row pointers and columns, so ``Aᵀ @ X`` needs no sort per call.

    Attributes:
        n: number of nodes. crow / col: CSR row pointers ``[n + 1]`` and columns ``[E]``. row: each edge's row
        (destination) ``[E]``. crow_t / col_t / perm_t: the transpose's row pointers and columns, and the
        permutation with ``values_t = values[perm_t]``.

    Example:
        >>> m = SparseMask(torch.tensor([[0, 1, 1], [0, 0, 1]]), 2)   # edges 0→0, 1→0, 1→1
        >>> m.crow.tolist(), m.col.tolist(), m.crow_t.tolist(), m.col_t.tolist()
        ([0, 2, 3], [0, 1, 1], [0, 1, 3], [0, 0, 1])
    """

    def __init__(self, edge_index: torch.Tensor, n: int) -> None:
        edge_index = torch.as_tensor(edge_index, dtype=torch.long)
        if edge_index.dim() != 2 or edge_index.shape[0] != 2:
            raise ValueError(f"edge_index must have shape [2, E], got {list(edge_index.shape)}")
        if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= n):
            raise ValueError(f"edge_index refers to nodes outside 0..{n - 1}")
        key = torch.unique(edge_index[1] * n + edge_index[0])  # sorted by (destination, source), no duplicates
        self.n = n
        self.row, self.col = key // n, key % n
        self.crow = _row_pointers(self.row, n)
        self.perm_t = torch.argsort(self.col * n + self.row)
        self.col_t = self.row[self.perm_t]
        self.crow_t = _row_pointers(self.col[self.perm_t], n)
        self.device = edge_index.device

    @property
    def n_edges(self) -> int:
        return int(self.col.numel())

    def csr(self, values: torch.Tensor) -> torch.Tensor:
        """The ``n × n`` CSR matrix with these edge values (in the mask's edge order)."""
        return torch.sparse_csr_tensor(self.crow, self.col, values, (self.n, self.n), check_invariants=False)

    def csr_t(self, values: torch.Tensor) -> torch.Tensor:
        """The transpose of :meth:`csr` for the same edge values."""
        return torch.sparse_csr_tensor(self.crow_t, self.col_t, values[self.perm_t], (self.n, self.n),
                                       check_invariants=False)

    def sampled(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Edge values ``⟨a[dst], b[src]⟩`` for ``a``, ``b`` of shape ``[n, D]`` (``sampled_addmm``)."""
        pattern = self.csr(a.new_zeros(self.n_edges))
        return torch.sparse.sampled_addmm(pattern, a, b.T, beta=0.0).values()

    def row_sum(self, values: torch.Tensor) -> torch.Tensor:
        """Sum of the edge values of each row ``[n]`` (0 for an empty row)."""
        return torch.segment_reduce(values, "sum", offsets=self.crow)

    def row_softmax(self, scores: torch.Tensor) -> torch.Tensor:
        """Softmax of the edge values within each row (numerically stable: the row maximum is subtracted)."""
        row_max = scores.new_full((self.n,), -math.inf).scatter_reduce_(0, self.row, scores, reduce="amax")
        alpha = (scores - row_max[self.row]).exp_()
        return alpha.div_(self.row_sum(alpha)[self.row])


def _row_pointers(rows: torch.Tensor, n: int) -> torch.Tensor:
    crow = torch.zeros(n + 1, dtype=torch.long, device=rows.device)
    crow[1:] = torch.bincount(rows, minlength=n).cumsum(0)
    return crow


class _CSRAttention(torch.autograd.Function):
    """softmax_row(<q_dst, k_src>) @ v per condition and head, for q/k/v of shape [C, G, H, D] (q already scaled)."""

    @staticmethod
    def forward(ctx: Any, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: SparseMask) -> torch.Tensor:
        n_cond, _, n_heads, _ = q.shape
        out = torch.empty_like(v)
        alpha = q.new_empty(n_cond, n_heads, mask.n_edges)
        with _quiet_sparse():
            for c in range(n_cond):
                for h in range(n_heads):
                    qh, kh, vh = (t[c, :, h].contiguous() for t in (q, k, v))
                    alpha[c, h] = mask.row_softmax(mask.sampled(qh, kh))
                    out[c, :, h] = mask.csr(alpha[c, h]) @ vh
        ctx.save_for_backward(q, k, v, alpha)
        ctx.mask = mask
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        q, k, v, alpha = ctx.saved_tensors
        mask: SparseMask = ctx.mask
        need_q, need_k, need_v = ctx.needs_input_grad[:3]
        dq = torch.zeros_like(q) if need_q else None
        dk = torch.zeros_like(k) if need_k else None
        dv = torch.zeros_like(v) if need_v else None
        with _quiet_sparse():
            for c in range(q.shape[0]):
                for h in range(q.shape[2]):
                    g = grad_out[c, :, h].contiguous()
                    a = alpha[c, h]
                    if dv is not None:
                        dv[c, :, h] = mask.csr_t(a) @ g
                    if dq is None and dk is None:
                        continue
                    dalpha = mask.sampled(g, v[c, :, h].contiguous())
                    dscore = a * (dalpha - mask.row_sum(a * dalpha)[mask.row])
                    if dq is not None:
                        dq[c, :, h] = mask.csr(dscore) @ k[c, :, h].contiguous()
                    if dk is not None:
                        dk[c, :, h] = mask.csr_t(dscore) @ q[c, :, h].contiguous()
        return dq, dk, dv, None


def edge_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | SparseMask) -> torch.Tensor:
    """Scaled dot-product attention over the edges of a mask only.

    Node ``i`` attends to the nodes ``j`` with an edge ``j → i`` (``edge_index[0] = j`` source/key,
    ``edge_index[1] = i`` destination/query). Every node needs at least one incoming edge (the diagonal).

    Args:
        q: queries ``[C, G, H, D]`` (C independent sequences, e.g. one per perturbation condition).
        k: keys ``[C, G, H, D]``.
        v: values ``[C, G, H, D]``.
        mask: ``LongTensor [2, E]`` (source, destination), or a :class:`SparseMask` built from it once (faster when
            the same mask is used again: building the CSR structure sorts the edges).

    Returns:
        ``[C, G, H, D]``: the same as dense attention with ``-inf`` outside the mask.

    Example:
        >>> q = k = v = torch.randn(1, 3, 1, 4)
        >>> ei = torch.tensor([[0, 1, 2], [0, 1, 2]])  # diagonal only: each node returns its own value
        >>> torch.allclose(edge_attention(q, k, v, ei), v)
        True
    """
    if not isinstance(mask, SparseMask):
        mask = SparseMask(mask, q.shape[1])
    elif mask.n != q.shape[1]:
        raise ValueError(f"the mask covers {mask.n} nodes but the input has {q.shape[1]}")
    if q.dtype in (torch.bfloat16, torch.float16):
        # under autocast (the bf16 option) the sparse CSR kernels run in float32: they have no bf16 version on CPU
        with torch.autocast(device_type=q.device.type, enabled=False):
            return _CSRAttention.apply(q.float() * (1.0 / math.sqrt(q.shape[-1])), k.float(), v.float(), mask)
    return _CSRAttention.apply(q * (1.0 / math.sqrt(q.shape[-1])), k, v, mask)


def dense_masked_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                           allowed: torch.Tensor | None) -> torch.Tensor:
    """Reference (and ``noMask``) attention: ``allowed[i, j]`` True lets query i see key j; None means all pairs.

    Uses ``torch.nn.functional.scaled_dot_product_attention``; without a mask its CPU/GPU flash kernels never
    materialise the G × G matrix. With a mask this is the plain computation used in tests only.

    Example:
        >>> q = k = v = torch.randn(1, 3, 1, 4)
        >>> dense_masked_attention(q, k, v, torch.eye(3, dtype=torch.bool)).shape
        torch.Size([1, 3, 1, 4])
    """
    qh, kh, vh = (t.transpose(1, 2) for t in (q, k, v))  # [C, H, G, D]
    out = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=allowed)
    return out.transpose(1, 2)


class MaskedSelfAttention(nn.Module):
    """Multi-head self-attention over genes, restricted to mask edges (``mode="sparse"``) or over all pairs.

    Example:
        >>> att = MaskedSelfAttention(8, 2)
        >>> ei = torch.tensor([[0, 1, 2, 1], [0, 1, 2, 0]])
        >>> att(torch.randn(2, 3, 8), ei).shape
        torch.Size([2, 3, 8])
    """

    def __init__(self, d_model: int, n_heads: int, *, mode: str = "sparse") -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"hidden size {d_model} is not divisible by {n_heads} heads")
        if mode not in ("sparse", "dense"):
            raise ValueError(f"attention mode {mode!r}: use 'sparse' or 'dense'")
        self.n_heads, self.mode = n_heads, mode
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self._mask_cache: tuple[torch.Tensor, int, int, SparseMask] | None = None

    def sparse_mask(self, edge_index: torch.Tensor, n: int) -> SparseMask:
        """The CSR structure of ``edge_index``, built on first use and kept while the same tensor is passed.

        The cache holds the tensor itself: another tensor (a new mask, or the buffer moved by ``.to()``) or an
        in-place change of it (its version counter) rebuilds the structure.
        """
        cached = self._mask_cache
        if cached is None or cached[0] is not edge_index or cached[1] != edge_index._version or cached[2] != n:
            cached = (edge_index, edge_index._version, n, SparseMask(edge_index, n))
            self._mask_cache = cached
        return cached[3]

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor | SparseMask | None) -> torch.Tensor:
        n_cond, n_genes, d_model = x.shape
        q, k, v = self.qkv(x).view(n_cond, n_genes, 3, self.n_heads, d_model // self.n_heads).unbind(2)
        if self.mode == "sparse":
            if edge_index is None:
                raise ValueError("sparse attention needs the mask's edge_index")
            mask = edge_index if isinstance(edge_index, SparseMask) else self.sparse_mask(edge_index, n_genes)
            h = edge_attention(q, k, v, mask)
        else:
            h = dense_masked_attention(q, k, v, None)
        return self.out(h.reshape(n_cond, n_genes, d_model))


class MaskedTransformerLayer(nn.Module):
    """One post-norm transformer encoder layer (as ``nn.TransformerEncoderLayer``) with masked self-attention.

    Example:
        >>> layer = MaskedTransformerLayer(8, 2, 16)
        >>> layer(torch.randn(1, 3, 8), torch.tensor([[0, 1, 2], [0, 1, 2]])).shape
        torch.Size([1, 3, 8])
    """

    def __init__(self, d_model: int = 64, n_heads: int = 2, d_ff: int = 512, *, mode: str = "sparse",
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.attn = MaskedSelfAttention(d_model, n_heads, mode=mode)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor | SparseMask | None) -> torch.Tensor:
        x = self.norm1(x + self.drop(self.attn(x, edge_index)))
        return self.norm2(x + self.drop(self.ff(x)))
