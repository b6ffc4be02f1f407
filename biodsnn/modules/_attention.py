"""Self-attention restricted to a sparse mask: scores per edge, softmax per destination, weighted sum by index_add.

Nothing here ever builds a ``conditions × heads × genes × genes`` tensor. The edge computation runs in chunks of
edges inside a hand-written autograd function, so the memory held for the backward pass is one score per
(condition, edge, head) plus Q, K and V; the transient per-chunk tensors are ``conditions × chunk × heads × head_dim``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

DEFAULT_EDGE_CHUNK = 1 << 18


def _chunks(n: int, size: int) -> list[tuple[int, int]]:
    return [(s, min(s + size, n)) for s in range(0, n, size)]


class _EdgeAttention(torch.autograd.Function):
    """softmax_dst(<q_dst, k_src>) · v_src summed into dst, for q/k/v of shape [C, G, H, D] (q already scaled)."""

    @staticmethod
    def forward(ctx: Any, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, src: torch.Tensor, dst: torch.Tensor,
                chunk: int) -> torch.Tensor:
        n_cond, n_nodes, n_heads, _ = q.shape
        n_edges = src.numel()
        spans = _chunks(n_edges, chunk)
        scores = q.new_empty(n_cond, n_edges, n_heads)
        for s, e in spans:
            scores[:, s:e] = (q[:, dst[s:e]] * k[:, src[s:e]]).sum(-1)
        # segment softmax by destination (numerically stable: subtract the row maximum)
        row_max = q.new_full((n_cond, n_nodes, n_heads), -math.inf)
        row_max.scatter_reduce_(1, dst.view(1, -1, 1).expand_as(scores), scores, reduce="amax", include_self=True)
        alpha = (scores - row_max[:, dst]).exp_()
        denom = q.new_zeros(n_cond, n_nodes, n_heads).index_add_(1, dst, alpha)
        alpha /= denom[:, dst]
        out = torch.zeros_like(v)
        for s, e in spans:
            out.index_add_(1, dst[s:e], alpha[:, s:e, :, None] * v[:, src[s:e]])
        ctx.save_for_backward(q, k, v, src, dst, alpha)
        ctx.chunk = chunk
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        q, k, v, src, dst, alpha = ctx.saved_tensors
        spans = _chunks(src.numel(), ctx.chunk)
        grad_out = grad_out.contiguous()
        dv = torch.zeros_like(v)
        dalpha = torch.empty_like(alpha)
        for s, e in spans:
            g_dst = grad_out[:, dst[s:e]]
            dv.index_add_(1, src[s:e], alpha[:, s:e, :, None] * g_dst)
            dalpha[:, s:e] = (g_dst * v[:, src[s:e]]).sum(-1)
        row_dot = torch.zeros(alpha.shape[0], q.shape[1], alpha.shape[2], dtype=alpha.dtype, device=alpha.device)
        row_dot.index_add_(1, dst, alpha * dalpha)
        dscore = alpha * (dalpha - row_dot[:, dst])
        dq = torch.zeros_like(q)
        dk = torch.zeros_like(k)
        for s, e in spans:
            ds = dscore[:, s:e, :, None]
            dq.index_add_(1, dst[s:e], ds * k[:, src[s:e]])
            dk.index_add_(1, src[s:e], ds * q[:, dst[s:e]])
        return dq, dk, dv, None, None, None


def edge_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, edge_index: torch.Tensor, *,
                   chunk: int = DEFAULT_EDGE_CHUNK) -> torch.Tensor:
    """Scaled dot-product attention over the edges of a mask only.

    Node ``i`` attends to the nodes ``j`` with an edge ``j → i`` (``edge_index[0] = j`` source/key,
    ``edge_index[1] = i`` destination/query). Every node needs at least one incoming edge (the diagonal).

    Args:
        q: queries ``[C, G, H, D]`` (C independent sequences, e.g. one per perturbation condition).
        k: keys ``[C, G, H, D]``.
        v: values ``[C, G, H, D]``.
        edge_index: ``LongTensor [2, E]`` (source, destination).
        chunk: edges processed at a time (bounds transient memory).

    Returns:
        ``[C, G, H, D]``: the same as dense attention with ``-inf`` outside the mask.

    Example:
        >>> q = k = v = torch.randn(1, 3, 1, 4)
        >>> ei = torch.tensor([[0, 1, 2], [0, 1, 2]])  # diagonal only: each node returns its own value
        >>> torch.allclose(edge_attention(q, k, v, ei), v)
        True
    """
    scale = 1.0 / math.sqrt(q.shape[-1])
    src, dst = edge_index[0].contiguous(), edge_index[1].contiguous()
    return _EdgeAttention.apply(q * scale, k, v, src, dst, chunk)


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

    def __init__(self, d_model: int, n_heads: int, *, mode: str = "sparse", chunk: int = DEFAULT_EDGE_CHUNK) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"hidden size {d_model} is not divisible by {n_heads} heads")
        if mode not in ("sparse", "dense"):
            raise ValueError(f"attention mode {mode!r}: use 'sparse' or 'dense'")
        self.n_heads, self.mode, self.chunk = n_heads, mode, chunk
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor | None) -> torch.Tensor:
        n_cond, n_genes, d_model = x.shape
        q, k, v = self.qkv(x).view(n_cond, n_genes, 3, self.n_heads, d_model // self.n_heads).unbind(2)
        if self.mode == "sparse":
            h = edge_attention(q, k, v, edge_index, chunk=self.chunk)
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
                 dropout: float = 0.0, chunk: int = DEFAULT_EDGE_CHUNK) -> None:
        super().__init__()
        self.attn = MaskedSelfAttention(d_model, n_heads, mode=mode, chunk=chunk)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor | None) -> torch.Tensor:
        x = self.norm1(x + self.drop(self.attn(x, edge_index)))
        return self.norm2(x + self.drop(self.ff(x)))
