"""`biodsnn fit` and `biodsnn predict`: train a BioDSNN variant into a run folder, and predict from one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from biodsnn.config import TRAIN_DEFAULTS
from biodsnn.variants import DEFAULT_VARIANT, get_variant
from cli._common import (
    VARIANT_CHOICE,
    celleval_kwargs,
    celleval_options,
    data_options,
    load_data,
    loader_options,
    setting_value,
)
from reactomenet.io import atomic_output


def _parse_settings(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, object]:
    settings: dict[str, object] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE, e.g. lr_gamma=0.95", ctx=ctx, param=param)
        settings[key.strip()] = setting_value(value.strip())
    return settings


@click.command("fit")
@data_options(help="Perturbation data (.h5ad or .zarr), e.g. from `biodsnn simulate`.")
@click.option("--knowledge", "knowledge_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="Knowledge bundle folder from `kg-build`.")
@click.option("--split", "split_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="split.json (default: the split the knowledge bundle was built with).")
@click.option("-o", "--output", "run_dir", required=True, type=click.Path(file_okay=False),
              help="Run folder (config.json, split.json, model.pt, history.parquet, train.log, checkpoint.pt).")
@click.option("--variant", default=DEFAULT_VARIANT, show_default=True, type=VARIANT_CHOICE,
              help="The network and its training recipe (biodsnn.variants.VARIANTS): full (ours, the default), "
                   "paper (the paper's exactly), gears (GEARS' network and loss), or an ablation.")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help=f"Training epochs (the variant's: {TRAIN_DEFAULTS['epochs']}).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help=f"Cells per batch (the variant's: {TRAIN_DEFAULTS['batch_size']}, of one condition each; paper "
                   f"and gears: {get_variant('gears').settings['batch_size']}, mixed over all conditions as GEARS').")
@click.option("--lr", type=float, default=None, help=f"Adam learning rate (the variant's: {TRAIN_DEFAULTS['lr']:g}).")
@click.option("--set", "settings", multiple=True, callback=_parse_settings, metavar="KEY=VALUE",
              help="Override one of the variant's settings (biodsnn.variants.DEFAULT_HPARAMS lists them), "
                   "repeatable, e.g. --set lr_gamma=0.95; the run's name then lists what was overridden.")
@click.option("--device", default="cpu", show_default=True, help="torch device, e.g. cuda.")
@click.option("--resume", is_flag=True, help="Continue from the run folder's checkpoint.pt.")
@click.option("--overwrite", is_flag=True, help="Write into a folder holding other files (only the run's replaced).")
def fit_command(data_path: str, knowledge_dir: str, split_path: str | None, run_dir: str, variant: str,
                epochs: int | None, seed: int, batch_size: int | None, lr: float | None, settings: dict[str, object],
                device: str, resume: bool, overwrite: bool, **loader: object) -> None:
    """Train BioDSNN; the best validation epoch's weights are saved in the run folder.

    Example: biodsnn fit --data perturb.h5ad --knowledge knowledge/ -o run/ --variant full --epochs 20

    Several processes, one model (DDP): torchrun --nproc_per_node 2 -m biodsnn fit … (docs/scaling.md)
    """
    import contextlib

    from biodsnn import distributed
    from biodsnn.model import BioDSNN
    from biodsnn.train import resolve_device, run_folder
    from biodsnn.variants import validate_hparams

    hparams: dict[str, object] = validate_hparams(settings, variant)  # --set checked before the flags replace them
    for key, value in (("batch_size", batch_size), ("lr", lr), ("epochs", epochs)):
        if value is not None:
            hparams[key] = value
    # every option checked before any work: nothing is loaded, created or trained for a bad one
    hparams = {**validate_hparams(hparams, variant), "device": resolve_device(device)}
    options = loader_options(loader)
    # under torchrun: join the process group (gloo on CPU, NCCL on GPUs; each rank on its own GPU); rank 0 alone
    # guards, locks and writes the run folder, the others train with it and write nothing
    hparams["device"] = distributed.setup(hparams["device"])
    writer = distributed.is_writer()
    try:
        folder = (run_folder(run_dir, inputs=[data_path, knowledge_dir, split_path], overwrite=overwrite) if writer
                  else contextlib.nullcontext())
        with folder:
            distributed.broadcast(None)  # the other ranks start once rank 0 has checked and locked the folder
            data = load_data(data_path, loader)
            model = BioDSNN(data, knowledge_dir, split=split_path, variant=variant, seed=seed, data_options=options,
                            **hparams)
            if writer:
                _notes(model)
            model.fit(run_dir=run_dir, resume=resume)
            if writer:
                model.save(run_dir)
    finally:
        distributed.teardown()
    if writer:
        click.echo(f"{run_dir}: {model.name}, best epoch {model.best_epoch} of {model.hparams['epochs']}")


def _notes(model: Any) -> None:
    """What the user should know about a model before it trains (stderr)."""
    if model.trained_outside_go:
        shown = ", ".join(model.trained_outside_go[:10]) + (" …" if len(model.trained_outside_go) > 10 else "")
        click.echo(f"note: {len(model.trained_outside_go)} training perturbed gene(s) outside the GO graph learn "
                   f"their embedding from their own cells only (no GO neighbours): {shown}", err=True)
    skipped = [c for c in model.split.val if not model.predictable(c)]
    if skipped:
        click.echo(f"note: {len(skipped)} validation condition(s) name a gene that is neither measured, in GO, "
                   f"nor perturbed in training, and cannot guide training: {', '.join(skipped[:5])}", err=True)
    if model.aliases:
        click.echo("note: perturbed gene names read as current symbols: "
                   + ", ".join(f"{a} → {b}" for a, b in sorted(model.aliases.items())), err=True)


@click.command("predict")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--perturbations", "-p", multiple=True,
              help='Conditions to predict, e.g. -p "FOSB+CEBPB" -p ETS2 (also: --perturbations "FOSB+CEBPB" ETS2). '
                   "Not with --format cell-eval, which predicts the run's test conditions.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Output .h5ad (written atomically).")
@click.option("--format", "fmt", type=click.Choice(["anndata", "cell-eval"]), default="anndata", show_default=True,
              help="anndata: our rows (means, or --per-cell); cell-eval: per-cell predictions of the split's test "
                   "conditions plus control cells, scored by `cell-eval run` as they are (pair with `biodsnn data "
                   "export --format cell-eval`).")
@click.option("--per-cell", is_flag=True, help="One row per (condition, sampled control cell) instead of means.")
@click.option("--context", "contexts", multiple=True,
              help="Context (cell type or line) to predict in, for data of several contexts; repeatable (each "
                   "perturbation is predicted in each context). Also: name units CONTEXT|A+B.")
@click.option("--cells-per-condition", type=click.IntRange(min=1), default=100, show_default=True,
              help="cell-eval: predicted cells per test condition.")
@click.option("--seed", type=int, default=0, show_default=True, help="cell-eval: seed of the control-cell draw.")
@celleval_options
@click.option("--data", "data_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Data to reload the model with (default: the path recorded in config.json).")
@click.option("--knowledge", "knowledge_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Knowledge bundle (default: the path recorded in config.json).")
@click.argument("more", nargs=-1)
def predict_command(run_dir: str, perturbations: tuple[str, ...], output: str, fmt: str, per_cell: bool,
                    contexts: tuple[str, ...], cells_per_condition: int, seed: int, pert_col: str | None,
                    control_name: str | None, context_key: str | None, overwrite: bool, data_path: str | None,
                    knowledge_dir: str | None, more: tuple[str, ...]) -> None:
    """Predict mean expression for perturbation conditions with a fitted run folder.

    Example: biodsnn predict run/ --perturbations "FOSB+CEBPB" ETS2 -o pred.h5ad

    Example: biodsnn predict run/ --format cell-eval -o pred.h5ad
    """
    import json

    from biodsnn.data import load_perturb_data
    from reactomenet.errors import InputError

    conditions = [*perturbations, *more]
    if fmt == "cell-eval":
        if conditions or per_cell:
            raise InputError("--format cell-eval predicts the run's test conditions, per cell; drop --perturbations "
                             "and --per-cell")
        from biodsnn.evaluate import check_output, write_h5ad

        check_output(output, overwrite=overwrite)  # before loading the model: fail fast
    elif not conditions:
        raise InputError('give the conditions to predict: --perturbations "FOSB+CEBPB" ETS2')
    from biodsnn.model import BioDSNN, check_predictions
    from reactomenet.io import check_output_file

    check_output_file(output, [run_dir, data_path, knowledge_dir])
    data = None
    if data_path is not None:
        cfg_path = Path(run_dir) / "config.json"
        cfg = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
        data = load_perturb_data(data_path, **((cfg.get("data") or {}).get("options") or {}))
    model = BioDSNN.load(run_dir, data=data, knowledge=knowledge_dir)
    if fmt == "cell-eval":
        from biodsnn.evaluate import predict_cells

        adata = predict_cells(model, model.data, model.split, cells_per_condition=cells_per_condition, seed=seed,
                              **celleval_kwargs(pert_col, control_name, context_key))
        check_predictions(adata.X.data if hasattr(adata.X, "nnz") else adata.X, [])  # nothing non-finite written
        write_h5ad(adata, output, overwrite=overwrite)
        col, ctrl = adata.uns["biodsnn"]["pert_col"], adata.uns["biodsnn"]["control_label"]
        n_ctrl = int((adata.obs[col] == ctrl).sum())
        click.echo(f"{output}: {adata.n_obs - n_ctrl} predicted cells of {len(model.split.test)} test conditions + "
                   f"{n_ctrl} control cells × {adata.n_vars} genes (cell-eval: {col}, {ctrl})")
        return
    from biodsnn.data.conditions import CONTEXT_SEP

    if contexts:
        conditions = [f"{ctx}{CONTEXT_SEP}{p}" for ctx in contexts for p in conditions]
    adata = model.predict(conditions, per_cell=per_cell)
    check_predictions(adata.X, adata.obs["condition"].astype(str).tolist())
    with atomic_output(output, suffix=".h5ad") as tmp:
        adata.write_h5ad(tmp)
    click.echo(f"{output}: {adata.n_obs} predictions × {adata.n_vars} genes")


COMMANDS: list[click.Command] = [fit_command, predict_command]
