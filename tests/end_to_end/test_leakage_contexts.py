"""Held-out cells never reach training with several contexts (cell lines), checked per context.

The simulated ``lines`` screen (three lines, each with its own control) gets a transfer split that holds units out
of every line. For each line in turn, only that line's validation and test cells are rewritten; the co-expression
graph and the mask's fallback (``build_bundle``, ``kg-build coexpression``) and the weights ``BioDSNN.fit`` learns
(with its per-line mean-effect prior) must come out exactly the same. Each test first checks that the rewrite
changes what a leaky implementation would read in that line.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from biodsnn.data import load_perturb_data, make_split, simulate
from biodsnn.data.conditions import split_context
from biodsnn.model import BioDSNN
from kg_build import KnowledgeBundle, build_bundle
from tests.end_to_end.test_leakage import EDGE_FILES, SMALL, THRESHOLD, _assert_same_state, _set_rows

LINES = ["lineA", "lineB", "lineC"]


class Lines:
    """The three-line screen, a transfer split holding units out of every line, and one tampered copy per line."""

    def __init__(self) -> None:
        self.ad = simulate(preset="lines", seed=1, n_genes=120, n_singles=6, cells_per_condition=20, n_control=40,
                           progress=False)
        # ten unperturbed genes renamed out of Reactome, so the mask's Pearson fallback (training cells only) is used
        names = self.ad.var["gene_name"].astype(str).tolist()
        perturbed = {g for c in self.ad.obs["condition"].astype(str) for g in c.split("+")}
        for i, k in enumerate([k for k, g in enumerate(names) if g not in perturbed][:10]):
            names[k] = f"ZZNOVEL{i}"
        self.ad.var["gene_name"] = names
        self.ad.var_names = names
        self.data = load_perturb_data(self.ad.copy())
        assert self.data.contexts == LINES
        self.split = make_split(self.data.conditions, kind="transfer", seed=1, test_fraction=0.5, val_fraction=0.5)
        held = self.split.val + self.split.test
        self.held_units = {c: [u for u in held if split_context(u)[0] == c] for c in LINES}
        self.tampered = {}
        for c in LINES:
            assert self.held_units[c], c  # every line holds units out
            rows = np.concatenate([self.data.cells_of(u) for u in self.held_units[c]])
            assert rows.size and set(self.ad.obs["cell_type"].iloc[rows]) == {c}
            self.tampered[c] = load_perturb_data(_set_rows(self.ad, rows))
        self.perturbed = sorted({g for u in self.data.conditions for g in self.data.condition_genes(u)})

    def bundle(self, data, out) -> KnowledgeBundle:
        build_bundle(data, self.split, out, perturbable=self.perturbed, coexpr_threshold=THRESHOLD,
                     mask_threshold=THRESHOLD)
        return KnowledgeBundle.load(out)


@pytest.fixture(scope="module")
def lines() -> Lines:
    return Lines()


@pytest.fixture(scope="module")
def bundles(lines, tmp_path_factory):
    root = tmp_path_factory.mktemp("line_bundles")
    out = {"original": lines.bundle(lines.data, root / "original")}
    out |= {c: lines.bundle(lines.tampered[c], root / c) for c in LINES}
    return out


def _frames(folder) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(folder / name) for name in EDGE_FILES}


@pytest.mark.parametrize("line", LINES)
def test_the_tampering_changes_what_a_leaky_build_would_read_in_each_line(lines, line) -> None:
    from kg_build.coexpression import coexpression_graph, pearson_matrix

    units = lines.held_units[line]
    assert not np.allclose(lines.data.condition_means(units), lines.tampered[line].condition_means(units))
    # a per-line co-expression over all of the line's cells would see the change
    rows = np.flatnonzero(lines.data.adata.obs["cell_type"].astype(str).to_numpy() == line)

    def edges(data):
        return coexpression_graph(pearson_matrix(data.adata.X, rows), data.genes, threshold=THRESHOLD).to_frame()

    assert not edges(lines.data).equals(edges(lines.tampered[line]))
    # the other lines' cells are untouched
    other = [u for u in lines.data.conditions if split_context(u)[0] != line]
    assert np.array_equal(lines.data.condition_means(other), lines.tampered[line].condition_means(other))


@pytest.mark.parametrize("line", LINES)
def test_build_bundle_edges_do_not_depend_on_any_lines_held_out_cells(bundles, line) -> None:
    base = _frames(bundles["original"].path)
    assert len(base["coexpression.parquet"]) > 0
    assert "coexpression" in set(base["attention_mask.parquet"]["source"])
    for name in EDGE_FILES:
        pd.testing.assert_frame_equal(base[name], _frames(bundles[line].path)[name], check_exact=True, obj=name)


def test_kg_build_coexpression_cli_does_not_depend_on_any_lines_held_out_cells(lines, tmp_path, monkeypatch) -> None:
    from cli.kg_build import main

    monkeypatch.setenv("BIODSNN_NO_PROGRESS", "1")
    lines.split.save(tmp_path / "split.json")
    frames = {}
    for name, ad in [("original", lines.ad), *((c, lines.tampered[c].adata) for c in LINES)]:
        ad.write_h5ad(tmp_path / f"{name}.h5ad")
        out = tmp_path / f"co_{name}.parquet"
        r = CliRunner().invoke(main, ["coexpression", "--data", str(tmp_path / f"{name}.h5ad"), "--split",
                                      str(tmp_path / "split.json"), "--threshold", str(THRESHOLD), "-o", str(out)])
        assert r.exit_code == 0, r.output
        frames[name] = pd.read_parquet(out)
    assert len(frames["original"]) > 0
    for c in LINES:
        pd.testing.assert_frame_equal(frames["original"], frames[c], check_exact=True, obj=c)


def _fit(data, kb, split, run_dir) -> tuple[BioDSNN, torch.Tensor]:
    """The fitted model and its mean-effect prior as initialised (a parameter: training moves it)."""
    model = BioDSNN(data, kb, split=split, variant="full", seed=0, **SMALL)
    assert model.module.mean_effect is not None  # the per-line prior is on by default
    prior = model.module.mean_effect.detach().clone()
    return model.fit(epochs=2, run_dir=run_dir, progress=False), prior


def test_fit_learns_the_same_weights_whatever_any_lines_held_out_cells_hold(lines, bundles, tmp_path) -> None:
    base, prior = _fit(lines.data, bundles["original"], lines.split, tmp_path / "original")
    # each line's prior is the mean change of that line's training units from that line's control, nothing else
    expected = np.stack([
        (lines.data.condition_means(units) - lines.data.control_mean_of(c)).mean(0)
        for c in LINES for units in [[u for u in lines.split.train if split_context(u)[0] == c]]
    ]).astype(np.float32)
    assert torch.equal(prior.cpu(), torch.as_tensor(expected))
    state = torch.load(tmp_path / "original" / "checkpoint.pt", weights_only=True)["module"]
    losses = [h["train_loss"] for h in base.history]
    for c in LINES:
        m, p = _fit(lines.tampered[c], bundles[c], lines.split, tmp_path / c)
        assert torch.equal(p, prior), c
        _assert_same_state(state, torch.load(tmp_path / c / "checkpoint.pt", weights_only=True)["module"])
        assert [h["train_loss"] for h in m.history] == losses, c
