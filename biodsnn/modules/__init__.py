"""Pure torch modules of BioDSNN: the control VAE, sparse masked attention, the network and its loss."""

from biodsnn.modules._attention import (
    MaskedSelfAttention,
    MaskedTransformerLayer,
    dense_masked_attention,
    edge_attention,
)
from biodsnn.modules._biodsnn import BioDSNNModule, ModuleOutput, prepare_mask, soft_threshold
from biodsnn.modules._loss import perturbation_loss
from biodsnn.modules._norm import CountedBatchNorm1d
from biodsnn.modules._vae import ControlVAE
from biodsnn.variants import VARIANTS, Variant, get_variant  # re-exported: the network of each name

__all__ = [
    "VARIANTS",
    "BioDSNNModule",
    "ControlVAE",
    "CountedBatchNorm1d",
    "MaskedSelfAttention",
    "MaskedTransformerLayer",
    "ModuleOutput",
    "Variant",
    "dense_masked_attention",
    "edge_attention",
    "get_variant",
    "perturbation_loss",
    "prepare_mask",
    "soft_threshold",
]
