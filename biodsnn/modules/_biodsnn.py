"""The BioDSNN network (pure torch + torch_geometric): data-driven VAE stream + knowledge-driven graph/attention stream.

Everything is built in ``__init__`` (the published code built its VAE and transformer inside ``forward()``, so they were
re-initialised on every call and never trained). Variants are rows of one registry (:mod:`biodsnn.variants`) and share
one code path.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch_geometric.nn import SGConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from biodsnn.modules._attention import MaskedTransformerLayer
from biodsnn.modules._norm import Blocks, CountedBatchNorm1d
from biodsnn.modules._vae import ControlVAE
from biodsnn.variants import get_variant
from reactomenet.errors import InputError


def _distinct_members(cond_perts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The distinct perturbations of padded condition rows, each member's index among them, and each member's row.

    Members are listed row-major (padding −1 skipped), so a per-distinct result ``r`` goes back onto the rows with
    ``out.index_add(0, owner, r[inverse])``.

    Example:
        >>> _distinct_members(torch.tensor([[3, -1], [1, 3]]))
        (tensor([1, 3]), tensor([1, 0, 1]), tensor([0, 1, 1]))
    """
    valid = cond_perts >= 0
    singles, inverse = torch.unique(cond_perts[valid], return_inverse=True)
    return singles, inverse, valid.nonzero(as_tuple=True)[0]


def _mlp(sizes: list[int], *, last_act: bool, norm: str = "layer") -> Blocks:
    """Linear → LayerNorm → ReLU blocks (``last_act``: the last block too), or with ``norm="batch"`` GEARS' ``MLP``
    exactly: Linear → BatchNorm1d → ReLU blocks whose last ReLU is dropped, so it ends in BatchNorm1d (GEARS ignores
    its ``last_layer_act``).

    Example:
        >>> [type(m).__name__ for m in _mlp([4, 4, 4], last_act=True, norm="batch")]
        ['Linear', 'CountedBatchNorm1d', 'ReLU', 'Linear', 'CountedBatchNorm1d']
    """
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if norm == "batch":
            layers += [CountedBatchNorm1d(sizes[i + 1]), nn.ReLU()]
        elif i < len(sizes) - 2 or last_act:
            layers += [nn.LayerNorm(sizes[i + 1]), nn.ReLU()]
    return Blocks(*(layers[:-1] if norm == "batch" else layers))


def _gears_xavier(*shape: int) -> torch.Tensor:
    """``xavier_normal_`` drawn on GEARS' parameter shape (``indv_w1`` [G, h, 1], ``indv_b1`` [G, 1], ``indv_w2``
    [1, G, h + 1], ``indv_b2`` [1, G]), whose fans set the spread, then squeezed to ours."""
    return nn.init.xavier_normal_(torch.empty(*shape)).squeeze()


def normalised_adjacency(edge_index: torch.Tensor, edge_weight: torch.Tensor, n: int
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``D^-1/2 (A + I) D^-1/2`` as CSR arrays ``(crow, col, value)``, rows = message targets, as ``SGConv`` uses it.

    The values come from torch_geometric's own ``gcn_norm`` (``add_self_loops=True``, flow source → target), so
    existing self-loops keep their weight and duplicate edges add up exactly as in the layer; row ``i`` holds the
    sources aggregated into node ``i``, so ``SGConv(K=1)(x)[i] == lin(Σ_e value[e] * x[col[e]])`` over row ``i``.

    Example:
        >>> crow, col, val = normalised_adjacency(torch.tensor([[0], [1]]), torch.ones(1), 3)
        >>> crow.tolist(), col.tolist()
        ([0, 1, 3, 4], [0, 0, 1, 2])
    """
    ei, w = gcn_norm(edge_index, edge_weight, n, False, True, "source_to_target", dtype=edge_weight.dtype)
    src, dst = ei[0], ei[1]
    order = torch.argsort(dst * n + src, stable=True)
    crow = torch.zeros(n + 1, dtype=torch.long, device=ei.device)
    crow[1:] = torch.cumsum(torch.bincount(dst, minlength=n), 0)
    return crow, src[order].contiguous(), w[order].contiguous()


def soft_threshold(x: torch.Tensor, level: torch.Tensor | float) -> torch.Tensor:
    """``sign(x) · max(|x| − level, 0)``: entries within ``level`` of zero become zero, the others move toward it.

    Example:
        >>> soft_threshold(torch.tensor([-0.5, 0.1, 0.3]), 0.2).tolist()
        [-0.30000001192092896, 0.0, 0.10000000894069672]
    """
    return torch.sign(x) * torch.clamp(x.abs() - level, min=0)


def prepare_mask(edge_index: torch.Tensor, n_genes: int) -> torch.Tensor:
    """Add the diagonal, drop duplicates and sort by (destination, source).

    Example:
        >>> prepare_mask(torch.tensor([[1, 1], [0, 0]]), 2).tolist()
        [[0, 1, 1], [0, 0, 1]]
    """
    diag = torch.arange(n_genes, dtype=torch.long)
    src = torch.cat([edge_index[0].long(), diag])
    dst = torch.cat([edge_index[1].long(), diag])
    key = torch.unique(dst * n_genes + src)  # sorted
    return torch.stack([key % n_genes, key // n_genes])


#: Inputs of the interaction head per gene: sum, absolute sum, sum of squares and pairwise products of the single
#: effects, and the control level; plus a learned gene projection of this width.
N_INTERACTION_FEATURES = 5
INTERACTION_GENE_DIM = 8


@dataclass
class ModuleOutput:
    """Per-cell predictions plus what the loss needs (a dataclass, so DistributedDataParallel finds its tensors)."""

    pred: torch.Tensor
    effect: torch.Tensor
    vae: ControlVAE.Output | None


class BioDSNNModule(nn.Module):
    """The network. Conditions are given as padded perturbation indices ``[C, K]`` (−1 = padding, all −1 = control).

    Args:
        n_genes: measured genes (output length). n_perts: perturbation vocabulary (GO-graph genes first).
        coexpr_edge_index / coexpr_weight: co-expression graph over the measured genes.
        go_edge_index / go_weight: GO similarity graph over the perturbation vocabulary.
        mask_edge_index: attention mask over the measured genes (source = key, destination = query).
        variant: a name from :data:`VARIANTS`.
        single_effect / single_seen: for ``additive_prior`` variants, the observed effect ``[n_perts, G]`` of each
            single perturbation seen in training and a ``[n_perts]`` bool flag.
        detach_vae_baseline: the prediction loss does not reach the VAE (it learns from its own loss only), so its
            regenerated control cannot drift toward the average perturbation (the default); False: trained jointly
            with the prediction loss (the paper).
        control_mean: the control's per-gene mean, an input of ``own_gene_head`` and, for ``additive_prior``
            variants, of the interaction head (how a gene's response saturates depends on its level); None: zeros.
        control_init: per-gene initial output of the VAE's decoder (``ControlVAE.nonzero_mean`` of the control
            cells), so that the untrained VAE regenerates the control mean; None: a random decoder.
        pert_gene: ``[n_perts]`` column of each vocabulary gene among the measured genes (−1: not measured); needed
            with ``mark_perturbed`` and ``own_gene_head``.
        mark_perturbed: add a learned "perturbed" vector to the embedding of each perturbed gene that is measured
            (before the transformer, which carries it to the gene's pathway neighbours) and read every gene out
            through a shared projection as well as its own. The paper adds the perturbation only to every gene
            alike, so nothing tells a gene never perturbed in training that it is the one perturbed now; False:
            the paper's network.
        compose_members: a condition of several genes is the sum of its members' single effects (one knowledge
            pass per member) plus a joint pass of the whole set read out through its own zero-initialised
            projection (the interaction). The paper fuses the summed embeddings once, so two learned singles do not
            add up to their double; False: the paper's single joint pass. Ignored by ``additive_prior`` variants,
            which compose already.
        own_gene_head: the change of each perturbed gene that is measured (its own column, the largest change in
            CRISPRa/i data) gets a shared head's output added, read from that gene's final representation and its
            control level. It has no per-gene weights, so what it learns from the training perturbations holds for a
            gene never perturbed in training; the per-gene readouts memorise the genes they were trained on. Needs
            ``pert_gene``.
        context_start: vocabulary index of the first context token (data of several contexts): a row's token
            says which context it is in. Composed, each member's pass carries the row's context token, so a
            member's effect is its effect in that context; the joint pass carries it too.
        recentre_vae: the regenerated cells of one call keep those control cells' mean exactly (each gene's non-zero
            entries are shifted by one constant, zeros stay zero): the VAE gives per-cell variation around the
            control, never a shift of its mean (a VAE shared by very different cell lines regenerates each line's
            mean with an error of the size of a perturbation's effect). Each call must hold cells of one context.
        mean_effect: ``[n_contexts, G]`` (one row without contexts): a learned per-context effect added to every
            perturbation, initialised to the mean change of the context's training perturbations, so the untrained
            network is the mean baseline and training learns what a perturbation adds to it; None: no such term.
        norm: ``"layer"`` (ours: LayerNorm, a condition's prediction never depends on the other conditions of its
            batch) or ``"batch"`` (GEARS' and the paper's: BatchNorm1d where GEARS' code has it, every MLP as GEARS'
            ``MLP``, each condition's rows weighted by its cells in the batch: :class:`CountedBatchNorm1d`). Batch
            statistics need batches of several conditions (``mixed_batches``); evaluation uses the running ones.
        embedding_max_norm: GEARS' ``nn.Embedding(max_norm=True)``: every row of the gene, position and perturbation
            embeddings is rescaled to norm ≤ 1 (in place, outside autograd) whenever the knowledge stream reads it.
        readout_init: ``"zero"`` (ours: the last per-gene readouts start at zero, so the untrained network predicts
            no change) or ``"xavier"`` (GEARS': ``xavier_normal_`` on its ``indv_w1``, ``indv_b1``, ``indv_w2``,
            ``indv_b2``).

    Example:
        >>> ei = torch.tensor([[0, 1], [1, 0]])
        >>> m = BioDSNNModule(3, 2, coexpr_edge_index=ei, go_edge_index=ei, mask_edge_index=ei, hidden=8, d_ff=16)
        >>> out = m(torch.rand(4, 3), torch.tensor([[0, -1], [0, 1]]), torch.tensor([0, 0, 1, 1]))
        >>> out.pred.shape
        torch.Size([4, 3])
    """

    def __init__(self, n_genes: int, n_perts: int, *, coexpr_edge_index: torch.Tensor,
                 go_edge_index: torch.Tensor, mask_edge_index: torch.Tensor,
                 coexpr_weight: torch.Tensor | None = None, go_weight: torch.Tensor | None = None,
                 variant: str = "full", hidden: int = 64, n_heads: int = 2, d_ff: int = 512,
                 vae_intermediate: int = 32, vae_latent: int = 16, pos_weight: float = 0.2, dropout: float = 0.0,
                 single_effect: torch.Tensor | None = None,
                 single_seen: torch.Tensor | None = None, control_init: torch.Tensor | None = None,
                 control_mean: torch.Tensor | None = None, detach_vae_baseline: bool = True,
                 pert_gene: torch.Tensor | None = None, mark_perturbed: bool = False,
                 compose_members: bool = False, own_gene_head: bool = False, context_start: int | None = None,
                 mean_effect: torch.Tensor | None = None, recentre_vae: bool = False, norm: str = "layer",
                 readout_init: str = "zero", embedding_max_norm: bool = False) -> None:
        super().__init__()
        if norm not in ("layer", "batch") or readout_init not in ("zero", "xavier"):
            raise InputError(f"norm={norm!r} / readout_init={readout_init!r}: choose norm 'layer' or 'batch' and "
                             "readout_init 'zero' or 'xavier'")
        self.norm = norm
        self.embedding_max_norm = bool(embedding_max_norm)
        self.variant = get_variant(variant)
        self.n_genes, self.n_perts, self.pos_weight = n_genes, n_perts, pos_weight
        self.detach_vae_baseline = bool(detach_vae_baseline)
        self.recentre_vae = bool(recentre_vae)

        def _w(w: torch.Tensor | None, ei: torch.Tensor) -> torch.Tensor:
            return torch.ones(ei.shape[1]) if w is None else torch.as_tensor(w, dtype=torch.float32)

        coexpr_edge_index = torch.as_tensor(coexpr_edge_index, dtype=torch.long)
        go_edge_index = torch.as_tensor(go_edge_index, dtype=torch.long)
        self.register_buffer("coexpr_edge_index", coexpr_edge_index, persistent=False)
        self.register_buffer("coexpr_weight", _w(coexpr_weight, coexpr_edge_index), persistent=False)
        self.register_buffer("go_edge_index", go_edge_index, persistent=False)
        self.register_buffer("go_weight", _w(go_weight, go_edge_index), persistent=False)
        mask = prepare_mask(torch.as_tensor(mask_edge_index, dtype=torch.long), n_genes)
        self.register_buffer("mask_edge_index", mask, persistent=False)

        # data-driven stream
        self.vae = (ControlVAE(n_genes, intermediate=vae_intermediate, latent=vae_latent, init_output=control_init)
                    if self.variant.use_vae else None)
        # knowledge-driven stream: genes
        self.gene_emb = nn.Embedding(n_genes, hidden)
        batch_norm = norm == "batch"
        self.gene_norm = CountedBatchNorm1d(hidden) if batch_norm else nn.LayerNorm(hidden)
        self.pos_emb = nn.Embedding(n_genes, hidden)
        self.gene_conv = SGConv(hidden, hidden, K=1)
        self.gene_mlp = _mlp([hidden, hidden, hidden], last_act=True, norm=norm)
        # knowledge-driven stream: perturbations
        self.pert_emb = nn.Embedding(n_perts, hidden)
        self.pert_conv = SGConv(hidden, hidden, K=1)  # K=1, no caching, self-loops: `perturbation_rows` relies on it
        self._go_cache: tuple[torch.Tensor, int, torch.Tensor, int, tuple[torch.Tensor, ...]] | None = None
        self.pert_fuse = _mlp([hidden, hidden, hidden], last_act=True, norm=norm)
        self.fused_norm = CountedBatchNorm1d(hidden) if batch_norm else nn.LayerNorm(hidden)
        # cross-gene module
        self.transformer = (MaskedTransformerLayer(hidden, n_heads, d_ff, mode=self.variant.attention, dropout=dropout)
                            if self.variant.cross_gene == "attention" else None)
        # per-gene projection to one value per gene
        self.recovery = _mlp([hidden, 2 * hidden, hidden], last_act=False, norm=norm)
        # readout_init "zero": the last per-gene projection starts at zero, so an untrained network predicts "no
        # change" (effect = 0) and `additive_residual` starts exactly at the additive prediction; gradients reach the
        # layers below from the second optimiser step on. "xavier": GEARS' initialisation of all its readouts.
        mlp, gears_init = self.variant.cross_gene == "mlp", readout_init == "xavier"
        self.gene_w1 = nn.Parameter(_gears_xavier(n_genes, hidden, 1) if gears_init
                                    else torch.zeros(n_genes, hidden) if not mlp
                                    else nn.init.xavier_normal_(torch.empty(n_genes, hidden)))
        self.gene_b1 = nn.Parameter(_gears_xavier(n_genes, 1) if gears_init else torch.zeros(n_genes))
        if mlp:  # GEARS' cross-gene state and final gene-specific decoder
            self.cross_gene = _mlp([n_genes, hidden, hidden], last_act=False, norm=norm)
            self.gene_w2 = nn.Parameter(_gears_xavier(1, n_genes, hidden + 1) if gears_init
                                        else torch.zeros(n_genes, hidden + 1))
            self.gene_b2 = nn.Parameter(_gears_xavier(1, n_genes) if gears_init else torch.zeros(n_genes))
        else:
            self.cross_gene = None
        self.perturbed_marker: nn.Parameter | None = None
        self.shared_w1: nn.Parameter | None = None
        if (mark_perturbed or own_gene_head) and pert_gene is None:
            raise InputError("mark_perturbed and own_gene_head need pert_gene (each perturbation's measured-gene "
                             "column)")
        if pert_gene is not None:
            self.register_buffer("pert_gene", torch.as_tensor(pert_gene, dtype=torch.long), persistent=False)
        ctrl = torch.zeros(n_genes) if control_mean is None else torch.as_tensor(control_mean, dtype=torch.float32)
        self.register_buffer("control_mean", ctrl, persistent=False)  # from the data, rebuilt on load
        self.own_head: nn.Sequential | None = None
        if own_gene_head:
            # shared over genes; last layer zero, so an untrained model still predicts no change
            self.own_head = _mlp([hidden + 1, 32, 1], last_act=False)
            nn.init.zeros_(self.own_head[-1].weight)
            nn.init.zeros_(self.own_head[-1].bias)
        if mark_perturbed:
            self.perturbed_marker = nn.Parameter(torch.randn(hidden))
            # shared readout: what it learns about "a perturbed gene" holds for every gene; zero, so untrained = 0
            self.shared_w1 = nn.Parameter(torch.zeros(hidden))
        self.context_start = context_start
        self.mean_effect = (nn.Parameter(torch.as_tensor(mean_effect, dtype=torch.float32).clone())
                            if mean_effect is not None else None)
        if mean_effect is not None:  # the prior itself (the parameter above moves away from it in training)
            self.register_buffer("mean_prior", torch.as_tensor(mean_effect, dtype=torch.float32).clone(),
                                 persistent=False)
        # how much of the untrained prior (the mean effect) and of the learned change beyond it is predicted: 1 and
        # 1 in training, then fitted on the validation conditions (biodsnn.model.BioDSNN.fit, shrink_to_prior);
        # saved with the weights
        self.register_buffer("prior_scale", torch.ones(()))
        self.register_buffer("effect_scale", torch.ones(()))
        # the learned change beyond the prior is soft-thresholded at this level before scaling (0: kept as is):
        # a perturbation moves few genes, so small learned changes are mostly noise; fitted with the scales
        self.register_buffer("effect_threshold", torch.zeros(()))
        self.joint_w1: nn.Parameter | None = None
        self.compose_members = bool(compose_members) and not self.variant.additive_prior
        if self.compose_members:
            # the joint pass's own readout: zero, so an untrained model is exactly the sum of its members
            self.joint_w1 = nn.Parameter(torch.zeros(n_genes, hidden))
            self.joint_b1 = nn.Parameter(torch.zeros(n_genes))
        if self.variant.additive_prior:
            if single_effect is None or single_seen is None:
                raise InputError(f"variant {self.variant.name!r} needs the observed single effects; build it through "
                                 "biodsnn.model.BioDSNN")
            self.register_buffer("single_effect", torch.as_tensor(single_effect, dtype=torch.float32))
            self.register_buffer("single_seen", torch.as_tensor(single_seen, dtype=torch.bool))
            # interaction head: per gene, symmetric features of the members' single effects + the gene's level and
            # a small projection of its embedding -> a correction to A + B; last layer zero, so it starts at additive
            self.interaction_gene = nn.Linear(hidden, INTERACTION_GENE_DIM)
            self.interaction = _mlp([N_INTERACTION_FEATURES + INTERACTION_GENE_DIM, 32, 32, 1], last_act=False)
            nn.init.zeros_(self.interaction[-1].weight)
            nn.init.zeros_(self.interaction[-1].bias)

    # -- knowledge stream -------------------------------------------------------------------------------------------
    def gene_table(self, cells: torch.Tensor | float | None = None) -> torch.Tensor:
        """Condition-independent gene embeddings ``[G, hidden]`` (embedding + SGConv over the co-expression graph).

        ``cells``: with ``norm="batch"`` in training, the batch's cell count (GEARS repeats the table once per cell,
        which changes only the running variance's n / (n − 1)).
        """
        if self.norm == "batch":
            base = torch.relu(self.gene_norm(self.gene_emb.weight, cells))
            pos = self.gene_conv(self.pos_emb.weight, self.coexpr_edge_index, self.coexpr_weight)
            return self.gene_mlp(base + self.pos_weight * pos, cells)
        base = torch.relu(self.gene_norm(self.gene_emb.weight))
        pos = self.gene_conv(self.pos_emb.weight, self.coexpr_edge_index, self.coexpr_weight)
        return self.gene_mlp(base + self.pos_weight * pos)

    def perturbation_table(self) -> torch.Tensor:
        """Perturbation embeddings ``[n_perts, hidden]`` refined by SGConv over the GO graph."""
        return self.pert_conv(self.pert_emb.weight, self.go_edge_index, self.go_weight)

    def go_adjacency(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The GO graph's normalised adjacency as CSR arrays (:func:`normalised_adjacency`), built on first use.

        Kept while the ``go_edge_index`` / ``go_weight`` buffers are the same tensors, unchanged: ``.to()`` (another
        device or dtype) replaces them and an in-place edit bumps their version, and either rebuilds it, so the
        values always have the graph's current device and precision.
        """
        ei, w, cached = self.go_edge_index, self.go_weight, self._go_cache
        if cached is None or cached[0] is not ei or cached[1] != ei._version or cached[2] is not w \
                or cached[3] != w._version:
            cached = (ei, ei._version, w, w._version, normalised_adjacency(ei, w, self.n_perts))
            self._go_cache = cached
        crow, col, value = cached[4]
        return crow, col, value

    def perturbation_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """Rows ``[R, hidden]`` of :meth:`perturbation_table` without computing the others.

        ``SGConv`` with K=1 is ``lin(Â x)``, so a row needs only that row of the normalised GO adjacency Â
        (:meth:`go_adjacency`, built once): the sum of its neighbours' embeddings weighted by Â, then the layer's
        linear map and bias. Equal to ``perturbation_table()[rows]`` (values and gradients)
        up to float rounding; a step touches a few hundred edges instead of the whole graph.

        Example:
            >>> ei = torch.tensor([[0, 1], [1, 0]])
            >>> m = BioDSNNModule(3, 2, coexpr_edge_index=ei, go_edge_index=ei, mask_edge_index=ei, hidden=8)
            >>> rows = torch.tensor([1])
            >>> torch.allclose(m.perturbation_rows(rows), m.perturbation_table()[rows], atol=1e-6)
            True
        """
        crow, col, value = self.go_adjacency()
        rows = rows.to(crow.device, torch.long)
        start = crow[rows]
        counts = crow[rows + 1] - start
        local = torch.repeat_interleave(torch.arange(len(rows), device=rows.device), counts)  # output row per edge
        first = torch.cumsum(counts, 0) - counts  # where each row's edges start in the gathered list
        edge = start[local] + torch.arange(len(local), device=rows.device) - first[local]
        x = self.pert_emb.weight
        msg = value[edge].unsqueeze(-1) * x[col[edge]]
        agg = x.new_zeros(len(rows), x.shape[1]).index_add(0, local, msg)
        return self.pert_conv.lin(agg)

    def knowledge(self, cond_perts: torch.Tensor, count: torch.Tensor | None = None) -> torch.Tensor:
        """Per-gene effect ``[C, G]`` of each condition (a row of padded perturbation indices).

        Depends on the perturbation set only, so callers evaluate it once per distinct condition. ``count`` ``[C]``:
        each condition's cells in the training batch, which weight the BatchNorm statistics (``norm="batch"``; the
        effect then depends on the batch's other conditions, as in GEARS); None: each row once.

        ``additive_prior`` variants: a multi-gene condition c gets ``Σ_{p ∈ c} est(p) + H(c)``, where est(p) is
        the observed effect obs(p) of a single seen in training and the knowledge stream's K(p) otherwise (the
        additive prediction, with the stream standing in for singles that were never measured), and H is the
        interaction head: per gene it reads the sum, absolute sum, sum of squares and pairwise products of the
        est(p), the gene's control level and its embedding, so it can learn saturation and synergy from the
        training combinations. A single is K alone, so the stream learns single effects (and predicts unseen
        singles through GO and the perturbed-gene marker). Untrained (K = 0, H = 0) this is the sum of the
        observed single effects: the additive prediction.
        """
        if self.embedding_max_norm:  # GEARS reads every row of the three tables on every pass, and renorms them
            with torch.no_grad():
                for emb in (self.gene_emb, self.pos_emb, self.pert_emb):
                    rows = torch.arange(emb.num_embeddings, device=emb.weight.device)
                    torch.embedding_renorm_(emb.weight, rows, 1.0, 2.0)
        if self.compose_members:
            return self._with_mean(cond_perts, self._composed(cond_perts))
        if not self.variant.additive_prior:
            return self._with_mean(cond_perts, self._knowledge_stream(cond_perts, count=count))
        valid = cond_perts >= 0
        multi = valid.sum(1) >= 2
        rows, others = multi.nonzero(as_tuple=True)[0], (~multi).nonzero(as_tuple=True)[0]
        out = cond_perts.new_zeros(len(cond_perts), self.n_genes, dtype=self.gene_b1.dtype)
        if len(others):
            out = out.index_copy(0, others, self._knowledge_stream(cond_perts[others]))
        if len(rows) == 0:
            return out
        singles, inverse, member_row = _distinct_members(cond_perts[rows])  # member_row: index into `rows`
        seen = self.single_seen[singles]
        estimate = self.single_effect[singles]
        if not bool(seen.all()):  # the stream once per distinct unseen single
            unseen = (~seen).nonzero(as_tuple=True)[0]
            estimate = estimate.index_copy(0, unseen, self._knowledge_stream(singles[unseen].unsqueeze(1))
                                           .to(estimate.dtype))
        out = out.index_add(0, rows[member_row], estimate[inverse])
        return out.index_add(0, rows, self._interaction_head(estimate[inverse], member_row, len(rows)).to(out.dtype))

    def _split_context(self, cond_perts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The gene members of each row (context tokens padded out) and each row's context (−1: none)."""
        if self.context_start is None:
            return cond_perts, torch.full((len(cond_perts),), -1, dtype=torch.long, device=cond_perts.device)
        is_ctx = cond_perts >= self.context_start
        context = torch.where(is_ctx, cond_perts - self.context_start, -1).max(1).values if cond_perts.shape[1] \
            else torch.full((len(cond_perts),), -1, dtype=torch.long, device=cond_perts.device)
        return torch.where(is_ctx, -1, cond_perts), context

    def _with_mean(self, cond_perts: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """Add the per-context mean effect to every row that perturbs a gene (controls stay at no change), then
        scale the untrained prior by ``prior_scale`` a and what was learned beyond it, soft-thresholded at
        ``effect_threshold`` λ, by ``effect_scale`` b: a · prior + b · soft(effect − prior, λ), where
        soft(x, λ) = sign(x) · max(|x| − λ, 0)."""
        untouched = bool(self.effect_scale == 1) and bool(self.prior_scale == 1) and bool(self.effect_threshold == 0)
        if self.mean_effect is None:
            return out if untouched else self.effect_scale * soft_threshold(out, self.effect_threshold)
        genes, context = self._split_context(cond_perts)
        perturbed = ((genes >= 0).sum(1) > 0).to(out.dtype).unsqueeze(1)
        full = out + perturbed * self.mean_effect[context.clamp(min=0)]
        if untouched:
            return full
        prior = perturbed * self.mean_prior[context.clamp(min=0)]
        return self.prior_scale * prior + self.effect_scale * soft_threshold(full - prior, self.effect_threshold)

    def _composed(self, cond_perts: torch.Tensor) -> torch.Tensor:
        """``Σ_{p ∈ c} K({p}) + J(c)``: the stream once per distinct member, plus the joint pass J of each
        multi-gene condition through its own readout. With contexts a member is (gene, the row's context token)."""
        out = self.gene_b1.new_zeros(len(cond_perts), self.n_genes)  # the control: no change
        genes, context = self._split_context(cond_perts)
        if self.context_start is None:
            singles, inverse, owner = _distinct_members(genes)
            if len(singles) == 0:
                return out
            out = out.index_add(0, owner, self._knowledge_stream(singles.unsqueeze(1))[inverse].to(out.dtype))
        else:
            valid = genes >= 0
            owner = valid.nonzero(as_tuple=True)[0]
            token = torch.where(context >= 0, context + self.context_start, -1)
            pairs = torch.stack([genes[valid], token[owner]], 1)  # (gene, its row's context token)
            if len(pairs) == 0:
                return out
            distinct, inverse = torch.unique(pairs, dim=0, return_inverse=True)
            out = out.index_add(0, owner, self._knowledge_stream(distinct)[inverse].to(out.dtype))
        multi = ((genes >= 0).sum(1) >= 2).nonzero(as_tuple=True)[0]
        if len(multi):
            out = out.index_add(0, multi, self._knowledge_stream(cond_perts[multi], joint=True).to(out.dtype))
        return out

    def _interaction_head(self, effects: torch.Tensor, member_row: torch.Tensor, n_rows: int) -> torch.Tensor:
        """H for ``n_rows`` combinations from their members' single effects ``[N, G]`` (``member_row``: owner)."""
        def per_row(x: torch.Tensor) -> torch.Tensor:
            return x.new_zeros(n_rows, x.shape[1]).index_add(0, member_row, x)

        total, squares = per_row(effects), per_row(effects * effects)
        features = [total, per_row(effects.abs()), squares, 0.5 * (total * total - squares),
                    self.control_mean.expand(n_rows, -1)]
        gene = self.interaction_gene(self.gene_table())  # [G, d]
        x = torch.cat([torch.stack(features, -1), gene.unsqueeze(0).expand(n_rows, -1, -1)], -1)
        return self.interaction(x).squeeze(-1)

    def _knowledge_stream(self, cond_perts: torch.Tensor, joint: bool = False,
                          count: torch.Tensor | None = None) -> torch.Tensor:
        valid, index = cond_perts >= 0, cond_perts.clamp(min=0)
        needed, inverse = torch.unique(index, return_inverse=True)  # only the batch's rows
        perts = self.perturbation_rows(needed)[inverse] * valid.unsqueeze(-1)
        per_row = None if count is None else count.to(perts.dtype)  # BatchNorm weights (norm="batch", training)
        if self.norm == "batch":
            table = self.gene_table(None if per_row is None else per_row.sum())
            fused = self._fuse_perturbed(perts.sum(1), valid, per_row).to(table.dtype)
        else:
            table, fused = self.gene_table(), self.pert_fuse(perts.sum(1))  # [C, hidden]
        h = table.unsqueeze(0) + fused.unsqueeze(1)  # [C, G, hidden]
        rows = None if per_row is None else per_row[:, None]
        if self.perturbed_marker is not None or self.own_head is not None:
            cols = torch.where(valid, self.pert_gene[index], -1)
            row, member = (cols >= 0).nonzero(as_tuple=True)
            own = (row, cols[row, member])  # (condition, column) of each measured perturbed gene
        if self.perturbed_marker is not None:
            h = h.index_put(own, self.perturbed_marker.expand(len(row), -1).to(h.dtype), accumulate=True)
        h = torch.relu(self.fused_norm(h, rows) if self.norm == "batch" else self.fused_norm(h))
        if self.transformer is not None:
            h = self.transformer(h, self.mask_edge_index)
        h = self.recovery(h, rows)
        if joint:
            return (h * self.joint_w1).sum(-1) + self.joint_b1
        out = (h * self.gene_w1).sum(-1) + self.gene_b1  # [C, G]
        if self.shared_w1 is not None:
            out = out + h @ self.shared_w1
        if self.cross_gene is not None:
            cross = self.cross_gene(out, per_row)  # [C, hidden]
            cat = torch.cat([out.unsqueeze(-1), cross.unsqueeze(1).expand(-1, self.n_genes, -1)], dim=-1)
            out = (cat * self.gene_w2).sum(-1) + self.gene_b2
        if self.own_head is not None:
            features = torch.cat([h[own], self.control_mean[own[1]].unsqueeze(-1)], -1)
            out = out.index_put(own, self.own_head(features).squeeze(-1).to(out.dtype), accumulate=True)
        return out

    def _fuse_perturbed(self, summed: torch.Tensor, valid: torch.Tensor, per_row: torch.Tensor | None
                        ) -> torch.Tensor:
        """GEARS' fusion: ``pert_fuse`` of the summed embeddings of the rows that perturb something (a control row
        gets nothing added), its BatchNorm counting each row's cells; a lone perturbed cell is fed twice, as GEARS
        does (its BatchNorm needs two rows)."""
        perturbed = valid.any(1).nonzero(as_tuple=True)[0]
        fused = summed.new_zeros(summed.shape)
        if len(perturbed) == 0:
            return fused
        weight = None if per_row is None else per_row[perturbed]
        if self.training and (len(perturbed) if weight is None else float(weight.sum())) == 1:
            weight = summed.new_full((1,), 2.0)
        return fused.index_copy(0, perturbed, self.pert_fuse(summed[perturbed], weight).to(fused.dtype))

    # -- data stream + output ----------------------------------------------------------------------------------------
    def regenerate(self, control_x: torch.Tensor, generator: torch.Generator | None = None,
                   group: torch.Tensor | None = None) -> tuple[torch.Tensor, ControlVAE.Output | None]:
        """The control expression as the output's baseline: VAE-regenerated, or as is without a VAE.

        ``group`` ``[B]`` (with ``recentre_vae``): each cell's context, when one call holds cells of several
        (mixed batches); each context's cells are recentred on their own mean. None: one context.
        """
        if self.vae is None:
            return control_x, None
        out = self.vae(control_x, generator)
        recon = out.recon.detach() if self.detach_vae_baseline else out.recon
        if self.recentre_vae:
            nonzero = (control_x != 0).to(recon.dtype)
            if group is None or bool((group == group[0]).all()):
                shift = ((control_x - recon) * nonzero).sum(0) / nonzero.sum(0).clamp(min=1)
                recon = recon + shift * nonzero
            else:
                ids, local = torch.unique(group, return_inverse=True)
                diff = recon.new_zeros(len(ids), recon.shape[1]).index_add(0, local, (control_x - recon) * nonzero)
                hits = recon.new_zeros(len(ids), recon.shape[1]).index_add(0, local, nonzero)
                recon = recon + (diff / hits.clamp(min=1))[local] * nonzero
        return recon, out

    def forward(self, control_x: torch.Tensor, cond_perts: torch.Tensor, cell_condition: torch.Tensor,
                generator: torch.Generator | None = None) -> ModuleOutput:
        """Predict ``[B, G]``: regenerated control + each cell's condition effect (computed once per condition).

        A batch may hold several conditions (and contexts); with ``norm="batch"`` in training their cell counts weight
        the BatchNorm statistics, as GEARS' per-cell rows do.
        """
        group = None
        if self.recentre_vae and self.context_start is not None:  # mixed batches: recentre each context on its own
            group = self._split_context(cond_perts)[1][cell_condition]
        base, vae_out = self.regenerate(control_x, generator, group)
        count = (torch.bincount(cell_condition, minlength=len(cond_perts))
                 if self.norm == "batch" and self.training else None)
        effect = self.knowledge(cond_perts, count)
        return ModuleOutput(base + effect[cell_condition], effect, vae_out)
