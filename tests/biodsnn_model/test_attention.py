"""The CSR masked attention equals dense attention with −inf outside the mask (values and gradients)."""

from __future__ import annotations

import warnings

import pytest
import torch

from biodsnn.modules import MaskedSelfAttention, dense_masked_attention, edge_attention, prepare_mask
from biodsnn.modules._attention import SparseMask

from .conftest import random_mask


def _dense_allowed(edge_index: torch.Tensor, n: int) -> torch.Tensor:
    allowed = torch.zeros(n, n, dtype=torch.bool)
    allowed[edge_index[1], edge_index[0]] = True
    return allowed


def _plain(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """Scores over all pairs, −inf outside the mask, softmax, weighted sum (autograd does the backward)."""
    scores = torch.einsum("cihd,cjhd->chij", q, k) / q.shape[-1] ** 0.5
    scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.einsum("chij,cjhd->cihd", scores.softmax(-1), v)


@pytest.mark.parametrize(("n", "density", "seed"), [(13, 0.3, 1), (20, 0.05, 5), (8, 1.0, 6)])
def test_sparse_attention_equals_dense_masked_attention(n: int, density: float, seed: int) -> None:
    ei = prepare_mask(random_mask(n, density, seed=seed, isolated=(0, 7)), n)
    g = torch.Generator().manual_seed(seed + 100)
    c, h, d = 3, 2, 4
    q, k, v = (torch.randn(c, n, h, d, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3))
    sparse = edge_attention(q, k, v, ei)
    allowed = _dense_allowed(ei, n)
    plain = _plain(q, k, v, allowed)
    torch.testing.assert_close(sparse, plain, atol=1e-10, rtol=1e-10)
    # rows that only see themselves return their own value
    torch.testing.assert_close(sparse[:, 7], v[:, 7])
    torch.testing.assert_close(sparse, dense_masked_attention(q, k, v, allowed), atol=1e-10, rtol=1e-10)
    # the hand-written backward equals autograd through the plain computation
    w = torch.randn(c, n, h, d, generator=g, dtype=torch.float64)
    gs = torch.autograd.grad((sparse * w).sum(), (q, k, v))
    gp = torch.autograd.grad((plain * w).sum(), (q, k, v))
    for a, b in zip(gs, gp, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)


def test_sparse_attention_gradcheck() -> None:
    n = 6
    ei = prepare_mask(random_mask(n, 0.4, seed=3, isolated=(2,)), n)
    mask = SparseMask(ei, n)
    g = torch.Generator().manual_seed(4)
    q, k, v = (torch.randn(2, n, 2, 3, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3))
    assert torch.autograd.gradcheck(lambda a, b, c: edge_attention(a, b, c, mask), (q, k, v))


def test_gradient_of_one_input_only() -> None:
    n = 7
    ei = prepare_mask(random_mask(n, 0.5, seed=8), n)
    g = torch.Generator().manual_seed(9)
    q, k, v = (torch.randn(1, n, 1, 2, generator=g, dtype=torch.float64) for _ in range(3))
    for i in range(3):
        args = [t.clone().requires_grad_(j == i) for j, t in enumerate((q, k, v))]
        grad = torch.autograd.grad(edge_attention(*args, ei).pow(2).sum(), args[i])[0]
        ref_args = [t.clone().requires_grad_(j == i) for j, t in enumerate((q, k, v))]
        ref = torch.autograd.grad(_plain(*ref_args, _dense_allowed(ei, n)).pow(2).sum(), ref_args[i])[0]
        torch.testing.assert_close(grad, ref)


def test_unsorted_and_duplicate_edges_give_the_same_result() -> None:
    n = 10
    ei = prepare_mask(random_mask(n, 0.3, seed=11), n)
    g = torch.Generator().manual_seed(12)
    shuffled = ei[:, torch.randperm(ei.shape[1], generator=g)]
    doubled = torch.cat([shuffled, ei[:, :5]], dim=1)
    q, k, v = (torch.randn(2, n, 2, 3, generator=g) for _ in range(3))
    ref = edge_attention(q, k, v, ei)
    torch.testing.assert_close(edge_attention(q, k, v, shuffled), ref)
    torch.testing.assert_close(edge_attention(q, k, v, doubled), ref)


def test_sparse_mask_structure_and_transpose() -> None:
    n = 9
    ei = random_mask(n, 0.35, seed=13)
    m = SparseMask(ei, n)
    dense = _dense_allowed(ei, n).double()  # dense[dst, src]
    vals = torch.arange(1, m.n_edges + 1, dtype=torch.float64)
    a = m.csr(vals).to_dense()
    assert torch.equal(a != 0, dense != 0)
    torch.testing.assert_close(m.csr_t(vals).to_dense(), a.T)
    torch.testing.assert_close(m.row_sum(vals), a.sum(1))
    x, y = torch.randn(n, 4, dtype=torch.float64), torch.randn(n, 4, dtype=torch.float64)
    torch.testing.assert_close(m.sampled(x, y), (x @ y.T)[m.row, m.col])
    with pytest.raises(ValueError, match="outside"):
        SparseMask(torch.tensor([[0], [n]]), n)


def test_no_sparse_beta_warning() -> None:
    n = 5
    ei = prepare_mask(random_mask(n, 0.5, seed=14), n)
    q = torch.randn(1, n, 1, 2, requires_grad=True)
    torch.set_warn_always(True)  # torch warns about CSR tensors once per process: make it warn on every call
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            edge_attention(q, q, q, ei).sum().backward()
        with pytest.warns(UserWarning, match="Sparse CSR"):  # the notice exists: the silencing above is real
            SparseMask(ei, n).csr(torch.ones(ei.shape[1]))
    finally:
        torch.set_warn_always(False)


def test_module_caches_the_mask_and_rebuilds_for_another() -> None:
    n = 9
    torch.manual_seed(0)
    att = MaskedSelfAttention(8, 2, mode="sparse")
    ei = prepare_mask(random_mask(n, 0.3, seed=15), n)
    x = torch.randn(2, n, 8)
    y = att(x, ei)
    first = att._mask_cache[3]
    torch.testing.assert_close(att(x, ei), y)
    assert att._mask_cache[3] is first  # same tensor: same structure
    other = prepare_mask(random_mask(n, 0.6, seed=16), n)
    assert att(x, other).shape == y.shape and att._mask_cache[3] is not first
    torch.testing.assert_close(att(x, ei), y)


def test_attention_module_sparse_with_full_mask_equals_dense_mode() -> None:
    n = 9
    torch.manual_seed(0)
    sparse = MaskedSelfAttention(8, 2, mode="sparse")
    dense = MaskedSelfAttention(8, 2, mode="dense")
    dense.load_state_dict(sparse.state_dict())
    full = torch.ones(n, n, dtype=torch.bool).nonzero().T.flip(0)
    x = torch.randn(2, n, 8)
    torch.testing.assert_close(sparse(x, prepare_mask(full, n)), dense(x, None), atol=1e-5, rtol=1e-5)
