"""Contexts (cell types or lines): the unit is a (context, perturbation) pair with its own context's control."""

from __future__ import annotations

import anndata
import numpy as np
import pandas as pd
import pytest

from biodsnn.baselines import get_baseline, list_baselines
from biodsnn.data import load_perturb_data, make_split, rank_de_genes
from biodsnn.data.conditions import canonical_condition, format_unit, parse_condition, split_context
from biodsnn.dataloaders import BatchIterator
from reactomenet.errors import InputError, NotFoundError

GENES = [f"G{i}" for i in range(12)]
PERTS = ["G0", "G1", "G2", "G3", "G4", "G5"]


def two_lines(seed: int = 0, n: int = 30) -> anndata.AnnData:
    """Two lines whose baselines differ far more than any perturbation moves a gene (as McFaline's do): line A
    sits at 1, line B at 4; perturbing Gk raises gene k by 1 in A and by 2 in B."""
    rng = np.random.default_rng(seed)
    rows, obs = [], []
    for line, level, gain in (("A", 1.0, 1.0), ("B", 4.0, 2.0)):
        for cond in ["control", *PERTS]:
            x = level + 0.1 * rng.standard_normal((n, len(GENES)))
            if cond != "control":
                x[:, GENES.index(cond)] += gain
            rows.append(np.abs(x))
            obs += [{"condition": cond, "cell_type": line}] * n
    obs_df = pd.DataFrame(obs, index=[f"c{i}" for i in range(len(obs))])
    return anndata.AnnData(np.vstack(rows).astype(np.float32), obs=obs_df, var=pd.DataFrame(index=GENES))


def test_unit_names_round_trip() -> None:
    assert split_context("T98G|SOX2+ctrl") == ("T98G", "SOX2+ctrl")
    assert parse_condition("T98G|B+A") == ("A", "B")
    assert canonical_condition("T98G|B+A") == "T98G|A+B"
    assert format_unit("T98G", ()) == "T98G|ctrl"
    with pytest.raises(InputError):
        split_context("|A")


def test_loading_makes_units_with_their_own_controls() -> None:
    data = load_perturb_data(two_lines(), convention="perturbench")
    assert data.contexts == ["A", "B"]
    assert data.conditions == sorted(f"{c}|{g}+ctrl" for c in "AB" for g in PERTS)
    assert len(data.control_cells_of("A")) == len(data.control_cells_of("B")) == 30
    assert abs(float(data.control_mean_of("A").mean()) - 1.0) < 0.05
    assert abs(float(data.control_mean_of("B").mean()) - 4.0) < 0.05
    ctl = data.control_means(["A|G0+ctrl", "B|G0+ctrl"])
    assert np.allclose(ctl[0], data.control_mean_of("A")) and np.allclose(ctl[1], data.control_mean_of("B"))
    view = data.context_view("B")
    assert view.contexts == [None] and view.conditions == sorted(f"{g}+ctrl" for g in PERTS)
    assert np.allclose(view.control_mean, data.control_mean_of("B"))
    with pytest.raises(NotFoundError, match="context 'C'"):
        data.control_cells_of("C")


def test_one_value_or_no_column_is_one_context() -> None:
    ad = two_lines()
    ad = ad[ad.obs.cell_type == "A"].copy()
    assert load_perturb_data(ad, convention="perturbench").contexts == [None]
    del ad.obs["cell_type"]
    assert load_perturb_data(ad, convention="perturbench").conditions[0] == "G0+ctrl"
    with pytest.raises(InputError, match="no context column 'line'"):
        load_perturb_data(ad, convention="perturbench", context_key="line")


def test_a_context_without_controls_is_refused_in_one_line() -> None:
    ad = two_lines()
    ad = ad[~((ad.obs.cell_type == "B") & (ad.obs.condition == "control"))].copy()
    with pytest.raises(InputError, match=r"B .*no control cells"):
        load_perturb_data(ad, convention="perturbench")


def test_de_genes_are_ranked_against_the_units_own_control() -> None:
    data = load_perturb_data(two_lines(), convention="perturbench")
    de = rank_de_genes(data, n_top=1)
    # against a pooled control every gene of line B would look "up" by ~1.5; against B's own control only G3 is
    for line in "AB":
        for g in PERTS:
            assert de.top[f"{line}|{g}+ctrl"][0] == GENES.index(g)


def test_transfer_split_holds_a_unit_out_of_one_context_only() -> None:
    data = load_perturb_data(two_lines(), convention="perturbench")
    for seed in range(5):
        s = make_split(data.conditions, kind="transfer", seed=seed, test_fraction=0.34, val_fraction=0.2)
        assert s.test and s.val and not set(s.train) & set(s.test + s.val)
        for unit in s.test + s.val:
            ctx, cond = split_context(unit)
            other = "B" if ctx == "A" else "A"
            assert f"{other}|{cond}" in s.train  # seen in the other context
            assert s.subgroup[unit] == "context_transfer"
    with pytest.raises(InputError, match="at least two contexts"):
        make_split([f"{g}+ctrl" for g in PERTS], kind="transfer", seed=0)


def test_batches_pair_cells_with_controls_of_their_own_context() -> None:
    data = load_perturb_data(two_lines(), convention="perturbench")
    ctx_of_cell = data.adata.obs["context"].astype(str).to_numpy()
    for batch in BatchIterator(data, batch_size=16, seed=0).rows():
        cells, ctrls = batch.cells, batch.controls
        assert (ctx_of_cell[cells] == ctx_of_cell[ctrls]).all()
        assert set(ctrls) <= set(data.control_cells)


@pytest.mark.parametrize("name", list_baselines())
def test_baselines_are_fitted_per_context(name: str) -> None:
    data = load_perturb_data(two_lines(), convention="perturbench")
    split = make_split(data.conditions, kind="transfer", seed=0, test_fraction=0.34, val_fraction=0.2)
    model = get_baseline(name)(data, split).fit()
    pred = model.predict_means(split.test)
    ctl = data.control_means(split.test)
    # whatever each baseline predicts, it is a change from the unit's own context's control: far from the other's
    for k, unit in enumerate(split.test):
        other = "B" if split_context(unit)[0] == "A" else "A"
        assert np.abs(pred[k] - ctl[k]).mean() < np.abs(pred[k] - data.control_mean_of(other)).mean()
    if name == "control":
        assert np.allclose(pred, ctl)


def test_a_context_baseline_reads_only_its_own_context() -> None:
    """Changing every cell of line B (its controls and units) leaves line A's predictions unchanged."""
    ad = two_lines()
    data = load_perturb_data(ad, convention="perturbench")
    split = make_split(data.conditions, kind="transfer", seed=1, test_fraction=0.34, val_fraction=0.2)
    tampered = ad.copy()
    tampered.X[(tampered.obs.cell_type == "B").to_numpy()] *= 3.0
    data_t = load_perturb_data(tampered, convention="perturbench")
    units_a = [f"A|{g}+ctrl" for g in PERTS]
    for name in list_baselines():
        a = get_baseline(name)(data, split).fit().predict_means(units_a)
        b = get_baseline(name)(data_t, split).fit().predict_means(units_a)
        assert np.array_equal(a, b), name


def test_real_mcfaline_lines_are_contexts() -> None:
    from tests.real_data.conftest import real_file

    data = load_perturb_data(real_file("mcfaline"), convention="perturbench")
    assert data.contexts == ["A172", "T98G", "U87MG"]
    means = [data.control_mean_of(c) for c in data.contexts]
    between = min(np.linalg.norm(means[i] - means[j]) for i in range(3) for j in range(i + 1, 3))
    assert between > 10  # the README's 12.6–15.3: lines differ far more than a perturbation moves one


def test_the_split_command_offers_every_split_kind() -> None:
    from biodsnn.data import KINDS
    from cli._biodsnn_data import split_command

    kind = next(p for p in split_command.params if p.name == "kind")
    assert tuple(kind.type.choices) == KINDS
