"""Perturbation data: AnnData loading, condition names, leak-free splits, DE genes and a simulator.

Imports no torch: training batches (tensors) are made one layer up, in :mod:`biodsnn.dataloaders`.

Example:
    >>> from biodsnn.data import simulate, load_perturb_data, make_split
    >>> data = load_perturb_data(simulate(preset="tiny", seed=0, progress=False))
    >>> split = make_split(data.conditions, kind="simulation", seed=1)
    >>> set(split.train).isdisjoint(split.test)
    True
"""

from biodsnn.data._backed import BackedMatrix
from biodsnn.data._de import DEGenes, rank_de_genes, welch_t_scores
from biodsnn.data._fetch import DATASETS, fetch_dataset
from biodsnn.data._loading import (
    CONVENTIONS,
    TRUTH_KEY,
    PerturbableReport,
    PerturbData,
    check_perturbable,
    load_perturb_data,
)
from biodsnn.data._normalize import normalize_log1p
from biodsnn.data._simulate import PRESETS, SIM_KEY, gene_universe, simulate, write_h5ad, write_simulation
from biodsnn.data._splits import KINDS, Split, make_split, read_mapping
from biodsnn.data.conditions import canonical_condition, condition_genes, format_condition, parse_condition

__all__ = [
    "CONVENTIONS",
    "DATASETS",
    "KINDS",
    "PRESETS",
    "SIM_KEY",
    "TRUTH_KEY",
    "BackedMatrix",
    "DEGenes",
    "PerturbData",
    "PerturbableReport",
    "Split",
    "canonical_condition",
    "check_perturbable",
    "condition_genes",
    "fetch_dataset",
    "format_condition",
    "gene_universe",
    "load_perturb_data",
    "make_split",
    "normalize_log1p",
    "parse_condition",
    "rank_de_genes",
    "read_mapping",
    "simulate",
    "welch_t_scores",
    "write_h5ad",
    "write_simulation",
]
