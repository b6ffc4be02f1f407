"""The pipelines behind `biodsnn evaluate` and `biodsnn benchmark`: score runs and baselines by one code path and
write the report; simulate → split → knowledge bundle → fit → evaluate → report (the paper's Table 2).

The command line only parses options and prints (``cli/_biodsnn_eval.py``); Python users and tests call these.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from biodsnn.baselines import get_baseline, resolve_baselines
from biodsnn.data import PerturbData, Split, load_perturb_data, make_split, rank_de_genes, simulate
from biodsnn.evaluate import EvaluationResult, evaluate, write_report
from biodsnn.model import BioDSNN
from biodsnn.variants import get_variant
from kg_build import KnowledgeBundle, build_bundle
from reactomenet.errors import InputError
from reactomenet.io import check_output_folder

#: The variants a benchmark fits unless told otherwise: the paper's Table 2 rows.
DEFAULT_VARIANTS = ("full", "noVAE", "noAttention", "noMask", "gears")
#: What a benchmark folder holds (the only names a new benchmark there replaces).
BENCHMARK_FILES = ("data.h5ad", "split.json", "knowledge", "runs", "report")


def _load_runs(run_dirs: Sequence[str], data: PerturbData | None) -> list[BioDSNN]:
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
                 cell_eval_threads: int = 1, overwrite: bool = False) -> EvaluationResult:
    """Score the runs in ``run_dirs`` (and/or baselines) on the runs' split; write a report if asked.

    Without runs, ``data_path`` and ``split_path`` say what to score the baselines on. With ``cell_eval`` every
    run and baseline is also written in cell-eval's convention and scored by cell-eval; its aggregate table goes
    into the report folder (``cell_eval.parquet``, ``cell_eval_vs_ours.csv``, ``cell-eval/``) and ``report.md``.

    Example:
        run_evaluate(["run/"], baselines="all", report_dir="report/")
    """
    names = resolve_baselines(baselines)
    inputs = [*run_dirs, data_path, split_path]
    if report_dir:  # before any work: the report must not replace the runs or the data
        from biodsnn.evaluate._report import REPORT_FILES

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


def run_benchmark(out_dir: str, *, preset: str = "tiny", models: Sequence[str] = DEFAULT_VARIANTS,
                  baselines: str | Sequence[str] | None = "all", epochs: int | None = None, seed: int = 0,
                  n_boot: int = 1000, plots: bool = True, progress: bool = True, overwrite: bool = False,
                  **hparams: Any) -> EvaluationResult:
    """Simulate → split → knowledge bundle → fit each variant → evaluate with baselines → report (paper Table 2).

    Writes ``data.h5ad``, ``split.json``, ``knowledge/``, ``runs/<variant>/`` and ``report/`` under ``out_dir``.
    ``epochs`` None: the model's default (``biodsnn.config.TrainConfig``); ``hparams`` go to every variant.

    Example:
        run_benchmark("bench/", preset="tiny", models=["full", "noVAE"], epochs=2)
    """
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
        epochs = int(model.hparams["epochs"])  # the one it trained (the default when None was given)
        timing[model.name] = {"train_seconds": round(seconds, 3),
                              "cells_per_second": round(n_train_cells * epochs / max(seconds, 1e-9), 1)}
        fitted.append(model)
    predictors = [get_baseline(n)(data, split).fit() for n in names] + fitted
    result = evaluate(predictors, data, split, de, n_boot=n_boot, seed=seed)
    notes = [f"Benchmark: simulated preset `{preset}` (seed {seed}), {data.adata.n_obs} cells × {len(data.genes)} "
             f"genes, simulation split" + (f"; {epochs} epochs per variant." if fitted else ".")]
    notes += [f"- {k}: trained in {t['train_seconds']} s ({t['cells_per_second']} cells/s)" for k, t in timing.items()]
    write_report(result, out / "report", title=f"Benchmark ({preset})", plots=plots, notes=notes,
                 metadata={"preset": preset, "seed": seed, "epochs": epochs, "timing": timing})
    return result


__all__ = ["BENCHMARK_FILES", "DEFAULT_VARIANTS", "run_benchmark", "run_evaluate"]
