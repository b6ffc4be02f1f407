"""The named BioDSNN variants, each a complete and frozen description of the network and its training recipe.

A variant is one row here: which parts of the network run (``use_vae``, ``cross_gene``, ``attention``,
``additive_prior``) **and** the value of every option (``settings``: sizes, the switches beyond the paper,
loss, optimiser, schedule). ``paper`` is the paper's network and recipe, ``gears`` GEARS' network and loss, ``full``
our default (what measures best on the real files: docs/accuracy-real.md), and the others are ablations of ``full``.
Options given on top override a variant's settings; the run's name then lists them (:func:`run_name`), so two runs
that differ in any setting never share a name.

Torch-free, so the CLI can list names and check options without importing torch.

Example:
    >>> get_variant("paper").settings["detach_vae_baseline"]     # the paper trains its VAE jointly
    False
    >>> run_name("full", {**get_variant("full").settings, "weight_decay": 0.01})
    'BioDSNN-full(weight_decay=0.01)'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from biodsnn.config import TRAIN_DEFAULTS
from reactomenet.errors import InputError, did_you_mean


@dataclass(frozen=True)
class OptionSpec:
    """The type and range of one option: ``low``/``high`` bounds (None: none), ``open_low``/``open_high`` exclusive."""

    kind: type
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    choices: tuple[str, ...] = ()

    def describe(self) -> str:
        """The allowed values in words, e.g. ``a number in (0, 1]``.

        Example:
            >>> OptionSpec(float, 0, 1, open_low=True).describe()
            'a number in (0, 1]'
        """
        if self.kind is bool:
            return "true or false"
        if self.choices:
            return " or ".join(self.choices)
        what = "a whole number" if self.kind is int else "a number"
        if self.low is not None and self.high is not None:
            lo, hi = "(" if self.open_low else "[", ")" if self.open_high else "]"
            return f"{what} in {lo}{self.low:g}, {self.high:g}{hi}"
        if self.low is not None:
            return f"{what} {'>' if self.open_low else '≥'} {self.low:g}"
        return what


#: The settings every variant starts from: the paper's sizes and optimiser (Adam lr 1e-3, StepLR step 1 × 0.5,
#: 20 epochs), gradient clipping, and the loss's autofocus exponent γ = 2. Each variant below states the rest.
_COMMON: dict[str, Any] = {
    # network sizes (the paper's)
    "hidden": 64, "n_heads": 2, "d_ff": 512, "vae_intermediate": 32, "vae_latent": 16, "pos_weight": 0.2,
    "dropout": 0.0,
    # loss
    "gamma": 2.0, "autofocus_weight": 1.0, "vae_weight": 1.0, "kl_weight": 1.0, "direction_sharpness": 10.0,
    # training: epochs, lr, StepLR, clipping, batch size (written once, in biodsnn.config.TrainConfig)
    **{k: v for k, v in TRAIN_DEFAULTS.items() if not k.startswith("weight_decay")}, "n_de": 20,
    # prediction: control cells whose regenerated expression is averaged (0 = all), conditions per forward pass
    "n_control_predict": 512, "predict_chunk": 8,
    # bf16: the training forward pass under torch.autocast (bfloat16 matrix products; the loss, the sparse attention
    # and every prediction stay float32). Measured to keep the numbers on CPU (docs/scaling.md); none: float32.
    "autocast": "none",
}

#: Our recipe (``full`` and its ablations). Every switch below was measured; docs/model.md and
#: docs/accuracy-real.md say where.
_OURS: dict[str, Any] = {
    # the VAE learns from its own loss only, so its regenerated control cannot drift toward the average perturbation
    "detach_vae_baseline": True,
    # the regenerated control cells keep the control cells' mean exactly (a VAE shared by the three McFaline lines
    # regenerated each line's mean with a quarter to half of no change's error)
    "recentre_vae": True,
    # the perturbed genes carry a learned marker and a shared readout, so an unseen gene "knows" it is perturbed
    "mark_perturbed": True,
    # a combination is the sum of its members' single effects plus a joint pass read out as the interaction (the
    # joint pass has its own per-gene readout, also in a network with GEARS' cross-gene MLP)
    "compose_members": True,
    # a shared head (no per-gene weights) adds to each perturbed gene's own change
    "own_gene_head": True,
    # every effect starts from a learned per-context mean effect (untrained: the `mean` baseline)
    "mean_effect_prior": True,
    # after training, the prior's change and the change learned beyond it (soft-thresholded at a fitted level) are
    # scaled by a, b ∈ [0, 1], all three fitted on the validation conditions (a = b = 0 is no change)
    "shrink_to_prior": True,
    # loss on per-condition means; no direction term (it doubled the error on seen doubles, docs/accuracy-model.md)
    "loss_level": "mean", "direction_weight": 0.0,
    # LayerNorm (a condition's prediction never depends on the rest of its batch), last readouts at zero (untrained
    # = no change), batches of one condition each (one knowledge pass per optimiser step)
    "norm": "layer", "readout_init": "zero", "mixed_batches": False, "embedding_max_norm": False,
    # trained on perturbed cells only (the control's "no change" is built in: its effect is 0)
    "train_control": False,
    # no weight decay (TrainConfig's default): it pulls the per-gene readouts toward no change (same measurement)
    "weight_decay": TRAIN_DEFAULTS["weight_decay"], "weight_decay_biases": TRAIN_DEFAULTS["weight_decay_biases"],
}

#: The paper's (and GEARS') recipe: one joint pass, VAE trained jointly with the prediction loss, per-cell
#: autofocus + λ = 0.1 direction loss, Adam weight decay 5e-4 on every parameter; none of our additions. GEARS' layers
#: (the paper's code is built on them): BatchNorm1d and GEARS' MLP blocks, xavier-initialised readouts, embeddings
#: renormalised to norm ≤ 1 (``max_norm``), batches of 32 cells shuffled over all training conditions (GEARS'
#: DataLoader; the paper states no batch size) that hold the control cells too (GEARS' training set has ``ctrl``, each
#: cell its own input), and gradients clipped entry by entry (``clip_grad_value_``).
_PAPER: dict[str, Any] = {
    "detach_vae_baseline": False, "recentre_vae": False, "mark_perturbed": False, "compose_members": False,
    "own_gene_head": False, "mean_effect_prior": False, "shrink_to_prior": False,
    "loss_level": "cell", "direction_weight": 0.1, "weight_decay": 5e-4, "weight_decay_biases": True,
    "norm": "batch", "readout_init": "xavier", "mixed_batches": True, "batch_size": 32, "embedding_max_norm": True,
    "clip_by_value": True, "train_control": True,
}

#: Options that change how fast a run goes, never what it computes: left out of a run's name.
COMPUTE_ONLY = frozenset({"predict_chunk"})

#: Switches that only act in a network with a VAE (sizes and weights of absent parts are harmless and allowed).
_VAE_SWITCHES = ("detach_vae_baseline", "recentre_vae")


@dataclass(frozen=True)
class Variant:
    """One named network and its training recipe.

    Attributes:
        name / description: how it is called and what it is.
        use_vae: the data-driven stream (a VAE over control cells); False: the control cells as they are.
        cross_gene: ``attention`` (the Reactome-masked transformer), ``mlp`` (GEARS' cross-gene MLP) or ``none``.
        attention: ``sparse`` (the mask) or ``dense`` (every gene pair).
        additive_prior: the observed single effects plus a learned interaction head (``additive_residual``).
        settings: the value of every option (read-only).
    """

    name: str
    use_vae: bool
    cross_gene: Literal["attention", "none", "mlp"]
    attention: Literal["sparse", "dense"] = "sparse"
    additive_prior: bool = False
    description: str = ""
    settings: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))

    def inert_options(self) -> tuple[str, ...]:
        """Switches that do nothing in this network (turning one is refused rather than silently ignored).

        Example:
            >>> "recentre_vae" in get_variant("noVAE").inert_options()
            True
        """
        inert: list[str] = []
        if not self.use_vae:
            inert += _VAE_SWITCHES
        if self.additive_prior:  # composes its members itself; its prior is the observed singles
            inert += ["compose_members", "mean_effect_prior", "shrink_to_prior"]
        return tuple(inert)

    def check_settings(self, settings: Mapping[str, Any]) -> None:
        """Refuse settings that contradict each other in this network (InputError naming the way out).

        BatchNorm (``norm="batch"``) normalises over the rows of a batch: over one condition's cells it would erase
        that condition's effect, so it needs ``mixed_batches`` and at least two cells a batch; and its statistics
        count each condition's cells in one pass per condition, which composed members and the additive prior's
        passes are not.

        Example:
            >>> gears = get_variant("gears")
            >>> gears.check_settings({**gears.settings, "mixed_batches": False})  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            reactomenet.errors.InputError: option norm=batch needs mixed_batches=true ...
        """
        if settings["norm"] != "batch":
            return
        if not settings["mixed_batches"]:
            raise InputError("option norm=batch needs mixed_batches=true (BatchNorm over the cells of one condition "
                             "erases its effect); set mixed_batches=true or norm=layer")
        if settings["batch_size"] < 2:
            raise InputError(f"option norm=batch needs batch_size of at least 2, got {settings['batch_size']} "
                             "(BatchNorm over one cell has no spread)")
        if settings["compose_members"] or self.additive_prior:
            raise InputError(f"option norm=batch does not combine with composed members or an additive prior "
                             f"(variant {self.name!r}); set compose_members=false, or norm=layer")


def _variant(name: str, description: str, recipe: Mapping[str, Any], **network: Any) -> Variant:
    return Variant(name, description=description, settings={**_COMMON, **recipe}, **network)


#: Every named variant, the default first.
VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        _variant("full", "BioDSNN, ours: VAE + Reactome-masked transformer, composed members, mean-effect prior "
                 "and validation shrinkage", _OURS, use_vae=True, cross_gene="attention"),
        _variant("noVAE", "full without the VAE (control cells as they are)", _OURS, use_vae=False,
                 cross_gene="attention"),
        _variant("noAttention", "full without the transformer layer", _OURS, use_vae=True, cross_gene="none"),
        _variant("noMask", "full with a transformer that attends to every gene pair", _OURS, use_vae=True,
                 cross_gene="attention", attention="dense"),
        _variant("crossMLP", "full without the VAE and with GEARS' cross-gene MLP in place of the transformer",
                 _OURS, use_vae=False, cross_gene="mlp"),
        _variant("paper", "the paper's BioDSNN exactly: VAE trained jointly + Reactome-masked transformer, one joint "
                 "pass, autofocus + direction loss, weight decay 5e-4", _PAPER, use_vae=True,
                 cross_gene="attention"),
        _variant("gears", "GEARS' network and loss: control + GO/co-expression GNN effect through GEARS' "
                 "cross-gene MLP, autofocus + direction loss, weight decay 5e-4", _PAPER, use_vae=False,
                 cross_gene="mlp"),
        _variant("additive_residual", "observed single effects (the knowledge stream for singles never "
                 "measured) + a learned interaction head, VAE + masked transformer",
                 {**_OURS, "compose_members": False, "mean_effect_prior": False, "shrink_to_prior": False},
                 use_vae=True, cross_gene="attention", additive_prior=True),
    )
}
DEFAULT_VARIANT = "full"

#: The default variant's settings: every option there is, with its default.
DEFAULT_HPARAMS: Mapping[str, Any] = VARIANTS[DEFAULT_VARIANT].settings


#: The type and range of each option, checked before any work (:func:`validate_hparams`).
HPARAM_SPECS: dict[str, OptionSpec] = {
    "hidden": OptionSpec(int, 1), "n_heads": OptionSpec(int, 1), "d_ff": OptionSpec(int, 1),
    "vae_intermediate": OptionSpec(int, 1), "vae_latent": OptionSpec(int, 1), "pos_weight": OptionSpec(float),
    "dropout": OptionSpec(float, 0, 1, open_high=True), "detach_vae_baseline": OptionSpec(bool),
    "mark_perturbed": OptionSpec(bool), "compose_members": OptionSpec(bool), "own_gene_head": OptionSpec(bool),
    "mean_effect_prior": OptionSpec(bool), "shrink_to_prior": OptionSpec(bool), "recentre_vae": OptionSpec(bool),
    "gamma": OptionSpec(float, 0), "direction_weight": OptionSpec(float, 0), "autofocus_weight": OptionSpec(float, 0),
    "vae_weight": OptionSpec(float, 0), "kl_weight": OptionSpec(float, 0),
    "direction_sharpness": OptionSpec(float, 0, open_low=True), "loss_level": OptionSpec(str, choices=("mean", "cell")),
    "epochs": OptionSpec(int, 1), "lr": OptionSpec(float, 0, open_low=True), "weight_decay": OptionSpec(float, 0),
    "weight_decay_biases": OptionSpec(bool), "lr_step": OptionSpec(int, 1),
    "lr_gamma": OptionSpec(float, 0, 1, open_low=True), "grad_clip": OptionSpec(float, 0),
    "batch_size": OptionSpec(int, 1), "n_de": OptionSpec(int, 1), "n_control_predict": OptionSpec(int, 0),
    "predict_chunk": OptionSpec(int, 1), "autocast": OptionSpec(str, choices=("none", "bf16")),
    "norm": OptionSpec(str, choices=("layer", "batch")), "readout_init": OptionSpec(str, choices=("zero", "xavier")),
    "mixed_batches": OptionSpec(bool), "embedding_max_norm": OptionSpec(bool), "train_control": OptionSpec(bool),
    "clip_by_value": OptionSpec(bool),
}


def get_variant(name: str) -> Variant:
    """Look a variant up by name (InputError with close matches when unknown).

    Example:
        >>> get_variant("noVAE").use_vae
        False
    """
    try:
        return VARIANTS[name]
    except KeyError:
        hint = did_you_mean(name, VARIANTS, cutoff=0.3)
        raise InputError(f"unknown BioDSNN variant {name!r}{hint}: choose one of {', '.join(VARIANTS)}") from None


def _coerce(key: str, value: Any, spec: OptionSpec) -> Any:
    """``value`` as the spec's type (text from the command line parsed strictly), or InputError naming the option."""
    bad = InputError(f"option {key}={value!r}: give {spec.describe()}")
    if spec.kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise bad
    if spec.kind is str:
        if str(value) not in spec.choices:
            raise bad
        return str(value)
    if isinstance(value, bool):
        raise bad
    try:
        number = float(value) if spec.kind is float else value
        if spec.kind is int:
            whole_float = isinstance(value, float) and value.is_integer()
            if whole_float or (isinstance(value, str) and value.strip().lstrip("+-").isdigit()):
                number = int(value)
            elif not isinstance(value, int):
                raise bad
    except (TypeError, ValueError):
        raise bad from None
    if not np.isfinite(number):
        raise bad
    if spec.low is not None and (number < spec.low or (spec.open_low and number == spec.low)):
        raise bad
    if spec.high is not None and (number > spec.high or (spec.open_high and number == spec.high)):
        raise bad
    return number


def validate_hparams(hparams: Mapping[str, Any], variant: str | None = None) -> dict[str, Any]:
    """Check options against :data:`HPARAM_SPECS` (type, range, n_heads dividing hidden); return them typed.

    Unknown names get a did-you-mean; ``device`` is passed through. With ``variant``, an option that does nothing
    in that network (:meth:`Variant.inert_options`) is refused when it differs from the variant's setting. Called
    before any work starts.

    Example:
        >>> validate_hparams({"hidden": "32", "mark_perturbed": "false"})
        {'hidden': 32, 'mark_perturbed': False}
        >>> validate_hparams({"dropout": 1.5})
        Traceback (most recent call last):
        ...
        reactomenet.errors.InputError: option dropout=1.5: give a number in [0, 1)
    """
    unknown = sorted(set(hparams) - set(HPARAM_SPECS) - {"device"})
    if unknown:
        hint = did_you_mean(unknown[0], HPARAM_SPECS, n=1)
        raise InputError(f"unknown BioDSNN option {unknown[0]!r}{hint}; see biodsnn.variants.DEFAULT_HPARAMS")
    out = {k: (v if k == "device" else _coerce(k, v, HPARAM_SPECS[k])) for k, v in hparams.items()}
    base = get_variant(variant).settings if variant is not None else DEFAULT_HPARAMS
    hidden, heads = out.get("hidden", base["hidden"]), out.get("n_heads", base["n_heads"])
    if hidden % heads:
        raise InputError(f"option n_heads={heads} does not divide hidden={hidden}; choose n_heads among "
                         f"{', '.join(str(d) for d in range(1, hidden + 1) if hidden % d == 0)}")
    v = get_variant(variant if variant is not None else DEFAULT_VARIANT)
    if variant is not None:
        for key in v.inert_options():
            if key in out and out[key] != v.settings[key]:
                raise InputError(f"option {key} does nothing in variant {v.name!r} ({v.description}); leave it "
                                 "out or choose a variant that has that part")
    v.check_settings({**v.settings, **out})
    return out


def overrides(variant: str, hparams: Mapping[str, Any]) -> dict[str, Any]:
    """The settings in ``hparams`` that differ from the variant's own (compute-only options left out).

    Example:
        >>> overrides("gears", {**get_variant("gears").settings, "epochs": 5, "predict_chunk": 2})
        {'epochs': 5}
    """
    own = get_variant(variant).settings
    return {k: hparams[k] for k in sorted(hparams) if k in own and k not in COMPUTE_ONLY and hparams[k] != own[k]}


def run_name(variant: str, hparams: Mapping[str, Any]) -> str:
    """A run's name: ``BioDSNN-<variant>``, followed by the settings that override the variant's, if any.

    Example:
        >>> run_name("noVAE", get_variant("noVAE").settings)
        'BioDSNN-noVAE'
        >>> run_name("paper", {**get_variant("paper").settings, "epochs": 5, "lr": 0.01})
        'BioDSNN-paper(epochs=5,lr=0.01)'
    """
    changed = overrides(variant, hparams)
    suffix = ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={str(v).lower() if isinstance(v, bool) else v}"
                      for k, v in changed.items())
    return f"BioDSNN-{get_variant(variant).name}" + (f"({suffix})" if suffix else "")


__all__ = ["DEFAULT_HPARAMS", "DEFAULT_VARIANT", "HPARAM_SPECS", "VARIANTS", "OptionSpec", "Variant", "get_variant",
           "overrides", "run_name", "validate_hparams"]
