"""`biodsnn evaluate` and `biodsnn benchmark`: score runs and baselines by one code path, and write the report.

Each command is a pair: a click function that parses options and a plain function that does the work
(``run_evaluate``, ``run_benchmark``), so that Python users and tests call the same code.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from cli._common import BASELINES_CHOICE, RegistryChoice, data_options, loader_options
from reactomenet.errors import InputError

DEFAULT_VARIANTS = ("full", "noVAE", "noAttention", "noMask", "gears")
#: What a benchmark folder holds (the only names a new benchmark there replaces).
BENCHMARK_FILES = ("data.h5ad", "split.json", "knowledge", "runs", "report")


def _load_runs(run_dirs: Sequence[str], data: Any) -> list[Any]:
    from biodsnn.model import BioDSNN  # torch: imported only when runs are scored

    models = []
    for run in run_dirs:
        model = BioDSNN.load(run, data=data)
        data = model.data if data is None else data
        models.append(model)
    fingerprints = {m.split.fingerprint for m in models}
    if len(fingerprints) > 1:
        raise InputError("the runs were trained on different splits; evaluate runs of one split together")
    return models


def run_evaluate(run_dirs: Sequence[str], *, data_path: str | None = None, split_path: str | None = None,
                 baselines: str | Sequence[str] | None = "all", report_dir: str | None = None, n_boot: int = 1000,
                 seed: int = 0, combos: Sequence[str] = (), plots: bool = True, data_options: dict | None = None,
                 cell_eval: bool = False, cell_eval_profile: str = "full", cells_per_condition: int = 100,
                 cell_eval_threads: int = 1, overwrite: bool = False) -> Any:
    """Score the runs in ``run_dirs`` (and/or baselines) on the runs' split; write a report if asked.

    Without runs, ``data_path`` and ``split_path`` say what to score the baselines on. With ``cell_eval`` every
    run and baseline is also written in cell-eval's convention and scored by cell-eval; its aggregate table goes
    into the report folder (``cell_eval.parquet``, ``cell_eval_vs_ours.csv``, ``cell-eval/``) and ``report.md``.

    Example:
        run_evaluate(["run/"], baselines="all", report_dir="report/")
    """
    from biodsnn.baselines import get_baseline, resolve_baselines
    from biodsnn.data import Split, load_perturb_data, rank_de_genes
    from biodsnn.evaluate import evaluate, write_report

    names = resolve_baselines(baselines)
    inputs = [*run_dirs, data_path, split_path]
    if report_dir:  # before any work: the report must not replace the runs or the data
        from biodsnn.evaluate._report import REPORT_FILES
        from reactomenet.io import check_output_folder

        check_output_folder(report_dir, own=REPORT_FILES, inputs=inputs, overwrite=overwrite, what="report folder")
    if cell_eval:
        from biodsnn.evaluate import import_cell_eval

        if not report_dir:
            raise InputError("--cell-eval writes its files and table into the report folder: add --report DIR")
        import_cell_eval()  # before any work: a missing extra fails in one line
    if not run_dirs and not (data_path and split_path):
        raise InputError("give a run folder, or --data and --split to score baselines alone")
    data = load_perturb_data(str(Path(data_path).resolve()), **(data_options or {})) if data_path else None
    models = _load_runs(run_dirs, data) if run_dirs else []
    if models:
        data = models[0].data
        split = models[0].split
        if split_path and Split.load(split_path).fingerprint != split.fingerprint:
            raise InputError(f"{split_path} is not the split the run was trained on; drop --split")
    else:
        split = Split.load(split_path)
    if not models and not names:
        raise InputError("nothing to evaluate: give a run folder or --baselines")
    de = rank_de_genes(data, n_top=20)
    predictors = [get_baseline(n)(data, split).fit() for n in names] + models
    result = evaluate(predictors, data, split, de, n_boot=n_boot, seed=seed)
    if report_dir:
        meta = {"runs": [str(Path(r).resolve()) for r in run_dirs], "data": data_path, "split": split_path,
                "split_fingerprint": getattr(split, "fingerprint", None)}
        if not cell_eval:
            write_report(result, report_dir, combos=list(combos) or None, plots=plots, metadata=meta,
                         overwrite=overwrite, inputs=inputs)
            return result
        import tempfile

        from biodsnn.evaluate import cell_eval_version, markdown_frame, score_with_cell_eval, side_by_side
        from reactomenet.io import write_parquet

        parent = Path(report_dir).resolve().parent
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".cell-eval.", dir=parent) as stage_dir:
            stage = Path(stage_dir)
            agg = score_with_cell_eval(predictors, data, split, stage / "cell-eval",
                                       cells_per_condition=cells_per_condition, seed=seed, profile=cell_eval_profile,
                                       num_threads=cell_eval_threads)
            version = cell_eval_version()
            settings = {"cell_eval_version": version, "profile": cell_eval_profile, "seed": seed,
                        "cells_per_condition": cells_per_condition}
            write_parquet(agg, stage / "cell_eval.parquet", {**meta, "cell_eval": settings})
            both = side_by_side(agg, result.summary)
            both.to_csv(stage / "cell_eval_vs_ours.csv", index=False)
            notes = [f"cell-eval {version} (profile `{cell_eval_profile}`, {cells_per_condition} predicted cells per "
                     f"condition, seed {seed}) scored the same predictions: its aggregate table is "
                     "`cell_eval.parquet`, its files and per-perturbation results `cell-eval/`. Shared metrics, "
                     "mean over test perturbations (definitions: docs/evaluation.md):", "", markdown_frame(both)]
            meta["cell_eval"] = settings
            write_report(result, report_dir, combos=list(combos) or None, plots=plots, metadata=meta, notes=notes,
                         attachments=[stage / "cell-eval", stage / "cell_eval.parquet",
                                      stage / "cell_eval_vs_ours.csv"], overwrite=overwrite, inputs=inputs)
    return result


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


def run_benchmark(out_dir: str, *, preset: str = "tiny", models: Sequence[str] = DEFAULT_VARIANTS,
                  baselines: str | Sequence[str] | None = "all", epochs: int = 20, seed: int = 0,
                  n_boot: int = 1000, plots: bool = True, progress: bool = True, overwrite: bool = False,
                  **hparams: Any) -> Any:
    """Simulate → split → knowledge bundle → fit each variant → evaluate with baselines → report (paper Table 2).

    Writes ``data.h5ad``, ``split.json``, ``knowledge/``, ``runs/<variant>/`` and ``report/`` under ``out_dir``.

    Example:
        run_benchmark("bench/", preset="tiny", models=["full", "noVAE"], epochs=2)
    """
    from biodsnn.baselines import get_baseline, resolve_baselines
    from biodsnn.data import load_perturb_data, make_split, rank_de_genes, simulate
    from biodsnn.evaluate import evaluate, write_report
    from biodsnn.model import BioDSNN
    from biodsnn.variants import get_variant
    from kg_build import KnowledgeBundle, build_bundle
    from reactomenet.io import check_output_folder

    names = resolve_baselines(baselines)
    variants = [get_variant(m).name for m in models]
    check_output_folder(out_dir, own=BENCHMARK_FILES, overwrite=overwrite, what="benchmark folder")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data_file = out / "data.h5ad"
    simulate(preset=preset, seed=seed, output=data_file, progress=progress)
    data = load_perturb_data(str(data_file.resolve()))
    split = make_split(data.conditions, kind="simulation", seed=seed)
    split.save(out / "split.json")
    build_bundle(data, split, out / "knowledge", data_path=str(data_file.resolve()), progress=progress)
    kb = KnowledgeBundle.load(out / "knowledge")
    de = rank_de_genes(data, n_top=20)
    fitted, timing = [], {}
    n_train_cells = int(sum(len(data.cells_of(c)) for c in split.train))
    for v in variants:
        model = BioDSNN(data, kb, split=split, variant=v, seed=seed, de=de, **hparams)
        start = time.perf_counter()
        model.fit(epochs=epochs, run_dir=out / "runs" / v, progress=progress)
        seconds = time.perf_counter() - start
        model.save(out / "runs" / v)
        timing[model.name] = {"train_seconds": round(seconds, 3),
                              "cells_per_second": round(n_train_cells * epochs / max(seconds, 1e-9), 1)}
        fitted.append(model)
    predictors = [get_baseline(n)(data, split).fit() for n in names] + fitted
    result = evaluate(predictors, data, split, de, n_boot=n_boot, seed=seed)
    notes = [f"Benchmark: simulated preset `{preset}` (seed {seed}), {data.adata.n_obs} cells × {len(data.genes)} "
             f"genes, simulation split; {epochs} epochs per variant."]
    notes += [f"- {k}: trained in {t['train_seconds']} s ({t['cells_per_second']} cells/s)" for k, t in timing.items()]
    write_report(result, out / "report", title=f"Benchmark ({preset})", plots=plots, notes=notes,
                 metadata={"preset": preset, "seed": seed, "epochs": epochs, "timing": timing})
    return result


@click.command("benchmark")
@click.option("--preset", type=RegistryChoice("biodsnn.data:PRESETS", what="preset", exclude=("lines",)),
              default="tiny", show_default=True,  # lines (three cell lines) was left out when it came (791239f)
              help="Simulated screen (see `biodsnn simulate`; norman ≈ 91 k cells × 5 k genes).")
@click.option("--models", default=",".join(DEFAULT_VARIANTS), show_default=True,
              type=RegistryChoice("biodsnn.variants:VARIANTS", what="BioDSNN variant", separator=","),
              help="BioDSNN variants, comma-separated (biodsnn.variants.VARIANTS).")
@click.option("--baselines", default="all", show_default=True, type=BASELINES_CHOICE,
              help="Comma-separated baselines, 'all' or 'none'.")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Benchmark folder (data, split, knowledge, runs, report).")
@click.option("--epochs", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--n-boot", type=click.IntRange(min=0), default=1000, show_default=True)
@click.option("--device", default="cpu", show_default=True, help="torch device, e.g. cuda.")
@click.option("--no-plots", is_flag=True, help="Skip the PNGs.")
@click.option("--overwrite", is_flag=True, help="Write into a folder holding other files (they are kept).")
def benchmark_command(preset: str, models: str, baselines: str, out_dir: str, epochs: int, seed: int, n_boot: int,
                      device: str, no_plots: bool, overwrite: bool) -> None:
    """Run the paper's Table 2 on simulated data end to end: every variant and baseline, one report.

    Example: biodsnn benchmark --preset small --models full,noVAE,noAttention,noMask,gears --baselines all -o bench/
    """
    from biodsnn.evaluate import print_summary

    variants = [m.strip() for m in models.split(",") if m.strip()]
    if not variants and baselines.strip().lower() in ("", "none"):
        raise InputError("nothing to benchmark: give --models or --baselines")
    result = run_benchmark(out_dir, preset=preset, models=variants, baselines=baselines, epochs=epochs, seed=seed,
                           n_boot=n_boot, plots=not no_plots, device=device, overwrite=overwrite)
    print_summary(result)
    click.echo(f"{out_dir}/report: report.md, metrics.parquet, summary.json")


COMMANDS: list[click.Command] = [evaluate_command, benchmark_command]
