"""Named variants: each a complete, frozen network + recipe; overrides named in the run; no silent interactions."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from biodsnn.evaluate import evaluate
from biodsnn.model import BioDSNN
from biodsnn.modules import BioDSNNModule
from biodsnn.variants import (
    DEFAULT_HPARAMS,
    DEFAULT_VARIANT,
    HPARAM_SPECS,
    VARIANTS,
    get_variant,
    run_name,
    validate_hparams,
)
from reactomenet.errors import InputError

from .conftest import random_mask

SMALL = {"hidden": 16, "d_ff": 32, "batch_size": 32}


def test_every_variant_sets_every_option_to_a_valid_value() -> None:
    for v in VARIANTS.values():
        assert set(v.settings) == set(HPARAM_SPECS), v.name
        assert validate_hparams(dict(v.settings), v.name) == dict(v.settings)
    assert dict(DEFAULT_HPARAMS) == dict(VARIANTS[DEFAULT_VARIANT].settings)


def test_variants_are_frozen() -> None:
    v = get_variant("full")
    with pytest.raises(TypeError):
        v.settings["lr"] = 1.0  # type: ignore[index]
    with pytest.raises(AttributeError):
        v.use_vae = False  # type: ignore[misc]


def test_paper_is_the_papers_recipe() -> None:
    """The paper: VAE + masked transformer, one joint pass, VAE trained jointly, autofocus + λ = 0.1 direction
    loss, Adam lr 1e-3 with weight decay 5e-4, StepLR (1, 0.5), 20 epochs, hidden 64, d_ff 512, VAE 32/16."""
    v = get_variant("paper")
    assert (v.use_vae, v.cross_gene, v.attention, v.additive_prior) == (True, "attention", "sparse", False)
    expected = {"detach_vae_baseline": False, "recentre_vae": False, "mark_perturbed": False,
                "compose_members": False, "own_gene_head": False, "mean_effect_prior": False,
                "shrink_to_prior": False, "direction_weight": 0.1, "gamma": 2.0, "weight_decay": 5e-4, "lr": 1e-3,
                "lr_step": 1, "lr_gamma": 0.5, "epochs": 20, "hidden": 64, "d_ff": 512, "vae_intermediate": 32,
                "vae_latent": 16, "loss_level": "cell"}
    assert {k: v.settings[k] for k in expected} == expected


def test_gears_is_gears_network_and_loss() -> None:
    v = get_variant("gears")
    assert (v.use_vae, v.cross_gene) == (False, "mlp")
    assert not any(v.settings[k] for k in ("mark_perturbed", "compose_members", "own_gene_head",
                                             "mean_effect_prior", "shrink_to_prior"))
    assert (v.settings["direction_weight"], v.settings["weight_decay"], v.settings["loss_level"]) == (0.1, 5e-4, "cell")


def test_the_built_networks_have_exactly_their_variants_parts(tiny) -> None:
    def parts(name: str) -> set[str]:
        m = BioDSNN(tiny.data, tiny.knowledge, split=tiny.split, variant=name, seed=0, de=tiny.de, **SMALL).module
        return {n.split(".")[0] for n, _ in m.named_parameters()}

    paper, gears, full = parts("paper"), parts("gears"), parts("full")
    assert {"vae", "transformer"} <= paper
    assert not paper & {"perturbed_marker", "shared_w1", "own_head", "joint_w1", "mean_effect", "cross_gene"}
    assert {"cross_gene", "gene_w2"} <= gears
    assert not gears & {"vae", "transformer", "perturbed_marker", "own_head", "joint_w1", "mean_effect"}
    assert {"vae", "transformer", "perturbed_marker", "shared_w1", "own_head", "joint_w1", "mean_effect"} <= full


def test_paper_trains_its_vae_with_the_prediction_loss(tiny) -> None:
    """Joint training (the paper): the prediction loss reaches the VAE's decoder; ours (detached) does not."""
    grads = {}
    for name in ("paper", "full"):
        model = BioDSNN(tiny.data, tiny.knowledge, split=tiny.split, variant=name, seed=0, de=tiny.de,
                        **{**SMALL, "vae_weight": 0.0})
        model._keep = model._keep_table([*model.split.train, "ctrl"])
        batch = next(model._batches(0))
        model.module.zero_grad()
        model.batch_loss(batch, torch.Generator().manual_seed(0)).backward()
        grads[name] = max(float(p.grad.abs().max()) if p.grad is not None else 0.0
                          for p in model.module.vae.parameters())
    assert grads["paper"] > 0 and grads["full"] == 0


def test_run_name_lists_overrides_and_config_records_them(tiny, tmp_path) -> None:
    plain = BioDSNN(tiny.data, tiny.knowledge, split=tiny.split, variant="noVAE", seed=0, de=tiny.de)
    assert plain.name == "BioDSNN-noVAE" and plain.config()["overrides"] == {}
    changed = BioDSNN(tiny.data, tiny.knowledge, split=tiny.split, variant="noVAE", seed=0, de=tiny.de,
                      weight_decay=0.01, shrink_to_prior=False, predict_chunk=2)
    assert changed.name == "BioDSNN-noVAE(shrink_to_prior=false,weight_decay=0.01)"  # compute-only options left out
    assert changed.config()["overrides"] == {"shrink_to_prior": False, "weight_decay": 0.01}
    changed.fit(epochs=1, progress=False).save(tmp_path / "run")
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["name"] == "BioDSNN-noVAE(epochs=1,shrink_to_prior=false,weight_decay=0.01)"
    assert BioDSNN.load(tmp_path / "run", data=tiny.data, knowledge=tiny.knowledge).name == cfg["name"]


def test_two_runs_differing_in_one_option_are_both_scored(tiny) -> None:
    a = BioDSNN(tiny.data, tiny.knowledge, split=tiny.split, variant="noVAE", seed=0, de=tiny.de, **SMALL)
    b = BioDSNN(tiny.data, tiny.knowledge, split=tiny.split, variant="noVAE", seed=0, de=tiny.de,
                **{**SMALL, "lr_gamma": 0.9})
    assert a.name != b.name
    result = evaluate([a, b], tiny.data, tiny.split, de=tiny.de)
    assert {a.name, b.name} <= set(result.models)


@pytest.mark.parametrize(("variant", "option"), [("noVAE", "recentre_vae"), ("gears", "detach_vae_baseline"),
                                                 ("additive_residual", "compose_members"),
                                                 ("additive_residual", "mean_effect_prior")])
def test_a_switch_the_network_lacks_is_refused_not_ignored(variant: str, option: str) -> None:
    flipped = not get_variant(variant).settings[option]
    with pytest.raises(InputError, match=f"option {option} does nothing in variant {variant!r}"):
        validate_hparams({option: flipped}, variant)
    assert validate_hparams({option: not flipped}, variant) == {option: not flipped}  # its own value: fine


def test_run_name_formats_values() -> None:
    s = dict(get_variant("full").settings)
    assert run_name("full", s) == "BioDSNN-full"
    assert run_name("full", {**s, "lr": 3e-4, "loss_level": "cell", "hidden": 32}) == \
        "BioDSNN-full(hidden=32,loss_level=cell,lr=0.0003)"
    assert np.isclose(float(run_name("full", {**s, "lr": 2e-3}).split("=")[1][:-1]), 2e-3)


def test_variants_import_without_torch() -> None:
    import subprocess
    import sys

    code = "import sys, biodsnn.variants; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


# -- GEARS' layers in `paper` and `gears`: BatchNorm1d, xavier readouts, mixed batches --------------------------------

def _module(variant: str, **kw) -> BioDSNNModule:
    """A small module of ``variant`` with that variant's norm and readout initialisation."""
    g = torch.Generator().manual_seed(0)
    settings = get_variant(variant).settings
    torch.manual_seed(0)
    coexpr, coexpr_w = torch.randint(0, 12, (2, 30), generator=g), torch.rand(30, generator=g)
    go, go_w = torch.randint(0, 10, (2, 25), generator=g), torch.rand(25, generator=g)
    return BioDSNNModule(12, 10, coexpr_edge_index=coexpr, coexpr_weight=coexpr_w, go_edge_index=go, go_weight=go_w,
                         mask_edge_index=random_mask(12, 0.3, 1), variant=variant, hidden=8, n_heads=2, d_ff=16,
                         vae_intermediate=6, vae_latent=3,
                         norm=settings["norm"], readout_init=settings["readout_init"],
                         embedding_max_norm=settings["embedding_max_norm"], **kw)


def test_paper_and_gears_have_batchnorm_where_gears_has_it_and_full_has_none() -> None:
    def norms(m: torch.nn.Module) -> dict[str, str]:
        return {n: type(x).__name__ for n, x in m.named_modules() if isinstance(x, (torch.nn.BatchNorm1d,
                                                                                     torch.nn.LayerNorm))}

    for name in ("paper", "gears"):
        v = get_variant(name)
        assert (v.settings["norm"], v.settings["readout_init"], v.settings["mixed_batches"],
                v.settings["batch_size"], v.settings["embedding_max_norm"], v.settings["clip_by_value"],
                v.settings["train_control"]) == ("batch", "xavier", True, 32, True, True, True)
        m, found = _module(name), norms(_module(name))
        # GEARS: bn_emb, emb_trans_v2 / pert_fuse / recovery_w as Linear-BN-ReLU-Linear-BN, bn_pert_base, and for
        # GEARS' cross-gene MLP its cross_gene_state
        expected = {"gene_norm", "gene_mlp.1", "gene_mlp.4", "pert_fuse.1", "pert_fuse.4", "fused_norm",
                    "recovery.1", "recovery.4"} | ({"cross_gene.1", "cross_gene.4"} if name == "gears" else set())
        assert {n for n, t in found.items() if t == "CountedBatchNorm1d"} == expected, name
        assert isinstance(m.gene_norm, torch.nn.BatchNorm1d)  # a BatchNorm1d (same state dict, running statistics)
        # the only LayerNorms left are the transformer's own (PyTorch's encoder layer, which the paper uses)
        assert {n for n, t in found.items() if t == "LayerNorm"} == ({"transformer.norm1", "transformer.norm2"}
                                                                     if name == "paper" else set())
        for layer in ("gene_mlp", "pert_fuse", "recovery"):  # GEARS' MLP: ends in BatchNorm1d, no last ReLU
            assert [type(x).__name__ for x in getattr(m, layer)][-2:] == ["Linear", "CountedBatchNorm1d"]
    assert not any(t == "CountedBatchNorm1d" for t in norms(_module("full")).values())
    assert get_variant("full").settings["mixed_batches"] is False and not get_variant("full").settings["train_control"]


def test_paper_and_gears_readouts_are_gears_xavier_not_zero() -> None:
    for name in ("paper", "gears"):
        m = _module(name)
        readouts = {"gene_w1": (12 * 8, (2 / (8 + 12)) ** 0.5), "gene_b1": (12, (2 / (1 + 12)) ** 0.5)}
        if name == "gears":
            readouts |= {"gene_w2": (12 * 9, (2 / (13 * 9)) ** 0.5), "gene_b2": (12, (2 / 13) ** 0.5)}
        for key, (n, std) in readouts.items():
            p = getattr(m, key).detach()
            assert p.numel() == n and bool((p != 0).all()), (name, key)
            assert 0.5 * std < float(p.std()) < 1.6 * std, (name, key)  # xavier_normal_ on GEARS' shapes
        effect = m.eval().knowledge(torch.tensor([[0, 3], [5, -1]])).detach()
        assert float(effect.abs().min()) > 0  # so the untrained network predicts a change (GEARS does too)
    assert float(_module("full").gene_w1.detach().abs().max()) == 0


@pytest.mark.parametrize("variant", ["paper", "gears"])
def test_batchnorm_once_per_condition_equals_the_per_cell_rows(variant: str) -> None:
    """GEARS runs its stream once per cell; weighting each condition's row by its cells gives the same outputs,
    gradients and running statistics as the per-cell rows (float64)."""
    cond_perts = torch.tensor([[0, 3], [5, -1], [-1, -1], [2, -1]])
    cell_cond = torch.tensor([0, 1, 0, 2, 1, 3, 0, 0])
    a, b = _module(variant).double().train(), _module(variant).double().train()
    x = torch.rand(len(cell_cond), 12, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    gen = torch.Generator().manual_seed(2)
    once = a(x, cond_perts, cell_cond, gen).pred
    per_cell = b(x, cond_perts[cell_cond], torch.arange(len(cell_cond)), torch.Generator().manual_seed(2)).pred
    assert torch.allclose(once, per_cell, atol=1e-12)
    once.pow(2).sum().backward()
    per_cell.pow(2).sum().backward()
    for (key, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        assert (p.grad is None) == (q.grad is None) and (p.grad is None or torch.allclose(p.grad, q.grad,
                                                                                       atol=1e-10)), key
    for (key, s), t in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.allclose(s.double(), t.double(), atol=1e-12), key  # running statistics too
    a.eval()  # evaluation: the running statistics, so a condition's effect no longer depends on the others
    assert torch.allclose(a.knowledge(cond_perts)[1], a.knowledge(cond_perts[1:2])[0], atol=1e-12)


def test_gears_variant_computes_what_gears_code_computes() -> None:
    """``gears`` against GEARS 0.1.2's own ``GEARS_Model`` with the same weights, on a batch of mixed conditions and
    a control cell, in training mode (outputs, gradients, running statistics) and evaluation mode. GEARS' co-expression
    SGConv reaches only the first cell of a batch (its edges index the first cell's genes; a defect not reproduced
    here), so the reference gets the edges of every cell."""
    import importlib.util
    import types

    spec = importlib.util.find_spec("gears")
    if spec is None or spec.origin is None:
        pytest.skip("GEARS is not installed (pip install 'biodsnn[bench]')")
    source = importlib.util.spec_from_file_location("_gears_model", spec.origin.replace("__init__.py", "model.py"))
    gears_model = importlib.util.module_from_spec(source)
    source.loader.exec_module(gears_model)  # only its model file: torch and torch_geometric, not scanpy

    ours = _module("gears").double()
    cond_perts = torch.tensor([[0, 3], [5, -1], [-1, -1], [2, -1]])  # row 2: a control cell, as GEARS trains on
    cell_cond = torch.tensor([0, 1, 0, 2, 1, 3, 0])
    n, genes, hidden = len(cell_cond), 12, 8
    co, co_w = ours.coexpr_edge_index, ours.coexpr_weight.double()
    ref = gears_model.GEARS_Model({
        "num_genes": genes, "num_perts": 10, "hidden_size": hidden, "uncertainty": False, "num_go_gnn_layers": 1,
        "decoder_hidden_size": 16, "num_gene_gnn_layers": 1, "no_perturb": False, "device": "cpu",
        "G_coexpress": torch.cat([co + genes * i for i in range(n)], 1), "G_coexpress_weight": co_w.repeat(n),
        "G_go": ours.go_edge_index, "G_go_weight": ours.go_weight.double()}).double()
    with torch.no_grad():
        for emb in (ours.gene_emb, ours.pos_emb, ours.pert_emb):  # rows of norm 2 and 0.5: max_norm renorms the first
            emb.weight.mul_(torch.tensor([2.0, 0.5]).repeat(8)[:len(emb.weight), None]
                            / emb.weight.norm(dim=1, keepdim=True))
        pairs = {"gene_emb": ref.gene_emb, "pos_emb": ref.emb_pos, "pert_emb": ref.pert_emb, "gene_norm": ref.bn_emb,
                 "gene_conv": ref.layers_emb_pos[0], "gene_mlp": ref.emb_trans_v2.network,
                 "pert_conv": ref.sim_layers[0], "pert_fuse": ref.pert_fuse.network, "fused_norm": ref.bn_pert_base,
                 "recovery": ref.recovery_w.network, "cross_gene": ref.cross_gene_state.network}
        for name, theirs in pairs.items():
            theirs.load_state_dict(getattr(ours, name).state_dict())  # same keys: same layers in the same order
        ref.indv_w1.copy_(ours.gene_w1[..., None])
        ref.indv_b1.copy_(ours.gene_b1[:, None])
        ref.indv_w2.copy_(ours.gene_w2[None])
        ref.indv_b2.copy_(ours.gene_b2[None])
    x = torch.rand(n, genes, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    batch = types.SimpleNamespace(x=x.reshape(-1, 1), pert_idx=[cond_perts[c].tolist() for c in cell_cond],
                                  batch=torch.arange(n).repeat_interleave(genes))
    mine, theirs = ours.train()(x, cond_perts, cell_cond).pred, ref.train()(batch)
    assert torch.allclose(mine, theirs, atol=1e-10)
    mine.pow(3).sum().backward()
    theirs.pow(3).sum().backward()
    for key, theirs in (("gene_w1", ref.indv_w1.grad[..., 0]), ("gene_b1", ref.indv_b1.grad[:, 0]),
                        ("gene_w2", ref.indv_w2.grad[0]), ("gene_b2", ref.indv_b2.grad[0])):
        assert torch.allclose(getattr(ours, key).grad, theirs, atol=1e-9), key
    for name, module in pairs.items():
        for (key, p), q in zip(getattr(ours, name).named_parameters(), module.parameters(), strict=True):
            assert torch.allclose(p.grad, q.grad, atol=1e-9), f"{name}.{key}"
        for key, value in module.state_dict().items():
            assert torch.allclose(getattr(ours, name).state_dict()[key].double(), value.double(), atol=1e-12), key
    assert torch.allclose(ours.eval()(x, cond_perts, cell_cond).pred, ref.eval()(batch), atol=1e-10)
    assert float(ours.gene_emb.weight.detach().norm(dim=1).max()) <= 1 + 1e-9  # renormed in place, as GEARS' tables are


@pytest.mark.parametrize("variant", ["paper", "gears"])
def test_paper_and_gears_train_on_mixed_batches_and_predict(tiny, variant: str) -> None:
    model = BioDSNN(tiny.data, tiny.knowledge, split=tiny.split, variant=variant, seed=0, de=tiny.de,
                    hidden=16, d_ff=32, epochs=3)
    assert model.name == f"BioDSNN-{variant}(d_ff=32,epochs=3,hidden=16)"  # batch size and mixing: the variant's
    batches = list(model._batches(0))
    assert max(len(b.conditions) for b in batches) > 1 and max(len(b) for b in batches) <= 32
    assert any("ctrl" in b.conditions for b in batches)  # GEARS trains on its control cells too
    model.fit(progress=False)
    losses = [h["train_loss"] for h in model.history]
    assert losses[-1] < losses[0], losses
    bn = model.module.fused_norm  # the kept epoch's running statistics
    tracked = int(bn.num_batches_tracked)
    assert tracked == model.best_epoch * len(batches) and float(bn.running_var.min()) > 0
    conds = tiny.split.test[:3]
    first = model.predict_means(conds)
    assert first.shape == (3, len(tiny.data.genes)) and np.isfinite(first).all()
    assert np.array_equal(model.predict_means(conds), first)  # evaluation: running statistics, no update
    assert int(bn.num_batches_tracked) == tracked
    assert np.allclose(model.predict_means(conds[:1]), first[:1], atol=1e-6)  # no batch dependence when predicting
    per_cell = model.predict(conds[:1], per_cell=True)
    assert per_cell.n_obs > 1 and np.isfinite(per_cell.X).all()


def test_batchnorm_needs_mixed_batches_and_combines_with_no_composition(tiny) -> None:
    with pytest.raises(InputError, match="norm=batch needs mixed_batches=true"):
        validate_hparams({"mixed_batches": False}, "gears")
    with pytest.raises(InputError, match="norm=batch needs mixed_batches=true"):
        validate_hparams({"norm": "batch"}, "full")
    with pytest.raises(InputError, match="batch_size of at least 2"):
        validate_hparams({"batch_size": 1}, "paper")
    with pytest.raises(InputError, match="composed members"):
        validate_hparams({"compose_members": True}, "paper")
    with pytest.raises(InputError, match="additive prior"):
        validate_hparams({"norm": "batch", "mixed_batches": True, "compose_members": False}, "additive_residual")
    assert validate_hparams({"norm": "batch", "mixed_batches": True, "compose_members": False}, "noVAE")
    assert validate_hparams({"mixed_batches": True}, "full") == {"mixed_batches": True}  # mixing alone: fine
    m = BioDSNN(tiny.data, tiny.knowledge, split=tiny.split, variant="full", seed=0, de=tiny.de, mixed_batches=True)
    assert m.name == "BioDSNN-full(mixed_batches=true)" and m.config()["overrides"] == {"mixed_batches": True}


def test_full_keeps_one_condition_batches(tiny) -> None:
    model = BioDSNN(tiny.data, tiny.knowledge, split=tiny.split, variant="full", seed=0, de=tiny.de, **SMALL)
    assert all(len(b.conditions) == 1 for b in model._batches(0))


def test_clip_by_value_clips_each_gradient_entry(monkeypatch) -> None:
    """GEARS' (and the paper's) clip_grad_value_(1.0) for `paper` and `gears`; ours clips the norm."""
    from biodsnn.config import TrainConfig
    from biodsnn.train import train

    calls: list[str] = []
    for kind in ("value", "norm"):
        real = getattr(torch.nn.utils, f"clip_grad_{kind}_")
        monkeypatch.setattr(torch.nn.utils, f"clip_grad_{kind}_",
                            lambda *a, _real=real, _kind=kind, **k: (calls.append(_kind), _real(*a, **k))[1])
    for kind in ("value", "norm"):
        m = torch.nn.Linear(1, 1)
        train(m, batches=lambda e: [torch.ones(4, 1)], n_batches=lambda e: 1,
              loss=lambda b, g, m=m: (m(b) - 100).pow(2).mean(), validate=lambda: float("nan"),
              config=TrainConfig(epochs=1, clip_by_value=kind == "value"), progress=False)
        assert calls == [kind]
        calls.clear()
    assert get_variant("full").settings["clip_by_value"] is False


def test_recentring_a_mixed_batch_recentres_each_context_on_its_own_cells() -> None:
    """A mixed batch may hold cells of several contexts: each keeps its own context's mean, not the batch's."""
    m = _module("full", recentre_vae=True).eval()
    g = torch.Generator().manual_seed(4)
    x = torch.rand(9, 12, generator=g) * (torch.rand(9, 12, generator=g) > 0.2)
    x[5:] += 3.0 * (x[5:] != 0)  # the second context is much brighter
    group = torch.tensor([0, 0, 0, 0, 0, 1, 1, 1, 1])
    recon, _ = m.regenerate(x, group=group)
    for k in (0, 1):
        at = group == k
        assert torch.allclose(recon[at].sum(0), x[at].sum(0), atol=1e-4)  # zeros stay zero, sums are kept
    one, _ = m.regenerate(x[:5])
    assert torch.equal(m.regenerate(x[:5], group=group[:5])[0], one)  # one context: the same as before


def test_gears_trains_under_bf16_autocast(tiny) -> None:
    """The counted BatchNorm keeps its statistics in float32 when the layers around it run in bfloat16."""
    plain = BioDSNN(tiny.data, tiny.knowledge, split=tiny.split, variant="gears", seed=0, de=tiny.de, hidden=16,
                    epochs=1).fit(progress=False)
    bf16 = BioDSNN(tiny.data, tiny.knowledge, split=tiny.split, variant="gears", seed=0, de=tiny.de, hidden=16,
                   epochs=1, autocast="bf16").fit(progress=False)
    assert bf16.module.fused_norm.running_var.dtype == torch.float32
    conds = list(tiny.split.test)
    a, b = plain.predict_means(conds), bf16.predict_means(conds)
    assert np.isfinite(b).all() and np.abs(a - b).max() < 0.05 * np.abs(a - tiny.data.control_mean).max()
