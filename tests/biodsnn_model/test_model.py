"""BioDSNN end to end on tiny data: fit, predict, save/load, resume, determinism, errors."""

from __future__ import annotations

import json

import anndata
import numpy as np
import pytest
import torch

from biodsnn.model import BioDSNN
from reactomenet.errors import InputError

SMALL = {"hidden": 16, "d_ff": 32, "batch_size": 32, "n_control_predict": 64}


def _model(tiny, variant="full", seed=0, **kw):
    return BioDSNN(tiny.data, tiny.knowledge, split=tiny.split, variant=variant, seed=seed, de=tiny.de,
                   **{**SMALL, **kw})


def test_same_seed_same_numbers(tiny) -> None:
    a = _model(tiny).fit(epochs=2, progress=False)
    b = _model(tiny).fit(epochs=2, progress=False)
    for (k, va), (_, vb) in zip(a.module.state_dict().items(), b.module.state_dict().items(), strict=True):
        assert torch.equal(va, vb), k
    conds = tiny.split.test[:3]
    assert np.array_equal(a.predict_means(conds), b.predict_means(conds))
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]
    c = _model(tiny, seed=1).fit(epochs=1, progress=False)
    assert not np.array_equal(a.predict_means(conds), c.predict_means(conds))


def test_training_lowers_the_loss_and_picks_the_best_epoch(tiny) -> None:
    # from no change (without the mean prior, which starts near the optimum of this tiny screen)
    m = _model(tiny, variant="noVAE", lr=3e-3, mean_effect_prior=False).fit(epochs=3, progress=False)
    losses = [h["train_loss"] for h in m.history]
    assert losses[-1] < losses[0]
    metrics = [h["val_top20_de_mse"] for h in m.history]
    assert m.best_epoch == int(np.argmin(metrics)) + 1


def test_predict_anndata_canonical_and_means_match(tiny) -> None:
    m = _model(tiny, variant="noVAE").fit(epochs=1, progress=False)
    ad = m.predict(["G01+G00", "G02", "G03+ctrl"])
    assert isinstance(ad, anndata.AnnData)
    assert ad.obs["condition"].tolist() == ["G00+G01", "G02+ctrl", "G03+ctrl"]
    assert list(ad.var_names) == list(tiny.data.genes)
    assert np.allclose(ad.X, m.predict_means(["G00+G01", "G02+ctrl", "G03+ctrl"]))
    cells = m.predict(["G00+G01", "G02"], per_cell=True)
    n = cells.n_obs // 2
    assert cells.obs["condition"].tolist() == ["G00+G01"] * n + ["G02+ctrl"] * n
    # noVAE: the mean of per-cell predictions over the sampled controls is the mean prediction for that sample
    sample_mean = np.asarray(tiny.data.adata.X)[m._control_sample()].mean(0)
    effect = m.predict_means(["G00+G01"])[0] - tiny.data.control_mean
    assert np.allclose(cells.X[:n].mean(0), sample_mean + effect, atol=1e-4)


def test_unseen_gene_from_go_graph_is_predicted_and_unknown_gene_is_named(tiny) -> None:
    m = _model(tiny, variant="noAttention")
    assert m.predict_means(["UNMEASURED1+G00"]).shape == (1, len(tiny.data.genes))
    with pytest.raises(InputError, match="NOPE"):
        m.predict(["NOPE+G00"])


def test_unknown_option_and_variant_are_input_errors(tiny) -> None:
    with pytest.raises(InputError, match="hiden"):
        _model(tiny, hiden=3)
    with pytest.raises(InputError, match="variant"):
        _model(tiny, variant="nomask")


def test_save_load_round_trip(tiny, tmp_path) -> None:
    m = _model(tiny, variant="gears").fit(epochs=1, run_dir=tmp_path, progress=False)
    m.save(tmp_path)
    for name in ("config.json", "split.json", "model.pt", "history.parquet", "train.log", "checkpoint.pt"):
        assert (tmp_path / name).exists(), name
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["variant"] == "gears" and cfg["seed"] == 0 and cfg["knowledge"]["manifest_sha256"]
    back = BioDSNN.load(tmp_path, data=tiny.data, knowledge=tiny.knowledge)
    conds = tiny.split.test[:4]
    assert np.array_equal(back.predict_means(conds), m.predict_means(conds))
    assert back.history == m.history and back.best_epoch == m.best_epoch
    assert "epoch 1/1" in (tmp_path / "train.log").read_text()


def test_killed_run_resumes_to_the_same_weights(tiny, tmp_path) -> None:
    full = _model(tiny).fit(epochs=3, progress=False)
    _model(tiny).fit(epochs=2, run_dir=tmp_path, progress=False)  # "killed" after epoch 2
    resumed = _model(tiny).fit(epochs=3, run_dir=tmp_path, resume=True, progress=False)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    assert np.allclose([h["train_loss"] for h in resumed.history], [h["train_loss"] for h in full.history])
    for (k, va), (_, vb) in zip(full.module.state_dict().items(), resumed.module.state_dict().items(), strict=True):
        assert torch.equal(va, vb), k
    assert "resumed" in (tmp_path / "train.log").read_text()


def test_run_saved_before_the_marker_option_loads_as_the_paper_network(tiny, tmp_path) -> None:
    m = _model(tiny, mark_perturbed=False, compose_members=False, own_gene_head=False).fit(epochs=1, progress=False)
    m.save(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    for key in ("mark_perturbed", "compose_members", "own_gene_head"):  # what a run folder from before them holds
        del cfg["hparams"][key]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    back = BioDSNN.load(tmp_path, data=tiny.data, knowledge=tiny.knowledge)
    assert back.hparams["mark_perturbed"] is False and back.module.perturbed_marker is None
    assert back.module.own_head is None and not back.module.compose_members
    conds = tiny.split.test[:4]
    assert np.array_equal(back.predict_means(conds), m.predict_means(conds))
    default = _model(tiny).module  # the default: marker, composition and own-gene head
    assert default.perturbed_marker is not None and default.compose_members and default.own_head is not None
