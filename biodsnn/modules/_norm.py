"""GEARS' BatchNorm1d for a network that computes each condition once: rows weighted by their cell counts.

GEARS (and the paper's code, built on it) runs its knowledge stream once per cell, so in a batch of cells the
BatchNorm statistics count a condition once per cell that carries it. Here the stream runs once per distinct
condition and the rows of a condition are identical for all its cells, so weighting each row by its condition's cell
count gives exactly the statistics of the per-cell rows (mean, biased variance to normalise, unbiased to update the
running variance), without computing the repeated rows.
"""

from __future__ import annotations

import torch
from torch import nn


class CountedBatchNorm1d(nn.BatchNorm1d):
    """``nn.BatchNorm1d`` over the last dimension of ``x``, each row standing for ``count`` identical rows.

    ``count`` (broadcastable to ``x.shape[:-1]``, or a number) is only read in training mode; None counts each row
    once (plain ``BatchNorm1d`` over the flattened rows). In evaluation mode the running statistics are used, as in
    ``BatchNorm1d``. Counted statistics are computed in float32 at least (the output too), also under autocast.

    Example:
        >>> x = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
        >>> bn, ref = CountedBatchNorm1d(4), nn.BatchNorm1d(4)
        >>> counts = torch.tensor([1, 2, 3])
        >>> per_cell = ref(x.repeat_interleave(counts, 0))   # the rows as GEARS has them, once per cell
        >>> torch.allclose(bn(x, counts), per_cell[torch.tensor([0, 1, 3])], atol=1e-6)
        True
        >>> torch.allclose(bn.running_var, ref.running_var, atol=1e-6)
        True
    """

    def forward(self, x: torch.Tensor, count: torch.Tensor | float | None = None) -> torch.Tensor:  # type: ignore[override]
        shape = x.shape
        flat = x.reshape(-1, shape[-1])
        if count is None or not self.training:
            return super().forward(flat).reshape(shape)
        flat = flat.to(torch.promote_types(flat.dtype, torch.float32))  # statistics never in bfloat16 (autocast)
        w = torch.as_tensor(count, dtype=flat.dtype, device=flat.device).expand(shape[:-1]).reshape(-1, 1)
        n = w.sum()
        mean = (w * flat).sum(0) / n
        var = (w * (flat - mean).pow(2)).sum(0) / n
        with torch.no_grad():  # the running statistics, as BatchNorm1d keeps them (unbiased variance)
            self.num_batches_tracked.add_(1)
            m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
            self.running_mean.mul_(1 - m).add_(m * mean.detach())
            self.running_var.mul_(1 - m).add_(m * var.detach() * n / (n - 1).clamp(min=1e-12))
        out = (flat - mean) / torch.sqrt(var + self.eps)
        if self.affine:
            out = out * self.weight + self.bias
        return out.reshape(shape)


class Blocks(nn.Sequential):
    """``nn.Sequential`` that hands a row count to its :class:`CountedBatchNorm1d` layers (the same keys)."""

    def forward(self, x: torch.Tensor, count: torch.Tensor | float | None = None) -> torch.Tensor:  # type: ignore[override]
        for layer in self:
            x = layer(x, count) if isinstance(layer, CountedBatchNorm1d) else layer(x)
        return x


__all__ = ["Blocks", "CountedBatchNorm1d"]
