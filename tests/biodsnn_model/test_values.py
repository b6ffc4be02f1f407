"""Values, not ranges: the learning rate of every epoch (StepLR with lr_step and lr_gamma), and a second,
independent check that the attention mask is used: one added mask edge changes exactly one gene's output."""

from __future__ import annotations

import pytest
import torch

from biodsnn.model import BioDSNN
from biodsnn.modules import BioDSNNModule
from biodsnn.train import TrainConfig, train

from .conftest import random_mask


def _steps_taken(lr: float, lr_step: int, lr_gamma: float, epochs: int) -> list[float]:
    """Train w with loss ``w`` (gradient 1, one batch per epoch) and return how far each epoch moved it.

    Adam's step for a constant gradient g is ``lr · ĝ / (√v̂ + ε)`` with ``ĝ = g`` and ``v̂ = g²``: exactly the rate
    (up to ε), so each epoch's move is the rate the optimiser really used.
    """
    w = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    module = torch.nn.Module()
    module.w = w
    seen: list[float] = []
    train(module, batches=lambda e: [None], n_batches=lambda e: 1, loss=lambda b, g: module.w.sum(),
          validate=lambda: seen.append(float(module.w)) or float("nan"),
          config=TrainConfig(epochs=epochs, lr=lr, weight_decay=0.0, lr_step=lr_step, lr_gamma=lr_gamma,
                             grad_clip=0.0),
          progress=False)
    moves = [-seen[0]] + [seen[k - 1] - seen[k] for k in range(1, len(seen))]
    return moves


@pytest.mark.parametrize(("lr_step", "lr_gamma"), [(1, 0.5), (2, 0.7), (1, 0.95)])
def test_the_optimiser_steps_at_the_scheduled_rate_every_epoch(lr_step: int, lr_gamma: float) -> None:
    lr, epochs = 0.1, 5
    expected = [lr * lr_gamma ** (e // lr_step) for e in range(epochs)]  # e.g. (2, 0.7): .1 .1 .07 .07 .049
    assert _steps_taken(lr, lr_step, lr_gamma, epochs) == pytest.approx(expected, rel=1e-6)


def test_biodsnn_fit_records_and_uses_lr_gamma(tiny) -> None:
    model = BioDSNN(tiny.data, tiny.knowledge, split=tiny.split, variant="noVAE", seed=0, de=tiny.de, hidden=8,
                    d_ff=16, batch_size=64, n_control_predict=32, lr=0.02, lr_gamma=0.8, lr_step=2)
    model.fit(epochs=5, progress=False)
    assert [h["lr"] for h in model.history] == pytest.approx([0.02, 0.02, 0.016, 0.016, 0.0128], rel=1e-12)


def _full_module(mask: torch.Tensor, n_genes: int = 12) -> BioDSNNModule:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    m = BioDSNNModule(n_genes, 6, coexpr_edge_index=torch.randint(0, n_genes, (2, 30), generator=g),
                      go_edge_index=torch.randint(0, 6, (2, 10), generator=g), mask_edge_index=mask,
                      variant="full", hidden=8, n_heads=2, d_ff=16, vae_intermediate=6, vae_latent=3).eval()
    with torch.no_grad():  # the readout starts at zero (untrained = no change): give it weights
        m.gene_w1.normal_(generator=g)
    return m


def test_one_more_mask_edge_changes_exactly_its_query_gene() -> None:
    mask = random_mask(12, 0.2, seed=3)
    allowed = set(zip(mask[0].tolist(), mask[1].tolist(), strict=True))
    key, query = next((k, q) for k in range(12) for q in range(12) if (k, q) not in allowed)
    wider = torch.cat([mask, torch.tensor([[key], [query]])], dim=1)
    cond = torch.tensor([[0, 3], [5, -1], [2, -1]])
    with torch.no_grad():
        a, b = _full_module(mask).knowledge(cond), _full_module(wider).knowledge(cond)
    changed = ((a - b).abs() > 1e-7).any(0).nonzero().flatten().tolist()
    assert changed == [query]
    # and a diagonal-only mask (no cross-gene attention) gives other outputs than the random mask
    diag = torch.arange(12).repeat(2, 1)
    with torch.no_grad():
        d = _full_module(diag).knowledge(cond)
    assert not torch.allclose(d, a)
