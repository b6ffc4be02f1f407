"""Defaults that several layers or the command line read, each written once.

Imports nothing but the standard library, so any layer (the torch-free data layer included) and the CLI's help text
read them without loading torch. The model's options (``biodsnn.model.DEFAULT_HPARAMS``) take their training part
from :class:`TrainConfig`.

Example:
    >>> TrainConfig().epochs == TRAIN_DEFAULTS["epochs"]
    True
    >>> epoch_seed(0, 1)
    1
"""

from __future__ import annotations

from dataclasses import dataclass, fields

#: The seed of a split drawn when none is given (``make_split``, ``biodsnn data split``).
SPLIT_SEED = 1


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser, schedule and batches of a fit: the paper's Adam, StepLR and clipping.

    Weight decay (the paper's 5e-4) is off by default: it pulls the per-gene readouts and embeddings toward no change
    (measured: docs/accuracy-model.md, "Which training defaults"). When on, it spares biases and norm gains unless
    ``weight_decay_biases`` (GEARS' way).
    """

    epochs: int = 20
    lr: float = 1e-3
    weight_decay: float = 0.0
    lr_step: int = 1
    lr_gamma: float = 0.5
    grad_clip: float = 1.0
    seed: int = 0
    #: False: weight decay only on weight matrices and embeddings (ndim ≥ 2), not on biases and norm gains, which
    #: hold levels (the VAE's output bias starts at the control expression; decaying it drifted the baseline).
    weight_decay_biases: bool = False
    #: Cells per training batch (read by the caller's batch source; the loop takes batches as they come).
    batch_size: int = 256
    #: How ``grad_clip`` clips: False, the whole gradient's norm (``clip_grad_norm_``); True, each entry to
    #: ±grad_clip (``clip_grad_value_``: GEARS' and the paper's code).
    clip_by_value: bool = False


#: The training options of a fit and their defaults (TrainConfig's fields but the seed, which is the model's).
TRAIN_DEFAULTS: dict[str, object] = {f.name: f.default for f in fields(TrainConfig) if f.name != "seed"}


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one epoch's random draws (batch plan, VAE noise): the same whether or not a run was resumed.

    Example:
        >>> epoch_seed(2, 3) == epoch_seed(2, 3) != epoch_seed(2, 4)
        True
    """
    return int(seed) * 1_000_003 + int(epoch)


__all__ = ["SPLIT_SEED", "TRAIN_DEFAULTS", "TrainConfig", "epoch_seed"]
