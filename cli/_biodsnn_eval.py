"""`biodsnn evaluate` and `biodsnn benchmark`: parse options, call the library's pipeline, print.

The work is :func:`biodsnn.benchmark.run_evaluate` and :func:`biodsnn.benchmark.run_benchmark` (imported when a
command runs, so the help never loads torch).
"""

from __future__ import annotations

from typing import Any

import click

from biodsnn.config import TRAIN_DEFAULTS
from cli._common import BASELINES_CHOICE, RegistryChoice, data_options, loader_options
from reactomenet.errors import InputError


@click.command("evaluate")
@click.argument("run_dirs", nargs=-1, type=click.Path(exists=True, file_okay=False))
@data_options(required=False, help="Data (.h5ad): for baselines alone, or to override the run's recorded data path.")
@click.option("--split", "split_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="split.json: needed when no run folder is given.")
@click.option("--baselines", default="all", show_default=True, type=BASELINES_CHOICE,
              help="Comma-separated baselines, 'all' or 'none'.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False), default=None,
              help="Report folder: metrics.parquet, summary.json, report.md, PNGs.")
@click.option("--overwrite", is_flag=True, help="Write the report into a folder holding other files (only the "
              "report's own files replaced).")
@click.option("--n-boot", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Bootstrap resamples over perturbations for the intervals.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap and Theil–Sen.")
@click.option("--combo", "combos", multiple=True, help="Combination to plot (Fig. 8); repeatable. Default: 4.")
@click.option("--no-plots", is_flag=True, help="Skip the PNGs.")
@click.option("--metric", "metrics", multiple=True, default=("mse_de20", "pearson_delta_de20"), show_default=True,
              type=RegistryChoice("biodsnn.evaluate:METRICS", what="metric", in_help=False, metavar="METRIC"),
              help="Metric printed on the terminal (biodsnn.evaluate.METRICS; a wrong name lists them); "
                   "repeatable.")
@click.option("--cell-eval", "cell_eval", is_flag=True,
              help="Also score every run and baseline with cell-eval (pip install 'biodsnn[celleval]'); its table "
                   "goes into the report (needs --report).")
@click.option("--cell-eval-profile", default="full", show_default=True,
              type=click.Choice(["full", "minimal", "vcc", "de", "anndata", "pds"]), help="cell-eval's --profile.")
@click.option("--cells-per-condition", type=click.IntRange(min=1), default=100, show_default=True,
              help="Predicted cells per test condition in the cell-eval files.")
@click.option("--cell-eval-threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Threads of cell-eval's DE step.")
def evaluate_command(run_dirs: tuple[str, ...], data_path: str | None, split_path: str | None, baselines: str,
                     report_dir: str | None, overwrite: bool, n_boot: int, seed: int, combos: tuple[str, ...],
                     no_plots: bool, metrics: tuple[str, ...], cell_eval: bool, cell_eval_profile: str,
                     cells_per_condition: int, cell_eval_threads: int, **loader: Any) -> None:
    """Score runs and baselines on the run's test split, by subgroup, with bootstrap intervals.

    Example: biodsnn evaluate run/ --baselines all --report report/
    """
    from biodsnn.benchmark import run_evaluate
    from biodsnn.evaluate import get_metric, print_summary

    for m in metrics:
        get_metric(m)
    result = run_evaluate(run_dirs, data_path=data_path, split_path=split_path, baselines=baselines,
                          report_dir=report_dir, n_boot=n_boot, seed=seed, combos=combos, plots=not no_plots,
                          data_options=loader_options(loader), cell_eval=cell_eval,
                          cell_eval_profile=cell_eval_profile, cells_per_condition=cells_per_condition,
                          cell_eval_threads=cell_eval_threads, overwrite=overwrite)
    print_summary(result, metrics)
    if report_dir:
        extra = ", cell_eval.parquet, cell_eval_vs_ours.csv, cell-eval/" if cell_eval else ""
        click.echo(f"{report_dir}: report.md, metrics.parquet, summary.json{extra}")


@click.command("benchmark")
@click.option("--preset", type=RegistryChoice("biodsnn.data:PRESETS", what="preset", exclude=("lines",)),
              default="tiny", show_default=True,  # lines (three cell lines) was left out when it came (791239f)
              help="Simulated screen (see `biodsnn simulate`; norman ≈ 91 k cells × 5 k genes).")
@click.option("--models", default=None,
              type=RegistryChoice("biodsnn.variants:VARIANTS", what="BioDSNN variant", separator=","),
              help="BioDSNN variants, comma-separated (biodsnn.variants.VARIANTS; default: the paper's Table 2 "
                   "rows, biodsnn.benchmark.DEFAULT_VARIANTS).")
@click.option("--baselines", default="all", show_default=True, type=BASELINES_CHOICE,
              help="Comma-separated baselines, 'all' or 'none'.")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Benchmark folder (data, split, knowledge, runs, report).")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help=f"Training epochs per variant (default {TRAIN_DEFAULTS['epochs']}).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--n-boot", type=click.IntRange(min=0), default=1000, show_default=True)
@click.option("--device", default="cpu", show_default=True, help="torch device, e.g. cuda.")
@click.option("--no-plots", is_flag=True, help="Skip the PNGs.")
@click.option("--overwrite", is_flag=True, help="Write into a folder holding other files (they are kept).")
def benchmark_command(preset: str, models: str | None, baselines: str, out_dir: str, epochs: int | None, seed: int,
                      n_boot: int, device: str, no_plots: bool, overwrite: bool) -> None:
    """Run the paper's Table 2 on simulated data end to end: every variant and baseline, one report.

    Example: biodsnn benchmark --preset small --models full,noVAE,noAttention,noMask,gears --baselines all -o bench/
    """
    from biodsnn.benchmark import DEFAULT_VARIANTS, run_benchmark
    from biodsnn.evaluate import print_summary

    variants = list(DEFAULT_VARIANTS) if models is None else [m.strip() for m in models.split(",") if m.strip()]
    if not variants and baselines.strip().lower() in ("", "none"):
        raise InputError("nothing to benchmark: give --models or --baselines")
    result = run_benchmark(out_dir, preset=preset, models=variants, baselines=baselines, epochs=epochs, seed=seed,
                           n_boot=n_boot, plots=not no_plots, device=device, overwrite=overwrite)
    print_summary(result)
    click.echo(f"{out_dir}/report: report.md, metrics.parquet, summary.json")


COMMANDS: list[click.Command] = [evaluate_command, benchmark_command]
