"""Evaluation: metrics on per-perturbation means, by subgroup, with bootstrap intervals, and reports.

>>> from biodsnn.evaluate import evaluate, list_metrics
>>> "pds_l1" in list_metrics()
True
"""

from biodsnn.evaluate._bootstrap import bootstrap_ci, bootstrap_indices
from biodsnn.evaluate._celleval import (
    cell_eval_version,
    celleval_label,
    check_output,
    export_real,
    import_cell_eval,
    markdown_frame,
    predict_cells,
    run_cell_eval,
    score_with_cell_eval,
    shift_to_mean,
    side_by_side,
    write_h5ad,
)
from biodsnn.evaluate._evaluate import COMBOS, OVERALL, Comparison, EvaluationResult, MetricSummary, evaluate
from biodsnn.evaluate._gi import GIScores, distance_correlation, gi_scores, spatial_median, theil_sen_2
from biodsnn.evaluate._metrics import (
    METRICS,
    MetricSpec,
    direction_correct,
    discrimination_celleval,
    discrimination_ranks,
    get_metric,
    l2_distance,
    list_metrics,
    mae,
    mse,
    pearson,
    pearson_delta,
    pearson_expression,
    register_metric,
    top_bottom_overlap,
    top_expressed,
    within_fraction,
)
from biodsnn.evaluate._protocol import Predictor
from biodsnn.evaluate._report import ReportPaths, markdown_table, print_summary, render_markdown, write_report

__all__ = [
    "COMBOS",
    "METRICS",
    "OVERALL",
    "Comparison",
    "EvaluationResult",
    "GIScores",
    "MetricSpec",
    "MetricSummary",
    "Predictor",
    "ReportPaths",
    "bootstrap_ci",
    "bootstrap_indices",
    "cell_eval_version",
    "celleval_label",
    "check_output",
    "direction_correct",
    "discrimination_celleval",
    "discrimination_ranks",
    "distance_correlation",
    "evaluate",
    "export_real",
    "get_metric",
    "gi_scores",
    "import_cell_eval",
    "l2_distance",
    "list_metrics",
    "mae",
    "markdown_frame",
    "markdown_table",
    "mse",
    "pearson",
    "pearson_delta",
    "pearson_expression",
    "predict_cells",
    "print_summary",
    "register_metric",
    "render_markdown",
    "run_cell_eval",
    "score_with_cell_eval",
    "shift_to_mean",
    "side_by_side",
    "spatial_median",
    "theil_sen_2",
    "top_bottom_overlap",
    "top_expressed",
    "within_fraction",
    "write_h5ad",
    "write_report",
]
