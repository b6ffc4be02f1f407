"""GEARS' training loss, vectorised: autofocus + direction, averaged per perturbation condition."""

from __future__ import annotations

import torch

from reactomenet.errors import InputError


def perturbation_loss(pred: torch.Tensor, target: torch.Tensor, ctrl_mean: torch.Tensor, cell_condition: torch.Tensor,
                      keep: torch.Tensor, *, gamma: float = 2.0, direction_weight: float = 0.1,
                      autofocus_weight: float = 1.0, direction_sharpness: float = 10.0,
                      level: str = "cell") -> torch.Tensor:
    """Autofocus |err|^(2+γ) plus λ · direction loss, each averaged over a condition's cells × kept genes, then over
    the batch's conditions (GEARS' ``loss_fct``, without its Python loop over perturbations).

    ``keep[c]`` marks the genes that enter condition c's loss: GEARS' ``non_zeros_gene_idx``, the genes whose mean
    expression over the condition's cells is non-zero. The direction term compares sign(true − ctrl) with
    tanh(s · (pred − ctrl)): GEARS' ``sign(pred − ctrl)`` has a zero gradient everywhere, so its direction term never
    trained anything; tanh with sharpness s is the differentiable stand-in (→ sign as s → ∞).

    ``level="mean"`` (not GEARS) first averages the predictions and the targets over each condition's cells in the
    batch and applies the same formula to those means (one "cell" per condition). On zero-inflated single-cell data
    the per-cell form is biased as an estimator of the mean: the minimiser of E|t − p|^4 over a cell's target t lies
    between the mean and the mid-range, and sign(t − ctrl) is mostly "down" wherever t dropped out; the evaluation
    compares means.

    Args:
        pred: predictions ``[B, G]``. target: observed ``[B, G]``.
        ctrl_mean: control mean ``[G]``, or ``[n_cond, G]`` (each condition's own control, e.g. its context's).
        cell_condition: ``[B]`` index of each cell's condition in ``keep``. keep: ``[C, G]`` bool.
        level: ``"cell"`` (GEARS) or ``"mean"`` (per-condition means).

    Example:
        >>> p = torch.zeros(2, 3); t = torch.ones(2, 3); c = torch.zeros(3)
        >>> keep = torch.ones(1, 3, dtype=torch.bool)
        >>> round(float(perturbation_loss(p, t, c, torch.tensor([0, 0]), keep, direction_weight=0.0)), 4)
        1.0
    """
    n_cond = keep.shape[0]
    if level == "mean":
        count = pred.new_zeros(n_cond).index_add_(0, cell_condition, torch.ones_like(cell_condition, dtype=pred.dtype))
        present = (count > 0).nonzero().flatten()
        pred = pred.new_zeros(n_cond, pred.shape[1]).index_add_(0, cell_condition, pred)[present]
        target = target.new_zeros(n_cond, target.shape[1]).index_add_(0, cell_condition, target)[present]
        pred, target = pred / count[present, None], target / count[present, None]
        if ctrl_mean.dim() == 2:
            ctrl_mean = ctrl_mean[present]
        keep, cell_condition, n_cond = keep[present], torch.arange(len(present), device=pred.device), len(present)
    elif level != "cell":
        raise InputError(f"unknown loss level {level!r}: choose 'cell' (GEARS) or 'mean'")
    if ctrl_mean.dim() == 2:  # one control per condition (its context's)
        ctrl_mean = ctrl_mean[cell_condition]
    keep_cells = keep[cell_condition].to(pred.dtype)  # [B, G]
    err = (pred - target).abs().pow(2.0 + gamma) * keep_cells
    true_dir = torch.sign(target - ctrl_mean)
    pred_dir = torch.tanh(direction_sharpness * (pred - ctrl_mean))
    direction = (true_dir - pred_dir).pow(2) * keep_cells
    per_cell = autofocus_weight * err.sum(1) + direction_weight * direction.sum(1)
    per_cond = pred.new_zeros(n_cond).index_add_(0, cell_condition, per_cell)
    n_cells = pred.new_zeros(n_cond).index_add_(0, cell_condition, torch.ones_like(per_cell))
    n_genes = keep.sum(1).to(pred.dtype).clamp(min=1)
    present = n_cells > 0
    return (per_cond[present] / (n_cells[present] * n_genes[present])).mean()
