"""`biodsnn data export` has one `--context-key`: the same column names the contexts for the loader and for the
cell-eval writer (two options of one name used to leave the loader on its default, cell_type)."""

from __future__ import annotations

import warnings

import anndata
from click.testing import CliRunner

from biodsnn.data import load_perturb_data, make_split, simulate
from cli.biodsnn import main


def test_export_reads_and_writes_the_contexts_of_the_column_given(tmp_path, monkeypatch):
    monkeypatch.setenv("BIODSNN_NO_PROGRESS", "1")
    ad = simulate(preset="lines", seed=1, n_genes=120, n_singles=6, cells_per_condition=10, n_control=20,
                  progress=False)
    ad.obs = ad.obs.rename(columns={"cell_type": "line"})  # contexts under another name than the default
    path = tmp_path / "lines.h5ad"
    ad.write_h5ad(path)
    data = load_perturb_data(path, context_key="line")
    split = make_split(data.conditions, kind="single", seed=0)
    split.save(tmp_path / "split.json")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # click warns about a parameter used twice
        r = CliRunner().invoke(main, ["data", "export", "--data", str(path), "--context-key", "line", "--split",
                                      str(tmp_path / "split.json"), "-o", str(tmp_path / "real.h5ad")])
    assert r.exit_code == 0, r.output
    real = anndata.read_h5ad(tmp_path / "real.h5ad")
    assert sorted(real.obs["celltype"].unique()) == sorted(ad.obs["line"].unique())
    # each line's own control cells are written, labelled with their line
    ctrl = real.obs[real.obs["target_gene"] == "non-targeting"]
    assert sorted(ctrl["celltype"].unique()) == sorted(ad.obs["line"].unique())
