"""`biodsnn simulate` and `biodsnn data …`: simulate, fetch, inspect, split and rank DE genes of perturbation data.

Each command parses options and calls one function of :mod:`biodsnn.data`; errors are InputErrors, printed in one line
by the FriendlyGroup.
"""

from __future__ import annotations

import json
from typing import Any

import click

from biodsnn.config import SPLIT_SEED
from cli._common import FriendlyGroup, RegistryChoice, celleval_kwargs, celleval_options, data_options, load_data


def load_from_options(data_path: str, **values: Any) -> Any:
    """Load data with the options of :func:`cli._common.data_options`."""
    return load_data(data_path, values)


@click.command("simulate")
@click.option(
    "--preset",
    type=RegistryChoice("biodsnn.data:PRESETS", what="preset"),
    default="small",
    show_default=True,
    help="What to simulate: crispra / crispri / mixed screens (~2.8 k cells × 500 genes), lines (CRISPRi in three "
    "cell lines), norman (CRISPRa, ~91 k × 5 k); tiny (~300 × 120) and small: test-sized mixed screens.",
)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output .h5ad.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--n-genes", type=int, default=None, help="Measured genes (override the preset).")
@click.option("--n-singles", type=int, default=None, help="Single-gene perturbations.")
@click.option("--n-doubles", type=int, default=None, help="Two-gene perturbations.")
@click.option("--n-triples", type=int, default=None, help="Three-gene perturbations.")
@click.option("--cells-per-condition", type=int, default=None, help="Mean cells per perturbation.")
@click.option("--n-control", type=int, default=None, help="Control cells.")
@click.option(
    "--mode",
    type=click.Choice(["activation", "interference", "mixed"]),
    default=None,
    help="CRISPRa, CRISPRi or both (default: the preset's).",
)
@click.option("--n-contexts", type=int, default=None, help="Cell lines (obs['cell_type']; default: the preset's).")
def simulate_command(
    preset: str,
    output: str,
    seed: int,
    n_genes: int | None,
    n_singles: int | None,
    n_doubles: int | None,
    n_triples: int | None,
    cells_per_condition: int | None,
    n_control: int | None,
    mode: str | None,
    n_contexts: int | None,
) -> None:
    """Simulate a Perturb-seq dataset with a known regulatory network (GEARS convention, truth in uns)."""
    from biodsnn.data import write_simulation
    from biodsnn.data._backed import open_store, read_shell

    # in blocks straight to the file: X is never held whole, so million-cell screens fit in memory
    write_simulation(output, preset, seed=seed, n_genes=n_genes, n_singles=n_singles, n_doubles=n_doubles,
                     n_triples=n_triples, cells_per_condition=cells_per_condition, n_control=n_control, mode=mode,
                     n_contexts=n_contexts)
    store = open_store(output)
    ad = read_shell(store)
    store.close()
    n_cond = ad.obs["condition"].nunique() - 1
    click.echo(f"wrote {output}: {ad.n_obs} cells × {ad.n_vars} genes, {n_cond} perturbations (seed {seed})")


@click.group("data", cls=FriendlyGroup)
def data_group() -> None:
    """Fetch, inspect, split and rank DE genes of perturbation data."""


@data_group.command("fetch")
@click.argument(
    "name", type=RegistryChoice("biodsnn.data:DATASETS", what="dataset")
)
@click.option("--dest", required=True, type=click.Path(file_okay=False), help="Folder to download into.")
@click.option("--sha256", default=None, help="Expected sha256 of the archive (none is published).")
def fetch_command(name: str, dest: str, sha256: str | None) -> None:
    """Download GEARS' NAME dataset from Harvard Dataverse, check, unpack and load it."""
    from biodsnn.data import fetch_dataset, load_perturb_data

    path = fetch_dataset(name, dest, sha256=sha256)
    data = load_perturb_data(path)
    click.echo(f"{path}: {data!r}")


@data_group.command("info")
@data_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def info_command(as_json: bool, **options: Any) -> None:
    """Validate a data file and summarise it (cells, genes, conditions, fingerprint)."""
    from biodsnn.data import parse_condition

    data = load_from_options(**options)
    sizes: dict[str, int] = {}
    for c in data.conditions:
        k = len(parse_condition(c))
        key = "singles" if k == 1 else "doubles" if k == 2 else "higher-order"
        sizes[key] = sizes.get(key, 0) + 1
    info = {
        "file": options["data_path"],
        "cells": data.adata.n_obs,
        "genes": data.adata.n_vars,
        "control_cells": len(data.control_cells),
        "conditions": len(data.conditions),
        **sizes,
        "sparse": bool(hasattr(data.X, "nnz") or data.backed),  # backed X is CSR read by rows
        "backed": data.backed,
        "simulated_truth": data.true_means is not None,
        "fingerprint": data.fingerprint,
        "options": data.options,
    }
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
    else:
        for k, v in info.items():
            click.echo(f"{k}: {v}")


@data_group.command("split")
@data_options
@click.option(
    "--kind",
    type=RegistryChoice("biodsnn.data:KINDS", what="split kind"),
    default="simulation",
    show_default=True,
)
@click.option("--seed", type=int, default=SPLIT_SEED, show_default=True)
@click.option(
    "--mapping",
    "mapping_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="custom: JSON object or CSV (condition,split) mapping conditions to train/val/test.",
)
@click.option("--train-gene-fraction", type=float, default=0.75, show_default=True, help="simulation split.")
@click.option("--test-fraction", type=float, default=0.1, show_default=True, help="single/combo splits.")
@click.option("--val-fraction", type=float, default=0.1, show_default=True, help="single/combo/no_test splits.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output split.json.")
def split_command(
    kind: str,
    seed: int,
    mapping_path: str | None,
    train_gene_fraction: float,
    test_fraction: float,
    val_fraction: float,
    output: str,
    **options: Any,
) -> None:
    """Split the conditions of a data file into train/val/test (seeded, leak-free) and write split.json."""
    from biodsnn.data import make_split, read_mapping
    from reactomenet.io import check_output_file

    check_output_file(output, [options["data_path"], mapping_path])
    mapping = read_mapping(mapping_path) if mapping_path else None
    data = load_from_options(**options)
    split = make_split(
        data.conditions,
        kind=kind,
        seed=seed,
        mapping=mapping,  # type: ignore[arg-type]
        train_gene_fraction=train_gene_fraction,
        test_fraction=test_fraction,
        val_fraction=val_fraction,
    )
    split.save(output)
    summary = ", ".join(f"{k} {v}" for k, v in split.summary().items())
    click.echo(f"wrote {output}: {summary}")


@data_group.command("de")
@data_options
@click.option("--n-top", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--method", type=click.Choice(["t-test", "wilcoxon"]), default="t-test", show_default=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output .parquet.")
def de_command(n_top: int, method: str, output: str, **options: Any) -> None:
    """Rank DE genes of every condition against control and write them (Parquet, with the data fingerprint)."""
    from biodsnn.data import rank_de_genes
    from reactomenet.io import check_output_file

    check_output_file(output, [options["data_path"]])
    data = load_from_options(**options)
    de = rank_de_genes(data, n_top=n_top, method=method)  # type: ignore[arg-type]
    de.save(output)
    click.echo(f"wrote {output}: top {de.n_top} DE genes of {len(de.top)} conditions ({method})")


@data_group.command("export")
@data_options
@click.option("--split", "split_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="split.json: its test conditions are written (the run's own split, to pair with predictions).")
@click.option("--format", "fmt", type=click.Choice(["cell-eval"]), default="cell-eval", show_default=True,
              help="cell-eval: the real side of `cell-eval run` (test conditions' cells and control cells).")
@celleval_options(context=False)  # data_options' --context-key names the contexts for the loader and the writer
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output .h5ad.")
def export_command(split_path: str, fmt: str, pert_col: str | None, control_name: str | None, overwrite: bool,
                   output: str, **options: Any) -> None:
    """Write the real cells of a split's test conditions and the controls in another tool's convention.

    Example: biodsnn data export --format cell-eval --data perturb.h5ad --split split.json -o real.h5ad
    """
    from biodsnn.data import Split
    from biodsnn.evaluate import check_output, export_real, write_h5ad
    from reactomenet.io import check_output_file

    check_output_file(output, [options["data_path"], split_path])  # --overwrite never replaces an input
    check_output(output, overwrite=overwrite)
    data = load_from_options(**options)
    split = Split.load(split_path)
    adata = export_real(data, split, **celleval_kwargs(pert_col, control_name, options.get("context_key")))
    write_h5ad(adata, output, overwrite=overwrite)
    col, ctrl = adata.uns["biodsnn"]["pert_col"], adata.uns["biodsnn"]["control_label"]
    n_ctrl = int((adata.obs[col] == ctrl).sum())
    click.echo(f"wrote {output}: {adata.n_obs - n_ctrl} cells of {len(split.test)} test conditions + {n_ctrl} "
               f"control cells × {adata.n_vars} genes ({fmt}: {col}, {ctrl})")


COMMANDS: list[click.Command] = [simulate_command, data_group]
