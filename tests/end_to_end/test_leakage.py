"""Held-out cells never reach training, checked end to end through the public paths (PyKEEN's test_leakage idea).

Every validation and test cell's expression is rewritten (or the cells are dropped), and then everything that
training may see must come out the same: the co-expression graph and the mask's fallback of ``build_bundle`` and of
``kg-build bundle`` / ``kg-build coexpression``, the weights ``BioDSNN.fit`` learns (library and ``biodsnn fit``), the
additive prior of ``additive_residual`` and every registered baseline. Each comparison is exact (same bytes, same
seed), and each test first checks that the tampering changed what a leaky implementation would read.
"""

from __future__ import annotations

import json

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from click.testing import CliRunner

from biodsnn.baselines import get_baseline, list_baselines
from biodsnn.data import load_perturb_data, make_split, simulate
from biodsnn.model import BioDSNN
from kg_build import KnowledgeBundle, build_bundle

#: small, fast settings; thresholds low enough that the tiny preset has co-expression edges and mask fallback rows
SMALL = {"hidden": 16, "d_ff": 32, "batch_size": 64, "n_control_predict": 64}
THRESHOLD = 0.1
EDGE_FILES = ("coexpression.parquet", "attention_mask.parquet", "go_graph.parquet", "genes.parquet")


def _set_rows(ad: anndata.AnnData, rows: np.ndarray) -> anndata.AnnData:
    """A copy of ``ad`` whose ``rows`` hold other numbers: genes reversed, scaled, shifted (new correlations)."""
    out = ad.copy()
    x = out.X.toarray() if sp.issparse(out.X) else np.array(out.X)
    x[rows] = x[rows][:, ::-1] * 3.0 + 1.0
    out.X = sp.csr_matrix(x) if sp.issparse(ad.X) else x
    return out


class World:
    """The simulated tiny screen, its split and the held-out rows, plus the tampered and dropped copies."""

    def __init__(self) -> None:
        self.ad = simulate(preset="tiny", seed=0, progress=False)
        # ten unperturbed genes renamed out of Reactome, so the mask's Pearson fallback (training cells only) is used
        names = self.ad.var["gene_name"].astype(str).tolist()
        perturbed = {g for c in self.ad.obs["condition"].astype(str) for g in c.split("+")}
        novel = [k for k, g in enumerate(names) if g not in perturbed][:10]
        for i, k in enumerate(novel):
            names[k] = f"ZZNOVEL{i}"
        self.ad.var["gene_name"] = names
        self.ad.var_names = names
        self.data = load_perturb_data(self.ad.copy())
        self.split = make_split(self.data.conditions, kind="simulation", seed=1)
        held = set(self.split.val) | set(self.split.test)
        cond = self.ad.obs["condition"].astype(str).to_numpy()
        self.held_rows = np.flatnonzero(np.isin(cond, sorted(held)))
        self.test_rows = np.flatnonzero(np.isin(cond, self.split.test))
        assert self.split.val and self.split.test and len(self.held_rows)
        self.tampered = load_perturb_data(_set_rows(self.ad, self.held_rows))
        self.test_tampered = load_perturb_data(_set_rows(self.ad, self.test_rows))
        keep = np.setdiff1d(np.arange(self.ad.n_obs), self.held_rows)
        self.dropped = load_perturb_data(self.ad[keep].copy())
        # the dropped data has no val/test conditions: its split keeps the training conditions only
        self.train_only = make_split(self.dropped.conditions, kind="custom",
                                     mapping=dict.fromkeys(self.split.train, "train"))
        self.perturbed = sorted({g for c in self.data.conditions for g in self.data.condition_genes(c)})

    def bundle(self, data, split, out) -> KnowledgeBundle:
        build_bundle(data, split, out, perturbable=self.perturbed, coexpr_threshold=THRESHOLD,
                     mask_threshold=THRESHOLD)
        return KnowledgeBundle.load(out)


@pytest.fixture(scope="module")
def world() -> World:
    return World()


@pytest.fixture(scope="module")
def bundles(world, tmp_path_factory):
    root = tmp_path_factory.mktemp("bundles")
    return {
        "original": world.bundle(world.data, world.split, root / "original"),
        "tampered": world.bundle(world.tampered, world.split, root / "tampered"),
        "test_tampered": world.bundle(world.test_tampered, world.split, root / "test_tampered"),
        "dropped": world.bundle(world.dropped, world.split, root / "dropped"),
        "dropped_train_only": world.bundle(world.dropped, world.train_only, root / "dropped_train_only"),
    }


def _frames(folder) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(folder / name) for name in EDGE_FILES}


def _assert_same_frames(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)


def test_the_tampering_changes_what_a_leaky_bundle_would_read(world) -> None:
    from kg_build.coexpression import coexpression_graph, pearson_matrix

    def edges(data):
        corr = pearson_matrix(data.adata.X)  # over all cells: what a leaky build would use
        return coexpression_graph(corr, data.genes, threshold=THRESHOLD).to_frame()

    assert not edges(world.data).equals(edges(world.tampered))
    assert not edges(world.data).equals(edges(world.dropped))
    assert not np.allclose(world.tampered.condition_means(world.split.val), world.data.condition_means(world.split.val))


@pytest.mark.parametrize("other", ["tampered", "test_tampered", "dropped", "dropped_train_only"])
def test_build_bundle_edges_do_not_depend_on_held_out_cells(bundles, other) -> None:
    base = _frames(bundles["original"].path)
    assert len(base["coexpression.parquet"]) > 0
    assert "coexpression" in set(base["attention_mask.parquet"]["source"])  # the Pearson fallback is exercised
    _assert_same_frames(base, _frames(bundles[other].path))
    counts = bundles["original"].manifest["counts"]
    assert bundles[other].manifest["counts"]["training_cells"] == counts["training_cells"]


@pytest.fixture(scope="module")
def files(world, tmp_path_factory):
    root = tmp_path_factory.mktemp("files")
    paths = {}
    for name, ad in (("original", world.ad), ("tampered", world.tampered.adata), ("dropped", world.dropped.adata)):
        paths[name] = root / f"{name}.h5ad"
        ad.write_h5ad(paths[name])
    world.split.save(root / "split.json")
    (root / "perturbable.txt").write_text("\n".join(world.perturbed) + "\n")
    return root, paths


def test_kg_build_cli_coexpression_and_bundle_do_not_depend_on_held_out_cells(files, monkeypatch) -> None:
    from cli.kg_build import main

    monkeypatch.setenv("BIODSNN_NO_PROGRESS", "1")
    root, paths = files
    coexpr, bundle = {}, {}
    for name, h5ad in paths.items():
        out = root / f"co_{name}.parquet"
        r = CliRunner().invoke(main, ["coexpression", "--data", str(h5ad), "--split", str(root / "split.json"),
                                      "--threshold", str(THRESHOLD), "-o", str(out)])
        assert r.exit_code == 0, r.output
        coexpr[name] = pd.read_parquet(out)
        kb = root / f"kb_{name}"
        r = CliRunner().invoke(main, ["bundle", "--data", str(h5ad), "--split", str(root / "split.json"),
                                      "--perturbable", str(root / "perturbable.txt"), "--coexpr-threshold",
                                      str(THRESHOLD), "--mask-threshold", str(THRESHOLD), "-o", str(kb)])
        assert r.exit_code == 0, r.output
        bundle[name] = _frames(kb)
    assert len(coexpr["original"]) > 0
    for name in ("tampered", "dropped"):
        pd.testing.assert_frame_equal(coexpr["original"], coexpr[name], check_exact=True)
        _assert_same_frames(bundle["original"], bundle[name])
    # the standalone command and the bundle build the same graph
    pd.testing.assert_frame_equal(coexpr["original"], bundle["original"]["coexpression.parquet"], check_exact=True)


def _fit(data, kb, split, variant, run_dir) -> BioDSNN:
    model = BioDSNN(data, kb, split=split, variant=variant, seed=0, **SMALL)
    return model.fit(epochs=2, run_dir=run_dir, progress=False)


def _last_epoch_state(run_dir) -> dict[str, torch.Tensor]:
    """The weights after the last epoch (``checkpoint.pt``), before the best validation epoch is chosen."""
    return torch.load(run_dir / "checkpoint.pt", weights_only=True)["module"]


def _assert_same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("variant", ["full", "additive_residual"])
def test_fit_learns_the_same_weights_whatever_the_held_out_cells_hold(world, bundles, variant, tmp_path) -> None:
    runs = {
        "original": (world.data, bundles["original"], world.split),
        "tampered": (world.tampered, bundles["tampered"], world.split),
        "dropped": (world.dropped, bundles["dropped_train_only"], world.train_only),
    }
    models = {name: _fit(*args, variant, tmp_path / name) for name, args in runs.items()}
    base = _last_epoch_state(tmp_path / "original")
    losses = [h["train_loss"] for h in models["original"].history]
    for name in ("tampered", "dropped"):
        _assert_same_state(base, _last_epoch_state(tmp_path / name))
        assert [h["train_loss"] for h in models[name].history] == losses, name
    if variant == "additive_residual":
        # the prior holds the observed training singles only; tampered or absent held-out singles change nothing
        prior = {name: m.module.single_effect for name, m in models.items()}
        assert int(models["original"].module.single_seen.sum()) > 0
        assert torch.equal(prior["original"], prior["tampered"]) and torch.equal(prior["original"], prior["dropped"])
        held_singles = [c for c in world.split.val + world.split.test if len(world.data.condition_genes(c)) == 1]
        assert held_singles
        m = models["original"]
        assert not any(bool(m.module.single_seen[m.pert_index[world.data.condition_genes(c)[0]]])
                       for c in held_singles)


def test_fit_with_tampered_test_cells_is_identical_down_to_the_validation_history(world, bundles, tmp_path) -> None:
    a = _fit(world.data, bundles["original"], world.split, "full", tmp_path / "a")
    b = _fit(world.test_tampered, bundles["test_tampered"], world.split, "full", tmp_path / "b")
    assert [(h["train_loss"], h["val_top20_de_mse"]) for h in a.history] == [
        (h["train_loss"], h["val_top20_de_mse"]) for h in b.history]
    _assert_same_state(a.module.state_dict(), b.module.state_dict())
    conds = world.split.test
    assert np.array_equal(a.predict_means(conds), b.predict_means(conds))


def test_biodsnn_fit_cli_learns_the_same_weights_from_tampered_held_out_cells(files, monkeypatch) -> None:
    from cli.biodsnn import main as biodsnn_main
    from cli.kg_build import main as kg_main

    monkeypatch.setenv("BIODSNN_NO_PROGRESS", "1")
    root, paths = files
    states = {}
    for name in ("original", "tampered"):
        kb, run = root / f"fit_kb_{name}", root / f"fit_run_{name}"
        r = CliRunner().invoke(kg_main, ["bundle", "--data", str(paths[name]), "--split", str(root / "split.json"),
                                         "--perturbable", str(root / "perturbable.txt"), "-o", str(kb)])
        assert r.exit_code == 0, r.output
        r = CliRunner().invoke(biodsnn_main, ["fit", "--data", str(paths[name]), "--knowledge", str(kb), "--split",
                                              str(root / "split.json"), "-o", str(run), "--epochs", "1",
                                              "--batch-size", "64", "--set", "hidden=16", "--set", "d_ff=32",
                                              # its scales are fitted on validation cells, as the epoch is chosen
                                              "--set", "shrink_to_prior=false"])
        assert r.exit_code == 0, r.output
        states[name] = torch.load(run / "model.pt", weights_only=True)
        assert json.loads((run / "config.json").read_text())["best_epoch"] == 1
    _assert_same_state(states["original"], states["tampered"])


def test_every_baseline_ignores_dropped_held_out_cells(world) -> None:
    # the tampered case is tests/biodsnn_eval/test_baselines.py::test_no_leakage_on_real_perturb_data
    conds = world.split.test + world.split.val + world.split.train
    for name in list_baselines():
        a = get_baseline(name)(world.data, world.split).fit().predict_means(conds)
        b = get_baseline(name)(world.dropped, world.split).fit().predict_means(conds)
        assert np.array_equal(a, b), name
