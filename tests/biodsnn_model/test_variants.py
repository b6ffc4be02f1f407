"""Named variants: each a complete, frozen network + recipe; overrides named in the run; no silent interactions."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from biodsnn.evaluate import evaluate
from biodsnn.model import BioDSNN
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
