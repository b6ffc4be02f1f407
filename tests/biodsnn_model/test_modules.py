"""Pure-module tests on small synthetic tensors: every speed trick equals the plain computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biodsnn.modules import (
    VARIANTS,
    BioDSNNModule,
    ControlVAE,
    get_variant,
    perturbation_loss,
)
from reactomenet.errors import InputError

from .conftest import random_mask

#: perturbation -> measured gene column in the marked modules: perturbations 8 and 9 are not measured
PERT_GENE = torch.tensor([4, 0, 7, 11, 2, 9, 5, 1, -1, -1])


#: the network forms every per-variant test runs on: the paper's, with the perturbed-gene marker, and with the marker,
#: member composition and the own-gene head
NETWORKS = pytest.mark.parametrize("network", ["paper", "marked", "composed"])


def _module(variant: str, n_genes: int = 12, n_perts: int = 10, seed: int = 0, mark: bool = False,
            compose: bool = False, network: str | None = None) -> BioDSNNModule:
    if network is not None:
        mark, compose = network != "paper", network == "composed"
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    coexpr = torch.randint(0, n_genes, (2, 30), generator=g)
    go = torch.randint(0, n_perts, (2, 25), generator=g)
    extra: dict = {"mark_perturbed": True, "pert_gene": PERT_GENE[:n_perts]} if mark else {}
    extra |= {"compose_members": compose, "own_gene_head": compose}
    if VARIANTS[variant].additive_prior:
        extra |= {"single_effect": torch.randn(n_perts, n_genes, generator=g),
                  "single_seen": torch.arange(n_perts) % 2 == 0}
    return BioDSNNModule(n_genes, n_perts, coexpr_edge_index=coexpr, coexpr_weight=torch.rand(30, generator=g),
                         go_edge_index=go, go_weight=torch.rand(25, generator=g),
                         mask_edge_index=random_mask(n_genes, 0.25, seed + 1, isolated=(3,)),
                         variant=variant, hidden=8, n_heads=2, d_ff=16, vae_intermediate=6, vae_latent=3, **extra)


def _go_module(n_perts: int = 15, seed: int = 0) -> BioDSNNModule:
    """A module whose GO graph is random and weighted, with duplicate edges, self-loops and isolated nodes."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    go = torch.randint(0, n_perts - 3, (2, 40), generator=g)  # the last 3 perturbations have no edge at all
    go = torch.cat([go, go[:, :4], torch.tensor([[2, 5], [2, 5]])], dim=1)  # duplicates and weighted self-loops
    weight = torch.rand(go.shape[1], generator=g) + 0.1
    ei = torch.tensor([[0, 1], [1, 0]])
    return BioDSNNModule(6, n_perts, coexpr_edge_index=ei, go_edge_index=go, go_weight=weight, mask_edge_index=ei,
                         hidden=8, n_heads=2, d_ff=16, vae_intermediate=6, vae_latent=3)


def _grads(m: BioDSNNModule, out: torch.Tensor, w: torch.Tensor) -> list[torch.Tensor]:
    params = [m.pert_emb.weight, m.pert_conv.lin.weight, m.pert_conv.lin.bias]
    return list(torch.autograd.grad((out * w).sum(), params))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_perturbation_rows_equal_the_full_sgconv(dtype: torch.dtype) -> None:
    m = _go_module()
    m.perturbation_rows(torch.tensor([0]))  # builds the adjacency in float32; `.to()` below must rebuild it
    m = m.to(dtype)
    assert (m.pert_conv.K, m.pert_conv.cached, m.pert_conv.add_self_loops) == (1, False, True)
    assert m.pert_conv.lin.bias is not None
    with torch.no_grad():
        m.pert_conv.lin.bias.uniform_(-1, 1)  # a non-zero bias, so a missing bias would show
    full = m.perturbation_table()
    assert not torch.allclose(full, m.pert_conv.lin(m.pert_emb.weight))  # the graph does change the table
    tol = 1e-6 if dtype == torch.float32 else 1e-12
    for rows in (torch.arange(15), torch.tensor([14, 2, 2, 5, 0, 13]), torch.tensor([7]), torch.tensor([], dtype=int)):
        fast = m.perturbation_rows(rows)
        assert fast.dtype == dtype and fast.shape == (len(rows), 8)
        assert torch.allclose(fast, full[rows], atol=tol, rtol=0)
        w = torch.randn(len(rows), 8, generator=torch.Generator().manual_seed(len(rows)), dtype=dtype)
        for a, b in zip(_grads(m, m.perturbation_rows(rows), w), _grads(m, m.perturbation_table()[rows], w),
                        strict=True):
            assert torch.allclose(a, b, atol=tol, rtol=0)
    with torch.no_grad():  # an in-place edit of the graph's weights rebuilds the adjacency too
        m.go_weight.mul_(torch.linspace(0.5, 2.0, len(m.go_weight), dtype=dtype))
    assert torch.allclose(m.perturbation_rows(torch.arange(15)), m.perturbation_table(), atol=tol, rtol=0)
    # isolated nodes see only themselves, with weight 1 after normalisation: lin(x_i)
    iso = torch.tensor([12, 13, 14])
    assert torch.allclose(m.perturbation_rows(iso), m.pert_conv.lin(m.pert_emb.weight[iso]), atol=tol, rtol=0)


@pytest.mark.parametrize("variant", list(VARIANTS))
@NETWORKS
def test_knowledge_with_perturbation_rows_equals_the_full_table(variant: str, network: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    m = _module(variant, network=network).eval()
    with torch.no_grad():  # move off the zero-initialised projection, so the perturbation embeddings reach the output
        m.gene_w1.normal_()
        if m.cross_gene is not None:
            m.gene_w2.normal_()
        if m.joint_w1 is not None:
            m.joint_w1.normal_()
    cond_perts = torch.tensor([[0, 3], [5, -1], [-1, -1], [2, 4], [3, 0]])
    params = [m.pert_emb.weight, *m.pert_conv.parameters()]
    fast = m.knowledge(cond_perts)
    fast_grads = torch.autograd.grad(fast.square().sum(), params)
    monkeypatch.setattr(m, "perturbation_rows", lambda rows: m.perturbation_table()[rows])
    plain = m.knowledge(cond_perts)
    plain_grads = torch.autograd.grad(plain.square().sum(), params)
    assert not torch.allclose(plain[0], plain[1])
    assert torch.allclose(fast, plain, atol=1e-5)
    for a, b in zip(fast_grads, plain_grads, strict=True):  # float32 rounding, relative to the gradient's scale
        assert float((a - b).abs().max()) <= 1e-5 * max(1.0, float(b.abs().max()))
    assert any(bool(g.abs().sum() > 0) for g in fast_grads)


@pytest.mark.parametrize("variant", list(VARIANTS))
@NETWORKS
def test_knowledge_per_condition_equals_per_cell(variant: str, network: str) -> None:
    m = _module(variant, network=network).eval()
    cond_perts = torch.tensor([[0, 3], [5, -1], [-1, -1], [2, 4]])
    cell_cond = torch.tensor([0, 0, 1, 3, 3, 3, 2, 1, 0])
    x = torch.rand(len(cell_cond), 12) * (torch.rand(len(cell_cond), 12) > 0.3)
    fast = m(x, cond_perts, cell_cond).pred
    # naive: the knowledge stream recomputed for every cell
    base, _ = m.regenerate(x)
    naive = base + m.knowledge(cond_perts[cell_cond])
    assert torch.allclose(fast, naive, atol=1e-5)
    # and one cell at a time
    one = torch.stack([m.regenerate(x[i: i + 1])[0][0] + m.knowledge(cond_perts[cell_cond[i]].unsqueeze(0))[0]
                       for i in range(len(cell_cond))])
    assert torch.allclose(fast, one, atol=1e-5)


@pytest.mark.parametrize("variant", list(VARIANTS))
@NETWORKS
def test_vae_and_transformer_are_trained(variant: str, network: str) -> None:
    m = _module(variant, network=network).train()
    params = {id(p) for p in m.parameters()}
    watched = {}
    if m.variant.use_vae:
        assert m.vae is not None
        watched.update({f"vae.{k}": p for k, p in m.vae.named_parameters()})
    if m.variant.cross_gene == "attention":
        assert m.transformer is not None
        watched.update({f"transformer.{k}": p for k, p in m.transformer.named_parameters()})
    if m.variant.cross_gene == "mlp":
        watched.update({f"cross_gene.{k}": p for k, p in m.cross_gene.named_parameters()})
    if m.variant.additive_prior:  # the interaction head learns too (row 0 below is a combination)
        watched.update({f"interaction.{k}": p for k, p in m.interaction.named_parameters()})
        watched.update({f"interaction_gene.{k}": p for k, p in m.interaction_gene.named_parameters()})
    if network != "paper":
        watched.update({"perturbed_marker": m.perturbed_marker, "shared_w1": m.shared_w1})
    if m.compose_members:
        watched.update({"joint_w1": m.joint_w1})
        watched.update({f"own_head.{k}": p for k, p in m.own_head.named_parameters()})
    assert watched, "every variant has a data or a cross-gene module to watch"
    assert all(id(p) in params for p in watched.values())
    before = {k: p.detach().clone() for k, p in watched.items()}
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    cond_perts = torch.tensor([[0, 3], [5, -1]])
    cell_cond = torch.tensor([0, 1, 0, 1])
    x = torch.rand(4, 12) + 0.1
    gen = torch.Generator().manual_seed(0)
    # two steps: the last projections start at zero (untrained = no change), so the layers below them get their
    # first gradient on the second step
    for _ in range(2):
        out = m(x, cond_perts, cell_cond, gen)
        loss = perturbation_loss(out.pred, x + 0.5, x.mean(0), cell_cond, torch.ones(2, 12, dtype=torch.bool))
        if out.vae is not None:
            loss = loss + ControlVAE.loss(x, out.vae)
        opt.zero_grad()
        loss.backward()
        opt.step()
    for k, p in watched.items():
        if k.endswith("bias") and p.grad is None:
            continue
        assert not torch.equal(p.detach(), before[k]), f"{k} did not change after a training step"
    # the modules are the same objects on every call (built once, in __init__)
    ids = [id(mod) for mod in m.modules()]
    m(x, cond_perts, cell_cond)
    assert ids == [id(mod) for mod in m.modules()]


def test_vae_keeps_zeros_and_is_deterministic_in_eval() -> None:
    torch.manual_seed(0)
    vae = ControlVAE(7, intermediate=4, latent=2)
    x = torch.tensor([[0.0, 1.0, 0.0, 2.0, 0.5, 0.0, 3.0]]).repeat(3, 1)
    out = vae.train()(x, torch.Generator().manual_seed(1))
    assert (out.recon[x == 0] == 0).all()
    assert (out.recon[x != 0] != 0).all()
    vae.eval()
    assert torch.equal(vae(x).recon, vae(x).recon)


def test_vae_initialised_at_the_nonzero_mean_regenerates_the_control_mean() -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.rand(40, 9, generator=g) * 3 * (torch.rand(40, 9, generator=g) > 0.6)
    x[:, 4] = 0.0  # a gene that is never expressed
    torch.manual_seed(0)
    vae = ControlVAE(9, intermediate=4, latent=2, init_output=ControlVAE.nonzero_mean(x)).eval()
    recon = vae(x).recon
    assert torch.allclose(recon.mean(0), x.mean(0), atol=1e-6)
    assert (recon[x == 0] == 0).all()
    # training mode (noisy latent) too: the zero last weight ignores the latent
    assert torch.allclose(vae.train()(x, g).recon.mean(0), x.mean(0), atol=1e-6)


@pytest.mark.parametrize("variant", list(VARIANTS))
@NETWORKS
def test_untrained_knowledge_stream_predicts_no_change(variant: str, network: str) -> None:
    m = _module(variant, network=network).eval()
    cond_perts = torch.tensor([[0, 3], [5, -1], [-1, -1], [2, 4], [4, -1]])  # even perturbations: singles seen
    effect = m.knowledge(cond_perts)
    if m.variant.additive_prior:  # multi-gene conditions: the sum of their seen singles' observed effects
        for row, perts in zip(effect, cond_perts.tolist(), strict=True):
            seen = [p for p in perts if p >= 0 and bool(m.single_seen[p])]
            expected = (m.single_effect[seen].sum(0) if len([p for p in perts if p >= 0]) >= 2 and seen
                        else torch.zeros(12))
            assert torch.allclose(row, expected, atol=1e-6)
    else:
        assert torch.equal(effect, torch.zeros_like(effect))


def test_additive_prior_equals_a_loop_over_combinations() -> None:
    """The vectorised additive prior + interaction head equals the formula evaluated one condition at a time."""
    m = _module("additive_residual").eval()
    torch.nn.init.normal_(m.interaction[-1].weight)  # a non-zero head (it starts at zero)
    torch.nn.init.normal_(m.gene_w1)  # and a non-zero knowledge stream
    m.control_mean = torch.rand(12)
    cond_perts = torch.tensor([[0, 3, -1], [5, -1, -1], [-1, -1, -1], [2, 4, 6], [1, 3, -1], [4, -1, 8]])
    fast = m.knowledge(cond_perts)
    gene = m.interaction_gene(m.gene_table())
    for row, perts in zip(fast, cond_perts.tolist(), strict=True):
        members = [p for p in perts if p >= 0]
        if len(members) < 2:
            assert torch.allclose(row, m._knowledge_stream(torch.tensor([perts]))[0], atol=1e-5)
            continue
        est = [m.single_effect[p] if bool(m.single_seen[p]) else m._knowledge_stream(torch.tensor([[p]]))[0]
               for p in members]
        pairs = sum(est[i] * est[j] for i in range(len(est)) for j in range(i + 1, len(est)))
        feats = torch.stack([sum(est), sum(e.abs() for e in est), sum(e * e for e in est), pairs, m.control_mean], -1)
        head = m.interaction(torch.cat([feats, gene], -1)).squeeze(-1)
        assert torch.allclose(row, sum(est) + head, atol=1e-5)


@pytest.mark.parametrize("variant", ["full", "noAttention", "gears"])
def test_composed_knowledge_equals_a_loop_over_members(variant: str) -> None:
    """The batched composition (the stream once per distinct member) equals Σ_p K({p}) + J(c), one row at a time."""
    m = _module(variant, network="composed").eval()
    with torch.no_grad():  # non-zero readouts (they start at zero)
        m.gene_w1.normal_()
        m.joint_w1.normal_()
        if m.cross_gene is not None:
            m.gene_w2.normal_()
    cond_perts = torch.tensor([[0, 3, -1], [5, -1, -1], [-1, -1, -1], [2, 4, 6], [3, 0, -1], [4, -1, 8]])
    fast = m.knowledge(cond_perts)
    for row, perts in zip(fast, cond_perts.tolist(), strict=True):
        members = [p for p in perts if p >= 0]
        expected = sum((m._knowledge_stream(torch.tensor([[p]]))[0] for p in members), torch.zeros(12))
        if len(members) >= 2:
            expected = expected + m._knowledge_stream(torch.tensor([perts]), joint=True)[0]
        assert torch.allclose(row, expected, atol=1e-5)
    assert torch.equal(fast[2], torch.zeros(12))  # the control: no change
    assert torch.allclose(fast[0], fast[4], atol=1e-6)  # a set: the order of its members does not matter
    single_sum = m.knowledge(torch.tensor([[0, -1], [3, -1]])).sum(0)
    assert not torch.allclose(fast[0], single_sum, atol=1e-3)  # the joint pass adds an interaction
    with torch.no_grad():
        m.joint_w1.zero_()
        m.joint_b1.zero_()
    assert torch.allclose(m.knowledge(cond_perts[:1])[0], single_sum, atol=1e-5)  # without it: the sum of singles


def _loop_loss(pred, target, ctrl, conds, keep, gamma=2.0, lam=0.1, sharp=10.0):
    """GEARS' loss_fct as a Python loop over perturbations (with the tanh direction stand-in)."""
    total = 0.0
    distinct = sorted(set(conds.tolist()))
    for c in distinct:
        rows = (conds == c).nonzero().flatten()
        cols = keep[c].nonzero().flatten()
        p, t = pred[rows][:, cols], target[rows][:, cols]
        n = p.shape[0] * p.shape[1]
        total = total + ((p - t).abs() ** (2 + gamma)).sum() / n
        total = total + lam * ((torch.sign(t - ctrl[cols]) - torch.tanh(sharp * (p - ctrl[cols]))) ** 2).sum() / n
    return total / len(distinct)


def test_vectorised_loss_equals_loop() -> None:
    g = torch.Generator().manual_seed(5)
    pred, target = torch.randn(11, 8, generator=g), torch.randn(11, 8, generator=g)
    ctrl = torch.randn(8, generator=g)
    conds = torch.tensor([0, 2, 2, 0, 3, 3, 3, 0, 2, 2, 0])  # condition 1 absent from the batch
    keep = torch.rand(4, 8, generator=g) > 0.3
    fast = perturbation_loss(pred, target, ctrl, conds, keep)
    assert torch.allclose(fast, _loop_loss(pred, target, ctrl, conds, keep), atol=1e-6)


def test_mean_level_loss_is_the_cell_loss_of_the_condition_means() -> None:
    g = torch.Generator().manual_seed(6)
    pred, target = torch.randn(11, 8, generator=g), torch.randn(11, 8, generator=g)
    ctrl = torch.randn(8, generator=g)
    conds = torch.tensor([0, 2, 2, 0, 3, 3, 3, 0, 2, 2, 0])  # condition 1 absent from the batch
    keep = torch.rand(4, 8, generator=g) > 0.3
    present = [0, 2, 3]
    pm = torch.stack([pred[conds == c].mean(0) for c in present])
    tm = torch.stack([target[conds == c].mean(0) for c in present])
    fast = perturbation_loss(pred, target, ctrl, conds, keep, level="mean")
    assert torch.allclose(fast, _loop_loss(pm, tm, ctrl, torch.arange(3), keep[present]), atol=1e-6)
    # a prediction whose per-condition mean is right has no autofocus loss at the mean level, but has at the cell level
    right = tm[torch.tensor([present.index(int(c)) for c in conds])] + torch.randn(11, 8, generator=g) * 0.5
    right = right - torch.stack([right[conds == c].mean(0) for c in present])[
        torch.tensor([present.index(int(c)) for c in conds])] + tm[torch.tensor([present.index(int(c)) for c in conds])]
    kw = {"direction_weight": 0.0}
    assert float(perturbation_loss(right, target, ctrl, conds, keep, level="mean", **kw)) < 1e-10
    assert float(perturbation_loss(right, target, ctrl, conds, keep, level="cell", **kw)) > 0.01
    with pytest.raises(InputError, match="loss level"):
        perturbation_loss(pred, target, ctrl, conds, keep, level="cells")


def test_direction_term_has_a_gradient() -> None:
    pred = torch.zeros(2, 3, requires_grad=True)
    target = torch.tensor([[1.0, -1.0, 1.0], [1.0, -1.0, 1.0]])
    loss = perturbation_loss(pred, pred.detach(), torch.zeros(3), torch.tensor([0, 0]),
                             torch.ones(1, 3, dtype=torch.bool), autofocus_weight=0.0)
    loss2 = perturbation_loss(pred, target, torch.zeros(3), torch.tensor([0, 0]), torch.ones(1, 3, dtype=torch.bool),
                              autofocus_weight=0.0)
    (grad,) = torch.autograd.grad(loss2, pred)
    assert float(loss.detach()) >= 0 and grad.abs().sum() > 0
    assert (grad[:, 0] < 0).all() and (grad[:, 1] > 0).all()  # pushes predictions towards the true direction


def test_unknown_variant_is_an_input_error() -> None:
    with pytest.raises(InputError, match="noVAE"):
        get_variant("novae")


def test_detached_vae_baseline_learns_from_its_own_loss_only() -> None:
    x = torch.rand(4, 12) + 0.1
    cond_perts, cell_cond = torch.tensor([[0, 3], [5, -1]]), torch.tensor([0, 1, 0, 1])
    keep = torch.ones(2, 12, dtype=torch.bool)
    for detach in (False, True):
        m = _module("full")
        m.detach_vae_baseline = detach
        out = m(x, cond_perts, cell_cond, torch.Generator().manual_seed(0))
        pred_loss = perturbation_loss(out.pred, x + 0.5, x.mean(0), cell_cond, keep)
        grads = torch.autograd.grad(pred_loss, list(m.vae.parameters()), allow_unused=True, retain_graph=True)
        reaches_vae = any(g is not None and bool(g.abs().sum() > 0) for g in grads)
        assert reaches_vae is not detach
        own = torch.autograd.grad(ControlVAE.loss(x, out.vae), list(m.vae.parameters()), allow_unused=True)
        assert any(g is not None and bool(g.abs().sum() > 0) for g in own)
        # the prediction itself is the same either way
        assert torch.allclose(out.pred, m(x, cond_perts, cell_cond, torch.Generator().manual_seed(0)).pred)


@pytest.mark.parametrize("variant", ["noAttention", "full"])
def test_perturbed_marker_reaches_the_perturbed_genes_and_their_mask_neighbours_only(variant: str) -> None:
    m = _module(variant, mark=True).eval()
    with torch.no_grad():
        m.gene_w1.normal_()
    cond_perts = torch.tensor([[0, 3], [5, 8], [8, -1]])  # perturbation 8 is not measured: no marker
    marked = m.knowledge(cond_perts)
    with torch.no_grad():
        m.perturbed_marker.zero_()
    changed = (marked - m.knowledge(cond_perts)).abs() > 1e-6
    keys, queries = m.mask_edge_index.tolist()
    for row, perts in enumerate(cond_perts.tolist()):
        cols = {int(PERT_GENE[p]) for p in perts if p >= 0 and PERT_GENE[p] >= 0}
        expected = cols | ({q for k, q in zip(keys, queries, strict=True) if k in cols} if variant == "full" else set())
        assert set(changed[row].nonzero().flatten().tolist()) == expected


def test_perturbed_marker_predicts_the_own_change_of_a_gene_never_perturbed_in_training() -> None:
    """Every perturbation raises its own gene by 2: with the marker an unseen perturbation's own gene goes up; the
    paper's network, which adds the perturbation to every gene alike, cannot tell which gene that is. Adam with the
    default weight decay, as in training (it keeps the per-gene readouts from memorising the training genes)."""
    n_genes, n_perts, n_train = 40, 30, 24
    g = torch.Generator().manual_seed(0)
    coexpr, go = torch.randint(0, n_genes, (2, 80), generator=g), torch.randint(0, n_perts, (2, 90), generator=g)
    pert_gene = torch.randperm(n_genes, generator=g)[:n_perts]
    target = torch.zeros(n_perts, n_genes)
    target[torch.arange(n_perts), pert_gene] = 2.0
    train, test = torch.arange(n_train).unsqueeze(1), torch.arange(n_train, n_perts).unsqueeze(1)

    def held_out(mark: bool) -> torch.Tensor:
        torch.manual_seed(0)
        m = BioDSNNModule(n_genes, n_perts, coexpr_edge_index=coexpr, go_edge_index=go,
                          mask_edge_index=random_mask(n_genes, 0.1, 1), variant="noVAE", hidden=8, n_heads=2,
                          d_ff=16, mark_perturbed=mark, pert_gene=pert_gene)
        opt = torch.optim.Adam(m.parameters(), lr=2e-2, weight_decay=5e-4)
        for _ in range(150):
            opt.zero_grad()
            (m.knowledge(train) - target[:n_train]).square().mean().backward()
            opt.step()
        with torch.no_grad():
            return m.eval().knowledge(test)

    marked, paper = held_out(True), held_out(False)
    own = marked[torch.arange(len(test)), pert_gene[n_train:]]
    assert (own > 1.0).all(), own
    assert (marked - target[n_train:]).square().mean() < 0.25 * (paper - target[n_train:]).square().mean()


def test_own_gene_head_predicts_a_level_dependent_own_change_without_weight_decay() -> None:
    """Each perturbation raises its own gene by 0.5 + its control level, and Adam runs without weight decay: the
    per-gene readouts then memorise the training genes, so the marker alone does not carry the change to a gene never
    perturbed in training; the shared own-gene head, which reads the gene's control level, does."""
    n_genes, n_perts, n_train = 40, 30, 24
    g = torch.Generator().manual_seed(1)
    coexpr, go = torch.randint(0, n_genes, (2, 80), generator=g), torch.randint(0, n_perts, (2, 90), generator=g)
    pert_gene = torch.randperm(n_genes, generator=g)[:n_perts]
    level = torch.rand(n_genes, generator=g) * 2
    target = torch.zeros(n_perts, n_genes)
    target[torch.arange(n_perts), pert_gene] = 0.5 + level[pert_gene]
    train, test = torch.arange(n_train).unsqueeze(1), torch.arange(n_train, n_perts).unsqueeze(1)

    def held_out_own(head: bool) -> torch.Tensor:
        torch.manual_seed(0)
        m = BioDSNNModule(n_genes, n_perts, coexpr_edge_index=coexpr, go_edge_index=go,
                          mask_edge_index=random_mask(n_genes, 0.1, 1), variant="noVAE", hidden=8, n_heads=2,
                          d_ff=16, mark_perturbed=True, own_gene_head=head, pert_gene=pert_gene,
                          control_mean=level)
        opt = torch.optim.Adam(m.parameters(), lr=2e-2)
        for _ in range(200):
            opt.zero_grad()
            (m.knowledge(train) - target[:n_train]).square().mean().backward()
            opt.step()
        with torch.no_grad():
            return m.eval().knowledge(test)[torch.arange(len(test)), pert_gene[n_train:]]

    truth = target[torch.arange(n_train, n_perts), pert_gene[n_train:]]
    with_head, marker_only = held_out_own(True), held_out_own(False)
    assert (with_head - truth).square().mean() < 0.1 * truth.square().mean(), (with_head, truth)
    assert (with_head - truth).square().mean() < 0.25 * (marker_only - truth).square().mean(), (marker_only, truth)


def test_own_gene_head_touches_only_the_perturbed_genes_own_columns() -> None:
    m = _module("full", network="composed").eval()
    cond_perts = torch.tensor([[0, 3], [5, 8], [8, -1]])  # perturbation 8 is not measured: no own column
    with torch.no_grad():
        m.gene_w1.normal_()
        before = m.knowledge(cond_perts)
        torch.nn.init.normal_(m.own_head[-1].weight)
        torch.nn.init.normal_(m.own_head[-1].bias)
        changed = (m.knowledge(cond_perts) - before).abs() > 1e-6
    expected = torch.zeros_like(changed)
    expected[0, PERT_GENE[[0, 3]]] = True
    expected[1, PERT_GENE[5]] = True
    assert torch.equal(changed, expected)


def _context_module(mean_effect: torch.Tensor | None = None) -> BioDSNNModule:
    """10 vocabulary entries: genes 0–7 and context tokens 8, 9 (two contexts)."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    coexpr = torch.randint(0, 12, (2, 30), generator=g)
    go = torch.randint(0, 8, (2, 25), generator=g)
    return BioDSNNModule(12, 10, coexpr_edge_index=coexpr, go_edge_index=go,
                         mask_edge_index=random_mask(12, 0.25, 1, isolated=(3,)), variant="full", hidden=8, n_heads=2,
                         d_ff=16, vae_intermediate=6, vae_latent=3, mark_perturbed=True, pert_gene=PERT_GENE[:10],
                         compose_members=True, own_gene_head=True, context_start=8, mean_effect=mean_effect).eval()


def test_composed_knowledge_with_contexts_equals_a_loop_over_members_in_their_context() -> None:
    """With contexts a member's pass carries its row's context token: Σ_p K({p, ctx}) + J(c ∪ {ctx}) + mean(ctx)."""
    mean = torch.randn(2, 12, generator=torch.Generator().manual_seed(3))
    m = _context_module(mean)
    with torch.no_grad():
        m.gene_w1.normal_()
        m.joint_w1.normal_()
    cond_perts = torch.tensor([[0, 3, 8], [5, 9, -1], [9, -1, -1], [2, 4, 9], [3, 0, 8], [0, 8, -1], [0, 9, -1]])
    fast = m.knowledge(cond_perts)
    for row, perts in zip(fast, cond_perts.tolist(), strict=True):
        ctx = [p for p in perts if p >= 8]
        members = [p for p in perts if 0 <= p < 8]
        expected = sum((m._knowledge_stream(torch.tensor([[p, *ctx]]))[0] for p in members), torch.zeros(12))
        if len(members) >= 2:
            expected = expected + m._knowledge_stream(torch.tensor([perts]), joint=True)[0]
        if members:
            expected = expected + mean[ctx[0] - 8]
        assert torch.allclose(row, expected, atol=1e-5)
    assert torch.equal(fast[2], torch.zeros(12))  # a context's control: no change
    assert torch.allclose(fast[0], fast[4], atol=1e-6)
    assert not torch.allclose(fast[5], fast[6], atol=1e-3)  # one gene, two contexts: two effects


def test_untrained_module_with_a_mean_effect_is_the_mean_baseline() -> None:
    mean = torch.randn(2, 12, generator=torch.Generator().manual_seed(4))
    m = _context_module(mean)
    out = m.knowledge(torch.tensor([[0, 8], [1, 9], [-1, 8]]))
    assert torch.allclose(out[0], mean[0]) and torch.allclose(out[1], mean[1])
    assert torch.equal(out[2], torch.zeros(12))
    assert any(p is m.mean_effect for p in m.parameters())  # learned, not frozen


def test_effect_scale_moves_between_the_prior_and_the_trained_effect() -> None:
    mean = torch.randn(2, 12, generator=torch.Generator().manual_seed(5))
    m = _context_module(mean)
    with torch.no_grad():
        m.gene_w1.normal_()
        m.mean_effect.add_(0.3)  # training moved the mean too
    cond = torch.tensor([[0, 3, 8], [5, 9, -1], [9, -1, -1]])
    full = m.knowledge(cond)
    m.effect_scale.fill_(0.0)
    prior = m.knowledge(cond)
    assert torch.allclose(prior[0], mean[0]) and torch.allclose(prior[1], mean[1]) and torch.equal(prior[2], full[2])
    m.effect_scale.fill_(0.25)
    m.prior_scale.fill_(0.5)
    assert torch.allclose(m.knowledge(cond), 0.5 * prior + 0.25 * (full - prior), atol=1e-6)
    m.effect_scale.fill_(0.0)
    m.prior_scale.fill_(0.0)
    assert torch.equal(m.knowledge(cond), torch.zeros(3, 12))  # both off: no change
    assert {"effect_scale", "prior_scale"} <= set(m.state_dict())  # saved with the weights


def test_effect_threshold_soft_thresholds_the_learned_change_only() -> None:
    """a · prior + b · soft(full − prior, λ), computed by hand; the prior and the controls are untouched."""
    mean = torch.randn(2, 12, generator=torch.Generator().manual_seed(6))
    m = _context_module(mean)
    with torch.no_grad():
        m.gene_w1.normal_()
    cond = torch.tensor([[0, 3, 8], [5, 9, -1], [-1, 9, -1]])
    full = m.knowledge(cond).detach()
    m.effect_scale.fill_(0.0)
    prior = m.knowledge(cond).detach()
    m.effect_scale.fill_(0.7)
    m.prior_scale.fill_(0.9)
    level = float((full - prior).abs().median())
    m.effect_threshold.fill_(level)
    change = (full - prior).numpy()
    by_hand = 0.9 * prior.numpy() + 0.7 * np.sign(change) * np.maximum(np.abs(change) - level, 0)
    assert np.allclose(m.knowledge(cond).detach().numpy(), by_hand, atol=1e-6)
    assert ((m.knowledge(cond) - 0.9 * prior).abs() < 1e-7).float().mean() > 0.3  # half the entries: the prior
    assert torch.equal(m.knowledge(cond)[2], torch.zeros(12))  # a control stays no change
    assert "effect_threshold" in m.state_dict()


def test_shrinkage_fit_removes_diffuse_noise_and_never_loses_to_the_unthresholded_fit() -> None:
    from biodsnn.model import _shrinkage_loss, shrinkage_fit, shrinkage_scales

    rng = np.random.default_rng(1)
    n, g = 6, 200
    ctrl = np.zeros((n, g))
    true = np.zeros((n, g))
    true[:, :10] = rng.normal(0, 1.0, (n, 10))  # a perturbation moves few genes
    prior = np.zeros((n, g))
    learned = true + rng.normal(0, 0.1, (n, g))  # the learned change: the effect plus small noise on every gene
    top = [np.arange(10)] * n
    a, b, level = shrinkage_fit(learned, prior, true, ctrl, top)
    _, b0 = shrinkage_scales(learned, prior, true, ctrl, top)
    soft = np.sign(learned) * np.maximum(np.abs(learned) - level, 0)
    fitted = _shrinkage_loss(a * prior + b * soft, true, ctrl, top)
    assert level > 0 and fitted < _shrinkage_loss(b0 * learned, true, ctrl, top)
    assert np.mean((b * soft - true)[:, 10:] ** 2) < 0.1 * np.mean((b0 * learned - true)[:, 10:] ** 2)
    # exact learned changes: nothing to remove
    assert shrinkage_fit(true, prior, true, ctrl, top)[1:] == (1.0, 0.0)


def test_shrinkage_scales_are_the_least_squares_optimum_in_the_unit_square() -> None:
    from biodsnn.model import shrinkage_scales

    rng = np.random.default_rng(0)
    true, ctrl = rng.normal(size=(4, 30)), rng.normal(size=(4, 30)) * 0.1
    top = [rng.choice(30, 5, replace=False) for _ in range(4)]

    def objective(prior: np.ndarray, full: np.ndarray, a: float, b: float) -> float:
        p = ctrl + a * (prior - ctrl) + b * (full - prior)
        de = np.mean([np.mean((p[i, t] - true[i, t]) ** 2) for i, t in enumerate(top)])
        de0 = np.mean([np.mean((ctrl[i, t] - true[i, t]) ** 2) for i, t in enumerate(top)])
        return de / de0 + np.mean((p - true) ** 2) / np.mean((ctrl - true) ** 2)

    grid = np.linspace(0, 1, 101)
    cases = [(ctrl + 0.3 * (true - ctrl), true + rng.normal(size=(4, 30)) * 0.8),  # inside the square
             (ctrl - 0.5 * (true - ctrl), true + rng.normal(size=(4, 30)) * 0.3),  # a prior pointing the wrong way
             (ctrl + 2.0 * (true - ctrl), ctrl + 3.0 * (true - ctrl))]             # both overshoot
    for prior, full in cases:
        a, b = shrinkage_scales(full, prior, true, ctrl, top)
        assert 0 <= a <= 1 and 0 <= b <= 1
        brute = min(objective(prior, full, x, y) for x in grid for y in grid)
        assert objective(prior, full, a, b) <= brute + 1e-9
    assert shrinkage_scales(ctrl, ctrl, true, ctrl, top) == (0.0, 0.0)  # nothing learned, no prior: no change


def test_recentred_vae_keeps_the_control_mean_and_the_zeros() -> None:
    m = _module("full").eval()  # no sampling noise: both calls regenerate the same cells
    m.recentre_vae = True
    x = torch.rand(16, 12) * (torch.rand(16, 12) > 0.3)
    base, _ = m.regenerate(x)
    assert torch.allclose(base.mean(0), x.mean(0), atol=1e-5)  # the mean is the control cells' own
    assert torch.equal(base[x == 0], torch.zeros(int((x == 0).sum())))  # zeros stay zero
    m.recentre_vae = False
    plain, _ = m.regenerate(x)
    assert not torch.allclose(plain.mean(0), x.mean(0), atol=1e-3)  # the untrained decoder is off without it
    nonzero = (x != 0).float()  # the VAE's cells, each gene's non-zero entries shifted by one constant
    shift = ((x - plain) * nonzero).sum(0) / nonzero.sum(0).clamp(min=1)
    assert torch.allclose(base, plain + shift * nonzero, atol=1e-6)
