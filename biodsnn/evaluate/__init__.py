"""Evaluation: metrics on per-perturbation means, by subgroup, with bootstrap intervals, and reports.

>>> from biodsnn.evaluate import evaluate, list_metrics
>>> "pds_l1" in list_metrics()
True
"""

from biodsnn.evaluate._bootstrap import bootstrap_ci, bootstrap_indices
from biodsnn.evaluate._evaluate import COMBOS, OVERALL, Comparison, EvaluationResult, MetricSummary, evaluate
from biodsnn.evaluate._gi import GIScores, distance_correlation, gi_scores, spatial_median, theil_sen_2
from biodsnn.evaluate._metrics import (
    METRICS,
    MetricSpec,
    direction_correct,
    discrimination_ranks,
    get_metric,
    l2_distance,
    list_metrics,
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
    "direction_correct",
    "discrimination_ranks",
    "distance_correlation",
    "evaluate",
    "get_metric",
    "gi_scores",
    "l2_distance",
    "list_metrics",
    "markdown_table",
    "mse",
    "pearson",
    "pearson_delta",
    "pearson_expression",
    "print_summary",
    "register_metric",
    "render_markdown",
    "spatial_median",
    "theil_sen_2",
    "top_bottom_overlap",
    "top_expressed",
    "within_fraction",
    "write_report",
]
