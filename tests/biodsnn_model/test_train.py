"""The optimiser's weight-decay groups: levels (biases, norm gains) are not pulled toward zero unless asked."""

from __future__ import annotations

import torch

from biodsnn.train import TrainConfig, parameter_groups, train


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3), torch.nn.Linear(3, 2))


def _fit_without_signal(net: torch.nn.Module, decay_biases: bool) -> None:
    """Ten steps of a loss with zero gradient: only weight decay can move a parameter."""
    data = [torch.ones(2, 4)]
    config = TrainConfig(epochs=1, lr=1e-2, weight_decay=0.1, lr_gamma=1.0, weight_decay_biases=decay_biases)
    train(net, batches=lambda e: data * 10, n_batches=lambda e: 10, loss=lambda b, g: 0.0 * net(b).sum(),
          validate=lambda: float("nan"), config=config, progress=False)


def test_biases_and_norm_gains_are_not_decayed_by_default() -> None:
    net = _net()
    before = {k: p.detach().clone() for k, p in net.named_parameters()}
    _fit_without_signal(net, decay_biases=False)
    for name, p in net.named_parameters():
        moved = not torch.equal(p.detach(), before[name])
        assert moved is (p.ndim >= 2), name


def test_decay_biases_decays_every_parameter() -> None:
    net = _net()
    before = {k: p.detach().clone() for k, p in net.named_parameters()}
    _fit_without_signal(net, decay_biases=True)
    for name, p in net.named_parameters():
        if before[name].abs().sum() > 0:  # a zero bias stays zero under decay
            assert p.detach().abs().sum() < before[name].abs().sum(), name


def test_groups_cover_every_trainable_parameter_once() -> None:
    net = _net()
    groups = parameter_groups(net, 5e-4)
    ids = [id(p) for g in groups for p in g["params"]]
    assert sorted(ids) == sorted(id(p) for p in net.parameters()) and len(set(ids)) == len(ids)
    assert [g["weight_decay"] for g in groups] == [5e-4, 0.0]
