"""kg_build: the knowledge bundle (GO graph, co-expression graph, Reactome attention mask) the model trains on.

Imports no torch. Build with :func:`build_bundle` (or ``kg-build bundle``), read with :meth:`KnowledgeBundle.load`.

Example:
    >>> from kg_build import load_go_annotations, go_graph
    >>> g = go_graph(load_go_annotations(ontologies=["BP"]), ["TP53", "MDM2", "CDKN1A"], top_k=2)
    >>> g.edge_index.shape[0]
    2
"""

from kg_build._topk import Graph, topk_per_row
from kg_build.bundle import EdgeSet, KnowledgeBundle, build_bundle, data_symbols, genes_frame
from kg_build.coexpression import (
    coexpression_graph,
    correlation_topk,
    pearson_matrix,
    training_cells,
)
from kg_build.go import GoAnnotations, go_graph, jaccard_topk, load_go_annotations, perturbable_genes
from kg_build.mask import AttentionMask, attention_mask, mask_from_reactome
from kg_build.protocols import Knowledge, PerturbationData, TrainingSplit

__all__ = [
    "AttentionMask",
    "EdgeSet",
    "GoAnnotations",
    "Graph",
    "Knowledge",
    "KnowledgeBundle",
    "PerturbationData",
    "TrainingSplit",
    "attention_mask",
    "build_bundle",
    "coexpression_graph",
    "correlation_topk",
    "data_symbols",
    "genes_frame",
    "go_graph",
    "jaccard_topk",
    "load_go_annotations",
    "mask_from_reactome",
    "pearson_matrix",
    "perturbable_genes",
    "topk_per_row",
    "training_cells",
]
