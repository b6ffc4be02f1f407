"""The user-facing BioDSNN model (scvi-tools style): construct on data + knowledge, fit, predict, save, load.

Example:
    from biodsnn.model import BioDSNN
    model = BioDSNN("perturb.h5ad", "knowledge/", variant="full", seed=0)
    model.fit(epochs=20, run_dir="run/")
    model.predict(["FOSB+CEBPB", "ETS2"])
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import anndata
import numpy as np
import pandas as pd
import torch

from biodsnn import distributed
from biodsnn.config import TRAIN_DEFAULTS, TrainConfig
from biodsnn.data import DEGenes, PerturbData, Split, canonical_condition, load_perturb_data, parse_condition
from biodsnn.data.conditions import delimiter_hint, split_context
from biodsnn.dataloaders import BatchIterator
from biodsnn.modules import BioDSNNModule, perturbation_loss, soft_threshold
from biodsnn.train import CHECKPOINT, LOG_FILE, TrainResult, check_finite, resolve_device, train
from biodsnn.variants import (  # noqa: F401  (DEFAULT_HPARAMS, HPARAM_SPECS, OptionSpec: their home, re-exported)
    DEFAULT_HPARAMS,
    DEFAULT_VARIANT,
    HPARAM_SPECS,
    OptionSpec,
    get_variant,
    overrides,
    run_name,
    validate_hparams,
)
from kg_build.protocols import Knowledge
from reactomenet.errors import InputError, NotFoundError, did_you_mean
from reactomenet.io import atomic_output, read_parquet_metadata, sha256_file, write_json, write_parquet

CONFIG_FORMAT = 1
#: Prefix of the context tokens in the perturbation vocabulary (no gene symbol starts with it).
CONTEXT_TOKEN = "__context__:"

_MODULE_KEYS = ("hidden", "n_heads", "d_ff", "vae_intermediate", "vae_latent", "pos_weight", "dropout",
                "detach_vae_baseline", "mark_perturbed", "compose_members", "own_gene_head", "recentre_vae", "norm",
                "readout_init", "embedding_max_norm")


def _float32(value: Any) -> Any:
    """``value`` with every floating tensor as float32, through dataclasses (a ModuleOutput and its VAE output)."""
    if torch.is_tensor(value):
        return value.float() if value.is_floating_point() else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: _float32(getattr(value, f.name))
                                             for f in dataclasses.fields(value)})
    return value


def _manifest_sha256(knowledge: Knowledge) -> str:
    return hashlib.sha256(json.dumps(knowledge.manifest, sort_keys=True, default=str).encode()).hexdigest()


def _knowledge_path(knowledge: Knowledge) -> str | None:
    return str(Path(knowledge.path).resolve()) if knowledge.path is not None else None


def _load_knowledge(path: str | os.PathLike[str]) -> Knowledge:
    from kg_build import KnowledgeBundle

    return KnowledgeBundle.load(path)


def _saved_device(name: Any) -> str:
    """The device a run was saved on if this machine has it, else the CPU (a run trained on cuda:3 loads anywhere)."""
    try:
        return str(resolve_device(str(name)))
    except InputError:
        return "cpu"


def check_predictions(x: np.ndarray, conditions: Sequence[str]) -> None:
    """Raise InputError unless every predicted value is finite (nothing non-finite is ever written).

    Example:
        >>> check_predictions(np.zeros((1, 2)), ["A+ctrl"])
        >>> check_predictions(np.array([[0.0, np.nan]]), ["A+ctrl"])
        Traceback (most recent call last):
        ...
        reactomenet.errors.InputError: the predictions for A+ctrl are not finite (NaN or infinity); ...
    """
    bad = ~np.isfinite(np.asarray(x)).all(axis=tuple(range(1, np.ndim(x)))) if np.ndim(x) > 1 else []
    names = list(dict.fromkeys(str(c) for c, b in zip(conditions, bad, strict=False) if b))
    if names or not np.isfinite(np.asarray(x)).all():
        raise InputError(f"the predictions for {', '.join(names[:5]) or 'some conditions'} are not finite (NaN or "
                         "infinity); the run's weights are broken: fit it again")


def _alias_map(genes: Sequence[str], vocabulary: set[str]) -> dict[str, str]:
    """Perturbed gene names that are aliases or former symbols of a vocabulary gene (HGNC renames), name → symbol."""
    if not genes:
        return {}
    from reactomenet import GeneMapper

    renamed = GeneMapper.load().map(list(genes)).renamed
    return {old: new for old, new in renamed.items() if new in vocabulary}


def shrinkage_scales(full: np.ndarray, prior: np.ndarray, true: np.ndarray, ctrl: np.ndarray,
                     top: Sequence[np.ndarray], weight: np.ndarray | None = None) -> tuple[float, float]:
    """The (a, b) ∈ [0, 1]² for which ctrl + a · (prior − ctrl) + b · (full − prior) has the least squared error
    over all genes plus over each row's ``top`` genes, each sum divided by no change's (``ctrl``) error on the same
    entries: how much of the prior's change and of the change learned beyond it the evidence supports. ``weight``:
    those per-entry weights when the caller has them already (:func:`_shrinkage_weights`).

    Example:
        >>> t = np.array([[1.0, 2.0]]); c = np.zeros((1, 2))
        >>> [round(v, 3) for v in shrinkage_scales(2 * t, c, t, c, [np.array([0])])]   # halfway to the truth
        [0.0, 0.5]
    """
    weight = _shrinkage_weights(true, ctrl, top) if weight is None else weight
    m, r, d = prior - ctrl, full - prior, true - ctrl

    def loss(a: float, b: float) -> float:
        return float(np.sum(weight * (a * m + b * r - d) ** 2))

    def best(x: np.ndarray, rest: np.ndarray) -> float:  # the clipped 1-D optimum of x given the rest fixed
        denom = float(np.sum(weight * x * x))
        return float(np.clip(np.sum(weight * x * (d - rest)) / denom, 0.0, 1.0)) if denom > 0 else 0.0

    mr = np.sum(weight * m * r)
    gram = np.array([[np.sum(weight * m * m), mr], [mr, np.sum(weight * r * r)]])
    rhs = np.array([np.sum(weight * m * d), np.sum(weight * r * d)])
    candidates = []
    if abs(np.linalg.det(gram)) > 1e-12 * max(float(np.abs(gram).max()), 1e-300):
        a, b = np.linalg.solve(gram, rhs)
        if 0 <= a <= 1 and 0 <= b <= 1:
            candidates.append((float(a), float(b)))
    for edge in (0.0, 1.0):  # the optimum lies on the box's boundary otherwise
        candidates.append((edge, best(r, edge * m)))
        candidates.append((best(m, edge * r), edge))
    return min(candidates, key=lambda ab: (loss(*ab), ab[0] + ab[1]))  # a tie: the smaller change


#: Candidate soft-threshold levels of the learned change, as quantiles of its magnitude over the validation
#: conditions (0: no threshold).
THRESHOLD_QUANTILES = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995)


def _soft(x: np.ndarray, level: float) -> np.ndarray:
    """:func:`biodsnn.modules.soft_threshold` on a numpy array (the same formula the network applies)."""
    return soft_threshold(torch.from_numpy(np.asarray(x, dtype=np.float64)), level).numpy()


def shrinkage_fit(full: np.ndarray, prior: np.ndarray, true: np.ndarray, ctrl: np.ndarray,
                  top: Sequence[np.ndarray], quantiles: Sequence[float] = THRESHOLD_QUANTILES
                  ) -> tuple[float, float, float]:
    """The (a, b, λ) for which ctrl + a · (prior − ctrl) + b · soft(full − prior, λ) has the least loss of
    :func:`shrinkage_scales`: λ among the ``quantiles`` of |full − prior| (0 included), a and b fitted for each.
    A perturbation moves few genes, so the small entries of a learned change are mostly noise; the threshold keeps
    the large ones. A tie keeps the larger threshold (fewer genes moved).

    Example:
        >>> t = np.array([[1.0, 0.0, 0.0, 0.0]]); c = np.zeros((1, 4))
        >>> full = t + np.array([[0.0, 0.1, -0.1, 0.1]])            # the effect plus small noise elsewhere
        >>> a, b, lam = shrinkage_fit(full, c, t, c, [np.array([0])])
        >>> round(lam, 2), [round(float(x), 2) + 0.0 for x in (b * _soft(full - c, lam))[0]]  # noise gone, effect kept
        (0.1, [0.9, 0.0, 0.0, 0.0])
    """
    change = np.abs(full - prior)
    weight = _shrinkage_weights(true, ctrl, top)  # depends on the truth only: once for every level
    best: tuple[float, float, float, float] | None = None
    for level in sorted({float(np.quantile(change, q)) if q > 0 else 0.0 for q in quantiles}):
        thresholded = prior + _soft(full - prior, level)
        a, b = shrinkage_scales(thresholded, prior, true, ctrl, top, weight)
        loss = _shrinkage_loss(ctrl + a * (prior - ctrl) + b * (thresholded - prior), true, ctrl, top, weight)
        if best is None or loss <= best[0] * (1 + 1e-12):
            best = (loss, a, b, level)
    assert best is not None
    return best[1], best[2], best[3]


def _shrinkage_weights(true: np.ndarray, ctrl: np.ndarray, top: Sequence[np.ndarray]) -> np.ndarray:
    """Per-entry weights: all genes plus each row's top genes, each sum relative to no change's error there."""
    weight = np.full(true.shape, 1.0 / (true.size * max(float(np.mean((ctrl - true) ** 2)), 1e-12)))
    de_ref = max(float(np.mean([np.mean((ctrl[i, t] - true[i, t]) ** 2) for i, t in enumerate(top)])), 1e-12)
    for i, t in enumerate(top):
        weight[i, t] += 1.0 / (len(top) * len(t) * de_ref)
    return weight


def _shrinkage_loss(pred: np.ndarray, true: np.ndarray, ctrl: np.ndarray, top: Sequence[np.ndarray],
                    weight: np.ndarray | None = None) -> float:
    weight = _shrinkage_weights(true, ctrl, top) if weight is None else weight
    return float(np.sum(weight * (pred - true) ** 2))


class BioDSNN:
    """BioDSNN on one dataset and one knowledge bundle; implements the ``Predictor`` protocol.

    Args:
        data: a :class:`biodsnn.data.PerturbData`, an AnnData, or the path of an ``.h5ad``.
        knowledge: a :class:`kg_build.KnowledgeBundle` or the path of a bundle folder.
        split: a :class:`biodsnn.data.Split`, the path of a ``split.json``, or None: the split the knowledge bundle
            was built with (``make_split``'s default when it kept none).
        variant: a name from :data:`biodsnn.variants.VARIANTS` (``full``, the default; ``paper``; ``gears``; the
            ablations): the network and its training recipe.
        seed: initial weights, batch order and VAE noise.
        data_options: options for ``load_perturb_data`` when ``data`` is a path or AnnData.
        de: precomputed ``rank_de_genes`` result (default: computed on first use, for the validation metric).
        **hparams: overrides of the variant's settings (plus ``device``); the run's name lists them.

    Example:
        model = BioDSNN(data, knowledge, variant="noVAE", seed=0, epochs=1)
        model.fit().predict(["A+B"]).obs["condition"].tolist()
        # ['A+B']
    """

    def __init__(self, data: PerturbData | anndata.AnnData | str | os.PathLike[str],
                 knowledge: Knowledge | str | os.PathLike[str], split: Split | str | os.PathLike[str] | None = None,
                 variant: str = DEFAULT_VARIANT, seed: int = 0, *, data_options: dict[str, Any] | None = None,
                 de: DEGenes | None = None, **hparams: Any) -> None:
        from biodsnn.data import make_split

        self.variant = get_variant(variant).name
        hparams = validate_hparams(hparams, self.variant)
        self.seed = int(seed)
        self.device = resolve_device(hparams.pop("device", "cpu"))
        self.hparams = {**get_variant(self.variant).settings, **hparams}
        if isinstance(data, (str, os.PathLike, anndata.AnnData)):
            data = load_perturb_data(data, **(data_options or {}))
        self.data = data
        if isinstance(knowledge, (str, os.PathLike)):
            knowledge = _load_knowledge(knowledge)
        self.knowledge = knowledge
        if split is None:  # the split the bundle was built with; without one, the default split
            split = knowledge.split_file or make_split(data.conditions, kind="simulation")
        if isinstance(split, (str, os.PathLike)):
            split = Split.load(split)
        self.split = split
        knowledge.check_compatible(data, split)
        self._de = de
        self._net: torch.nn.Module | None = None  # the DistributedDataParallel wrapper while a multi-process fit runs
        self.history: list[dict[str, float]] = []
        self.best_epoch = -1
        self._build()

    @property
    def name(self) -> str:
        """``BioDSNN-<variant>``, followed by the settings that override the variant's (its rows in tables)."""
        return run_name(self.variant, self.hparams)

    # -- construction ------------------------------------------------------------------------------------------------
    def _build(self) -> None:
        kb, data = self.knowledge, self.data
        if list(kb.genes) != list(data.genes):
            raise InputError("the knowledge bundle's genes differ from the data's; rebuild it with kg-build on "
                             "this data")
        perturbable = [str(g) for g in kb.perturbable_genes]
        known = set(perturbable)
        # measured genes outside the GO graph can still be perturbed: they get their own (graph-isolated) embedding;
        # so does a gene perturbed in training that is neither measured nor in GO (its embedding is learned from
        # its own cells). Only a gene in none of these cannot be predicted.
        measured = [g for g in data.genes if g not in known]
        known.update(measured)
        # a perturbed gene named by an older symbol (MARCH8 for MARCHF8) is the GO graph's gene
        self.aliases = _alias_map(sorted({g for c in data.conditions for g in parse_condition(c)} - known), known)
        self.trained_outside_go = sorted({g for c in self.split.train for g in parse_condition(c)}
                                         - set(perturbable) - set(self.aliases))
        extra_trained = [g for g in self.trained_outside_go if g not in known]
        # several contexts: one token per context, summed into every unit's perturbation set like a gene, so the
        # shared knowledge stream learns how a context changes an effect (and, composed, a per-context mean effect)
        self.contexts: list[str | None] = list(getattr(data, "contexts", [None]))
        self.context_tokens = [] if self.contexts == [None] else [f"{CONTEXT_TOKEN}{c}" for c in self.contexts]
        self.pert_vocab = perturbable + measured + extra_trained + self.context_tokens
        self.pert_index = {g: i for i, g in enumerate(self.pert_vocab)}
        self.pert_index.update({old: self.pert_index[new] for old, new in self.aliases.items()})
        torch.manual_seed(self.seed)  # initial weights (torch modules draw from the global generator)
        ctrl = torch.as_tensor(data.control_mean, dtype=torch.float32)
        self.ctrl_by_context = {c: torch.as_tensor(data.control_mean_of(c), dtype=torch.float32).to(self.device)
                                for c in self.contexts} if self.contexts != [None] else {None: ctrl.to(self.device)}
        extra: dict[str, Any] = {}
        if get_variant(self.variant).additive_prior and self.contexts != [None]:
            raise InputError(f"variant {self.variant!r} does not support data of several contexts yet; use 'full' "
                             "or fit one context at a time (--context-key with a single value)")
        if get_variant(self.variant).additive_prior:
            extra = self._single_effects(ctrl)
        if get_variant(self.variant).use_vae:
            cells = np.asarray(data.control_cells)
            nz_sum, nz_count = np.zeros(len(data.genes)), np.zeros(len(data.genes))
            for s in range(0, len(cells), 4096):  # chunks: never the whole control matrix densified at once
                x = self._control_rows(cells[s: s + 4096]).double().cpu()
                nz_sum += x.sum(0).numpy()
                nz_count += (x != 0).sum(0).numpy()
            # the untrained VAE regenerates the control's non-zero entries as their mean: mean = control mean
            extra["control_init"] = torch.as_tensor(nz_sum / np.maximum(nz_count, 1), dtype=torch.float32)
        extra["control_mean"] = ctrl
        if self.context_tokens:
            extra["context_start"] = self.pert_index[self.context_tokens[0]]
        if self.hparams["mean_effect_prior"]:
            extra["mean_effect"] = torch.as_tensor(self._mean_training_effects(), dtype=torch.float32)
        extra["pert_gene"] = torch.as_tensor([data.gene_index.get(g, -1) for g in self.pert_vocab], dtype=torch.long)
        hp = self.hparams
        self.module = BioDSNNModule(
            len(data.genes), len(self.pert_vocab),
            coexpr_edge_index=torch.as_tensor(np.asarray(kb.coexpression.edge_index), dtype=torch.long),
            coexpr_weight=torch.as_tensor(np.asarray(kb.coexpression.weight), dtype=torch.float32),
            go_edge_index=torch.as_tensor(np.asarray(kb.go_graph.edge_index), dtype=torch.long),
            go_weight=torch.as_tensor(np.asarray(kb.go_graph.weight), dtype=torch.float32),
            mask_edge_index=torch.as_tensor(np.asarray(kb.mask.edge_index), dtype=torch.long),
            variant=self.variant, **{k: hp[k] for k in _MODULE_KEYS}, **extra,
        ).to(self.device)
        self.ctrl_mean = ctrl.to(self.device)

    def _mean_training_effects(self) -> np.ndarray:
        """``[n_contexts, G]``: the mean change of each context's training perturbations from its own control."""
        rows = []
        for ctx in self.contexts:
            units = [u for u in self.split.train if split_context(u)[0] == ctx]
            if not units:
                rows.append(np.zeros(len(self.data.genes), dtype=np.float32))
                continue
            means = self.data.condition_means(units)
            rows.append((means - self.data.control_mean_of(ctx)).mean(0))
        return np.stack(rows).astype(np.float32)

    def _single_effects(self, ctrl: torch.Tensor) -> dict[str, torch.Tensor]:
        singles = [c for c in self.split.train if len(parse_condition(c)) == 1]
        effect = torch.zeros(len(self.pert_vocab), len(self.data.genes))
        seen = torch.zeros(len(self.pert_vocab), dtype=torch.bool)
        if singles:
            means = torch.as_tensor(self.data.condition_means(singles), dtype=torch.float32)
            for cond, row in zip(singles, means, strict=True):
                j = self.pert_index[parse_condition(cond)[0]]
                effect[j], seen[j] = row - ctrl, True
        return {"single_effect": effect, "single_seen": seen}

    @property
    def de(self) -> DEGenes:
        """Top DE genes per condition (``biodsnn.data.rank_de_genes``), computed on first use."""
        if self._de is None:
            from biodsnn.data import rank_de_genes

            self._de = rank_de_genes(self.data, n_top=int(self.hparams["n_de"]))
        return self._de

    def condition_tensor(self, conditions: Sequence[str]) -> torch.Tensor:
        """Padded perturbation indices ``[C, K]`` (−1 padding) for canonical or free-form condition names.

        Raises NotFoundError naming a gene that is neither measured nor in the GO graph.
        """
        rows = []
        for cond in conditions:
            context = split_context(cond)[0]
            genes = parse_condition(cond)
            idx = []
            for g in genes:
                if g not in self.pert_index:
                    hint = did_you_mean(g, self.pert_vocab[: len(self.pert_vocab) - len(self.context_tokens)])
                    raise NotFoundError(f"cannot predict {cond!r}: gene {g!r} is neither measured, nor in the GO "
                                        f"graph, nor perturbed in training{hint}; use such a gene or rebuild the "
                                        "knowledge bundle with GO annotations that hold it"
                                        f"{delimiter_hint(g, genes=self.pert_vocab)}")
                idx.append(self.pert_index[g])
            if self.context_tokens:
                if context not in self.contexts:
                    raise NotFoundError(self._context_message(cond, context))
                idx.append(self.pert_index[f"{CONTEXT_TOKEN}{context}"])
            elif context is not None:
                raise NotFoundError(f"cannot predict {cond!r}: the model was trained on data of one context; name "
                                    "the perturbation without a context prefix")
            rows.append(idx)
        width = max([len(r) for r in rows] + [1])
        out = torch.full((len(rows), width), -1, dtype=torch.long)
        for i, r in enumerate(rows):
            out[i, : len(r)] = torch.as_tensor(r, dtype=torch.long)
        return out.to(self.device)

    def _context_message(self, cond: str, context: str | None) -> str:
        known = ", ".join(str(c) for c in self.contexts)
        if context is None:
            return (f"cannot predict {cond!r}: the data has several contexts ({known}); name one with --context "
                    f"(or write {self.contexts[0]}|{cond})")
        hint = did_you_mean(context, [str(c) for c in self.contexts])
        return f"cannot predict {cond!r}: unknown context {context!r}{hint} (contexts: {known})"

    def unit_controls(self, conditions: Sequence[str]) -> torch.Tensor:
        """Each unit's own control mean ``[C, G]`` (its context's)."""
        return torch.stack([self.ctrl_by_context[split_context(c)[0] if self.context_tokens else None]
                            for c in conditions])

    # -- training ----------------------------------------------------------------------------------------------------
    def _keep_table(self, conditions: Sequence[str]) -> dict[str, torch.Tensor]:
        """GEARS' non-zero genes: genes whose mean over the condition's cells is non-zero (control: all genes)."""
        conds = [c for c in conditions if parse_condition(c)]
        means = self.data.condition_means(conds) if conds else np.zeros((0, len(self.data.genes)), np.float32)
        table = {c: torch.as_tensor(m != 0) for c, m in zip(conds, means, strict=True)}
        every = torch.ones(len(self.data.genes), dtype=torch.bool)
        # the control units (`ctrl`, `CONTEXT|ctrl`: train_control) keep every gene, as GEARS' loss does for ctrl
        table |= {c: every for c in ["ctrl", *conditions] if not parse_condition(c)}
        return table

    def _batch_iterator(self, epoch: int) -> Any:
        """The training batches of one epoch (up to ``batch_size`` cells each): of one condition each, so every
        optimiser step costs one knowledge-stream pass, or with ``mixed_batches`` shuffled over all training
        conditions (GEARS'); seeded by (seed, epoch)."""
        rank, world = distributed.rank_and_world()  # several processes: each takes its share of the same plan
        return BatchIterator(self.data, self.split.train, batch_size=int(self.hparams["batch_size"]), seed=self.seed,
                             epoch=epoch, rank=rank, world_size=world, mixed=bool(self.hparams["mixed_batches"]),
                             with_control=bool(self.hparams["train_control"]))

    def _batches(self, epoch: int) -> Iterator[Any]:
        return iter(self._batch_iterator(epoch))

    def _n_batches(self, epoch: int) -> int:
        return len(self._batch_iterator(epoch))

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The ``autocast`` option as a context: bfloat16 autocast on the model's device, or nothing."""
        if self.hparams["autocast"] != "bf16":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def batch_loss(self, batch: Any, generator: torch.Generator | None = None) -> torch.Tensor:
        """The training loss of one batch (prediction loss + vae_weight · VAE loss)."""
        hp, dev = self.hparams, self.device
        conds = [canonical_condition(c) for c in batch.conditions]
        control_x = torch.as_tensor(batch.control_x, dtype=torch.float32).to(dev)
        target = torch.as_tensor(batch.target_x, dtype=torch.float32).to(dev)
        cell_cond = torch.as_tensor(batch.condition_index, dtype=torch.long).to(dev)
        keep = torch.stack([self._keep[c] for c in conds]).to(dev)
        net = self._net if self._net is not None else self.module  # DistributedDataParallel's wrapper in a DDP fit
        with self._autocast():
            out = net(control_x, self.condition_tensor(conds), cell_cond, generator)
        out = _float32(out)  # after autocast: the loss (powers, sums over genes) in float32
        ctrl = self.unit_controls(conds) if self.context_tokens else self.ctrl_mean
        loss = perturbation_loss(out.pred, target, ctrl, cell_cond, keep, gamma=hp["gamma"],
                                 direction_weight=hp["direction_weight"], autofocus_weight=hp["autofocus_weight"],
                                 direction_sharpness=hp["direction_sharpness"], level=hp["loss_level"])
        if out.vae is not None and hp["vae_weight"] > 0:
            loss = loss + hp["vae_weight"] * self.module.vae.loss(control_x, out.vae, kl_weight=hp["kl_weight"])
        return loss

    def predictable(self, condition: str) -> bool:
        """Whether every gene of a condition is in the vocabulary (GO graph, measured, or perturbed in training).

        Example:
            model.predictable("IER5L+ctrl")   # False when IER5L is neither measured, in GO, nor trained
        """
        return all(g in self.pert_index for g in parse_condition(condition))

    @property
    def validation_conditions(self) -> list[str]:
        """The split's validation conditions the model can predict (the others cannot guide training)."""
        return [c for c in self.split.val if self.predictable(c)]

    def validation_metric(self) -> float:
        """Mean over validation conditions of the MSE on their top-20 DE genes (NaN without validation conditions)."""
        val = self.validation_conditions
        if not val:
            return float("nan")
        rank, world = distributed.rank_and_world()
        val = val[rank::world]  # several processes: each scores its share, the sums are reduced across ranks
        errs: list[float] = []
        if val:
            pred = self.predict_means(val)
            true = self._val_true if getattr(self, "_val_true", None) is not None else self.data.condition_means(val)
            self._val_true = true
            errs = [float(np.mean((pred[i, self.de.top[c]] - true[i, self.de.top[c]]) ** 2))
                    for i, c in enumerate(val)]
        if world == 1:
            return float(np.mean(errs))
        total, count = distributed.all_reduce_sum([sum(errs), len(errs)], self.device)
        return total / count

    def fit(self, epochs: int | None = None, *, run_dir: str | os.PathLike[str] | None = None, resume: bool = False,
            progress: bool = True) -> BioDSNN:
        """Train (Adam, StepLR, gradient clipping); keeps the best validation epoch's weights.

        Args:
            epochs: number of epochs (default: the ``epochs`` option).
            run_dir: folder for ``checkpoint.pt`` (every epoch) and ``train.log``; needed for ``resume``.
            resume: continue from ``run_dir/checkpoint.pt`` if it exists.
            progress: show the rich progress bar.

        Example:
            BioDSNN(data, knowledge, epochs=1).fit().best_epoch
            # 1
        """
        hp = self.hparams
        if epochs is not None:
            if epochs < 1:
                raise InputError(f"epochs must be at least 1, got {epochs}")
            hp["epochs"] = int(epochs)
        if resume and run_dir is None:
            raise InputError("resume needs the run folder: pass run_dir")
        if not self.split.train:
            raise InputError("the split has no training conditions; choose another split")
        self._keep = self._keep_table([*self.split.train, *(f"{c}|ctrl" for c in self.contexts if c is not None)])
        self._val_true = None
        config = TrainConfig(seed=self.seed, **{k: hp[k] for k in TRAIN_DEFAULTS})
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self._net = distributed.wrap(self.module, self.device)  # DistributedDataParallel under torchrun
        try:
            result: TrainResult = train(self.module, batches=self._batches, n_batches=self._n_batches,
                                        loss=self.batch_loss, validate=self.validation_metric, config=config,
                                        run_dir=run_dir, resume=resume, device=self.device, progress=progress,
                                        options=self._run_options())
        finally:
            self._net = None
        self.history, self.best_epoch = result.history, result.best_epoch
        if hp["shrink_to_prior"] and self.validation_conditions:
            self._fit_effect_scale()
        self.module.eval()
        return self

    def _run_options(self) -> dict[str, Any]:
        """What defines a run for ``--resume``: everything but the epoch count (a resume may train longer) and the
        training precision (``autocast``: a run may resume in another, and checkpoints from before it resume)."""
        return {"variant": self.variant, "seed": self.seed, "data": getattr(self.data, "fingerprint", None),
                "split": getattr(self.split, "fingerprint", None),
                **{k: v for k, v in self.hparams.items() if k not in ("epochs", "autocast")}}

    @torch.no_grad()
    def _fit_effect_scale(self) -> None:
        """Fit ``prior_scale`` a, ``effect_scale`` b ∈ [0, 1] and ``effect_threshold`` λ on the validation
        conditions: the prediction control + a · (prior − control) + b · soft(trained − prior, λ) minimising the
        squared error over the top-20 DE genes plus that over all genes, each relative to no change's (so a model
        that moves genes the perturbations do not move is held back even where its top-20 DE error is low);
        :func:`shrinkage_fit`."""
        val = self.validation_conditions
        a_buf, b_buf, l_buf = self.module.prior_scale, self.module.effect_scale, self.module.effect_threshold
        a_buf.fill_(1.0)
        b_buf.fill_(1.0)
        l_buf.fill_(0.0)
        full = self.predict_means(val).astype(np.float64)
        b_buf.fill_(0.0)
        prior = self.predict_means(val).astype(np.float64)
        true = np.asarray(self.data.condition_means(val), dtype=np.float64)
        ctrl = np.asarray(self.data.control_means(val), dtype=np.float64)
        a, s, level = shrinkage_fit(full, prior, true, ctrl, [np.asarray(self.de.top[c]) for c in val])
        if self.module.mean_effect is None:
            a = 1.0  # no prior to scale
        a_buf.fill_(a)
        b_buf.fill_(s)
        l_buf.fill_(level)
        if self.run_dir is not None and (self.run_dir / LOG_FILE).exists() and distributed.is_writer():
            with (self.run_dir / LOG_FILE).open("a") as fh:
                fh.write(f"prior_scale {a:.4g}, effect_scale {s:.4g}, effect_threshold {level:.4g}: the prior's "
                         f"change and the change learned beyond it (soft-thresholded), fitted on {len(val)} "
                         "validation conditions\n")

    # -- prediction --------------------------------------------------------------------------------------------------
    def _control_sample(self, context: str | None = None) -> np.ndarray:
        cells = np.asarray(self.data.control_cells_of(context) if self.context_tokens else self.data.control_cells)
        n = int(self.hparams["n_control_predict"])
        if n and len(cells) > n:
            cells = np.sort(np.random.default_rng(self.seed).choice(cells, n, replace=False))
        return cells

    def _control_rows(self, cells: np.ndarray) -> torch.Tensor:
        x = self.data.X[cells]
        x = x.toarray() if hasattr(x, "toarray") else np.asarray(x)
        return torch.as_tensor(x, dtype=torch.float32).to(self.device)

    @torch.no_grad()
    def _baseline_mean(self, context: str | None = None) -> torch.Tensor:
        if self.module.vae is None or self.module.recentre_vae:  # regenerated cells average to the control mean
            return self.ctrl_by_context[context] if self.context_tokens else self.ctrl_mean
        self.module.eval()
        cells = self._control_sample(context)
        total = torch.zeros_like(self.ctrl_mean)
        for s in range(0, len(cells), 1024):
            total += self.module.regenerate(self._control_rows(cells[s: s + 1024]))[0].sum(0)
        return total / max(len(cells), 1)

    @torch.no_grad()
    def _effects(self, conditions: Sequence[str]) -> torch.Tensor:
        self.module.eval()
        cond_t = self.condition_tensor(conditions)
        chunk = int(self.hparams["predict_chunk"])
        return torch.cat([self.module.knowledge(cond_t[s: s + chunk]) for s in range(0, len(conditions), chunk)])

    def predict_means(self, conditions: Sequence[str]) -> np.ndarray:
        """Predicted mean log-normalised expression, ``(len(conditions), n_genes)`` (the Predictor protocol).

        The mean over control cells of (regenerated control + effect) is mean(regenerated control) + effect, because
        the effect does not depend on the cell: one knowledge-stream pass per condition.

        Example:
            model.predict_means(["A+B"]).shape
            # (1, 100)
        """
        conditions = [canonical_condition(c) for c in conditions]
        if not conditions:
            return np.zeros((0, len(self.data.genes)), dtype=np.float32)
        effects = self._effects(conditions)
        if self.context_tokens:  # each unit on its own context's (regenerated) control
            base = {c: self._baseline_mean(c) for c in dict.fromkeys(split_context(u)[0] for u in conditions)}
            out = torch.stack([base[split_context(u)[0]] for u in conditions]) + effects
        else:
            out = self._baseline_mean().unsqueeze(0) + effects
        return out.cpu().numpy().astype(np.float32)

    @torch.no_grad()
    def predict(self, conditions: Sequence[str], *, per_cell: bool = False) -> anndata.AnnData:
        """Predicted expression as AnnData: one row per condition (mean), or per (condition, control cell).

        Args:
            conditions: names such as ``"FOSB+CEBPB"``, ``"ETS2"`` or ``"ETS2+ctrl"`` (canonicalised in ``obs``).
            per_cell: one row per sampled control cell and condition (``obs["control_cell"]`` names the cell).

        Example:
            model.predict(["FOSB+CEBPB", "ETS2"]).obs["condition"].tolist()
            # ['CEBPB+FOSB', 'ETS2+ctrl']
        """
        names = [canonical_condition(c) for c in conditions]
        if not names:
            raise InputError("no perturbation to predict: give at least one condition such as 'FOSB+CEBPB'")
        var = pd.DataFrame(index=pd.Index(list(self.data.genes), name="gene"))
        uns = {"biodsnn": {"variant": self.variant, "seed": self.seed, "kind": "per_cell" if per_cell else "mean"}}
        if not per_cell:
            x = self.predict_means(names)
            obs = pd.DataFrame({"condition": names}, index=pd.Index([str(i) for i in range(len(names))]))
            if self.context_tokens:
                obs["context"] = [split_context(u)[0] for u in names]
            return anndata.AnnData(X=x, obs=obs, var=var, uns=uns)
        self.module.eval()
        x_parts, obs_parts = [], []
        groups: dict[str | None, list[str]] = {}
        for u in names:  # each unit on control cells of its own context
            groups.setdefault(split_context(u)[0] if self.context_tokens else None, []).append(u)
        for context, units in groups.items():
            effects = self._effects(units)
            cells = self._control_sample(context)
            base = torch.cat([self.module.regenerate(self._control_rows(cells[s: s + 1024]))[0]
                              for s in range(0, len(cells), 1024)])
            x_parts.append((base.unsqueeze(0) + effects.unsqueeze(1)).reshape(-1, base.shape[1]).cpu().numpy())
            cell_names = np.asarray(self.data.adata.obs_names)[cells]
            obs_parts.append(pd.DataFrame({"condition": np.repeat(units, len(cells)),
                                           "control_cell": np.tile(cell_names, len(units))}))
        obs = pd.concat(obs_parts, ignore_index=True)
        if self.context_tokens:
            obs["context"] = [split_context(u)[0] for u in obs["condition"]]
        obs.index = pd.Index([str(i) for i in range(len(obs))])
        return anndata.AnnData(X=np.concatenate(x_parts).astype(np.float32), obs=obs, var=var, uns=uns)

    # -- persistence ------------------------------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """What ``config.json`` records: enough to rebuild the model without the user repeating anything."""
        return {
            "format": CONFIG_FORMAT,
            "data": {"path": getattr(self.data, "source", None), "options": getattr(self.data, "options", {}),
                     "fingerprint": getattr(self.data, "fingerprint", None)},
            "knowledge": {"path": _knowledge_path(self.knowledge),
                          "manifest_sha256": _manifest_sha256(self.knowledge)},
            "variant": self.variant,
            "name": self.name,
            "overrides": overrides(self.variant, self.hparams),
            "seed": self.seed,
            "hparams": dict(self.hparams),
            "device": str(self.device),
            "best_epoch": self.best_epoch,
            "split_fingerprint": getattr(self.split, "fingerprint", None),
        }

    def save(self, run_dir: str | os.PathLike[str]) -> Path:
        """Write the run folder: config.json, split.json, model.pt, history.parquet, train.log (checkpoint.pt is
        written by :meth:`fit` when it is given the folder).

        Example:
            model.save("run/")
        """
        check_finite(self.module, "the trained weights")  # no run is saved with NaN weights
        out = Path(run_dir)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_output(out / "model.pt", suffix=".pt") as tmp:
            torch.save({k: v.cpu() for k, v in self.module.state_dict().items()}, tmp)
            self._weights_sha256 = sha256_file(tmp)
        with atomic_output(out / "split.json", suffix=".json") as tmp:
            self.split.save(tmp)
        history = pd.DataFrame(self.history, columns=["epoch", "train_loss", "val_top20_de_mse", "lr", "seconds"])
        write_parquet(history, out / "history.parquet", {"variant": self.variant, "seed": self.seed,
                                                          "best_epoch": self.best_epoch})
        if not (out / LOG_FILE).exists():
            with atomic_output(out / LOG_FILE) as tmp:
                tmp.write_text("".join(f"epoch {int(h['epoch'])} loss {h['train_loss']:.6g} "
                                       f"val_top20_de_mse {h['val_top20_de_mse']:.6g}\n" for h in self.history))
        write_json({**self.config(), "weights_sha256": self._weights_sha256}, out / "config.json")
        return out

    @classmethod
    def load(cls, run_dir: str | os.PathLike[str], data: PerturbData | None = None,
             knowledge: Knowledge | str | os.PathLike[str] | None = None) -> BioDSNN:
        """Rebuild a saved model; data and knowledge are reloaded from the recorded paths when not given.

        Example:
            BioDSNN.load("run/").predict(["ETS2"])
        """
        run = Path(run_dir)
        cfg_path = run / "config.json"
        if not cfg_path.exists():
            raise NotFoundError(f"{run} is not a BioDSNN run folder (no config.json); fit one with `biodsnn fit`")
        try:
            cfg = json.loads(cfg_path.read_text())
            if not isinstance(cfg, dict) or not isinstance(cfg.get("hparams"), dict):
                raise ValueError("no hparams")
            if not all(isinstance(cfg.get(k), want) for k, want in (("data", dict), ("knowledge", dict),
                                                                       ("variant", str))):
                raise KeyError("data, knowledge or variant")
        except (ValueError, KeyError, TypeError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise InputError(f"{cfg_path} is not a BioDSNN run config ({exc.__class__.__name__}); fit the run "
                             "again with `biodsnn fit`") from exc
        weights = run / "model.pt"
        if not weights.is_file():
            raise NotFoundError(f"{run} has no model.pt (the fit did not finish?); resume it with `biodsnn fit "
                                "--resume` or fit again")
        digest = sha256_file(weights)
        if cfg.get("weights_sha256") not in (None, digest):
            raise InputError(f"{weights} is not the file this run saved (sha256 differs from config.json: truncated, "
                             "corrupted or copied from another run); fit the run again")
        if data is None:
            path = cfg["data"].get("path")
            if not path:
                raise InputError(f"{run}/config.json records no data path; pass data= to BioDSNN.load")
            data = load_perturb_data(path, **(cfg["data"].get("options") or {}))
        if isinstance(knowledge, (str, os.PathLike)):
            knowledge = _load_knowledge(knowledge)
        elif knowledge is None:
            path = cfg["knowledge"].get("path")
            if not path:
                raise InputError(f"{run}/config.json records no knowledge path; pass knowledge= to BioDSNN.load")
            knowledge = _load_knowledge(path)
        if _manifest_sha256(knowledge) != cfg["knowledge"].get("manifest_sha256"):
            raise InputError(f"the knowledge bundle differs from the one {run} was trained with (manifest hash); "
                             "pass the original bundle")
        hp = dict(cfg["hparams"])
        hp.setdefault("mark_perturbed", False)  # saved before the option existed: the paper's network
        hp.setdefault("compose_members", False)
        hp.setdefault("own_gene_head", False)
        hp.setdefault("mean_effect_prior", False)
        hp.setdefault("shrink_to_prior", False)
        hp.setdefault("recentre_vae", False)
        # saved before GEARS' layers and mixed batches existed: LayerNorm, zero readouts, one condition per batch
        hp.setdefault("norm", "layer")
        hp.setdefault("readout_init", "zero")
        hp.setdefault("mixed_batches", False)
        hp.setdefault("embedding_max_norm", False)
        hp.setdefault("clip_by_value", False)
        hp.setdefault("train_control", False)
        try:  # options that do nothing in the variant's network were recorded as they were; they are not overrides
            inert = get_variant(cfg["variant"]).inert_options()
        except InputError as exc:
            raise InputError(f"{cfg_path} names a variant this version does not have ({exc}); fit the run again") \
                from None
        hp = {k: v for k, v in hp.items() if k not in inert}
        model = cls(data, knowledge, split=run / "split.json", variant=cfg["variant"], seed=cfg.get("seed", 0),
                    device=_saved_device(cfg.get("device", "cpu")), **hp)
        try:
            state = torch.load(weights, map_location=model.device, weights_only=True)
            for key in ("prior_scale", "effect_scale"):  # saved before the scales existed: unscaled
                state.setdefault(key, torch.ones(()))
            state.setdefault("effect_threshold", torch.zeros(()))  # saved before the threshold: none
            model.module.load_state_dict(state)
        except Exception as exc:  # damaged file or another network: torch raises several types
            first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:160]
            raise InputError(f"{weights} does not load into the {cfg['variant']} network its config.json describes "
                             f"({first}); fit the run again") from exc
        check_finite(model.module, f"the weights in {weights}")
        model.module.eval()
        if (run / "history.parquet").exists():
            model.history = pd.read_parquet(run / "history.parquet").to_dict("records")
            model.best_epoch = int(read_parquet_metadata(run / "history.parquet").get("best_epoch", -1))
        model.run_dir = run
        return model


__all__ = ["CHECKPOINT", "DEFAULT_HPARAMS", "BioDSNN", "shrinkage_fit", "shrinkage_scales"]
