"""Hand-off to cell-eval (Arc Institute's evaluator): files it scores as they are, and a way to run it.

cell-eval (``cell-eval run -ap pred.h5ad -ar real.h5ad``) reads two AnnData files with the same genes in the same
order, one perturbation column (``target_gene``) holding the same labels in both, a control label
(``non-targeting``) present in both, and log1p-normalised X. It averages each file's cells per label
(pseudobulk) and scores the predicted against the real means; its changes are each file's mean minus **that
file's** control mean. So both files here carry the same control cells: the real ones, copied unchanged into the
prediction (the model is not asked to predict control), which makes cell-eval's change the same as ours
(mean − real control mean).

* :func:`export_real` writes the real side: the test conditions' cells and the control cells of the data.
* :func:`predict_cells` writes the predicted side from any :class:`~biodsnn.evaluate.Predictor` (models and
  baselines alike): ``cells_per_condition`` cells per test condition, each a control cell shifted so that the
  condition's cells average exactly to the predicted mean (see :func:`shift_to_mean`), plus the control cells.
* :func:`run_cell_eval` runs cell-eval's ``MetricsEvaluator`` from Python (cell-eval is an optional extra,
  imported only here).

Contexts: when the data has several contexts (its units are ``CONTEXT|A+B``), both files get a ``celltype`` column
(cell-eval's ``--celltype-col celltype``), every unit is written in its context with that context's own control
cells, and its predicted mean is the predictor's (which predicts each unit on its own context's control). Data
loaded as one context whose ``context_key`` column still holds several values gets each context's control mean
plus the predicted change from the pooled control.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from biodsnn.data import CONVENTIONS, parse_condition
from biodsnn.data.conditions import split_context
from reactomenet.errors import InputError
from reactomenet.io import atomic_output

#: cell-eval's perturbation column and control label (its ``DEFAULT_PERT_COL`` / ``DEFAULT_CTRL``).
PERT_COL = CONVENTIONS["cell-eval"]["condition_key"]
CONTROL_LABEL = CONVENTIONS["cell-eval"]["control_label"]
#: The column cell-eval's docs and examples use for ``--celltype-col``.
CELLTYPE_COL = "celltype"
#: The obs column of our data that names a cell's context (cell line / type).
CONTEXT_KEY = "cell_type"
DEFAULT_CELLS_PER_CONDITION = 100
#: Shifts below this (log1p units) are rounding of float32 means, not predicted changes (see shift_to_mean).
SHIFT_ROUNDING = 1e-6
INSTALL_HINT = "pip install 'biodsnn[celleval]' (or pip install cell-eval)"


def celleval_label(condition: str, *, control_label: str = CONTROL_LABEL, delimiter: str = "+") -> str:
    """The label of one canonical condition in a cell-eval file: the gene(s) perturbed, or the control label.

    Example:
        >>> [celleval_label(c) for c in ("ctrl", "ETS2+ctrl", "CEBPB+FOSB")]
        ['non-targeting', 'ETS2', 'CEBPB+FOSB']
    """
    genes = parse_condition(condition)
    return delimiter.join(genes) if genes else control_label


def _contexts(data: Any, context_key: str | None) -> np.ndarray | None:
    """Each cell's context, or None when the data has one context (no such column, or one value)."""
    if getattr(data, "contexts", [None]) != [None]:  # the loader's units carry their context already
        return data.adata.obs["context"].astype(str).to_numpy()
    if not context_key or context_key not in data.adata.obs.columns:
        return None
    values = data.adata.obs[context_key].astype(str).to_numpy()
    return values if len(pd.unique(values)) > 1 else None


def _plan(data: Any, conditions: Sequence[str], context_key: str | None) -> tuple[np.ndarray | None, list[tuple]]:
    """The (context, condition, real rows, control rows) units to write, in a fixed order.

    One context: one unit per condition with every control cell. Several: one unit per (context, condition) that
    has real cells, with that context's control cells; a context without control cells is refused.
    """
    known = set(data.conditions)
    missing = [c for c in conditions if c not in known]
    if missing:
        raise InputError(f"conditions not in the data: {', '.join(missing[:5])}; was the split made for this data?")
    if not conditions:
        raise InputError("no test conditions to write; choose a split with a test set")
    ctx = _contexts(data, context_key)
    ctrl = np.asarray(data.control_cells, dtype=np.int64)
    if ctx is None:
        return None, [(None, c, np.asarray(data.cells_of(c), dtype=np.int64), ctrl) for c in conditions]
    units = []
    for context in sorted(pd.unique(ctx)):
        ctrl_here = ctrl[ctx[ctrl] == context]
        cond_here = [(c, rows[ctx[rows] == context]) for c in conditions
                     for rows in [np.asarray(data.cells_of(c), dtype=np.int64)]]
        cond_here = [(c, rows) for c, rows in cond_here if len(rows)]
        if cond_here and not len(ctrl_here):
            raise InputError(f"context {context!r} has test cells but no control cells; cell-eval needs each "
                             "context's own controls: drop that context or add its control cells")
        units.extend((context, c, rows, ctrl_here) for c, rows in cond_here)
    return ctx, units


def _dense(x: Any) -> np.ndarray:
    return np.asarray(x.toarray() if sp.issparse(x) else x, dtype=np.float64)


def _control_blocks(units: list[tuple]) -> list[tuple[Any, np.ndarray]]:
    """(context, control rows) once per context, in the order the units first name them."""
    seen: dict[Any, np.ndarray] = {}
    for context, _, _, ctrl in units:
        seen.setdefault(context, ctrl)
    return list(seen.items())


def _frame(labels: list[str], contexts: list[Any] | None, pert_col: str, names: list[str],
           extra: dict[str, list[str]] | None = None) -> pd.DataFrame:
    obs = pd.DataFrame({pert_col: pd.Categorical(labels)}, index=pd.Index(names))
    if contexts is not None:
        obs[CELLTYPE_COL] = pd.Categorical([str(c) for c in contexts])
    for k, v in (extra or {}).items():
        obs[k] = v
    return obs


def _check_names(pert_col: str, control_label: str) -> None:
    if not pert_col or not control_label:
        raise InputError("the perturbation column and the control label must not be empty; "
                         f"cell-eval's are {PERT_COL!r} and {CONTROL_LABEL!r}")
    if pert_col == CELLTYPE_COL:
        raise InputError(f"the perturbation column cannot be {CELLTYPE_COL!r} (it holds the contexts); choose another")


def export_real(data: Any, split: Any, *, conditions: Sequence[str] | None = None, pert_col: str = PERT_COL,
                control_label: str = CONTROL_LABEL, context_key: str | None = CONTEXT_KEY) -> Any:
    """The real side of a cell-eval comparison: the test conditions' cells and the control cells, unchanged.

    Args:
        data: a :class:`biodsnn.data.PerturbData`.
        split: a :class:`biodsnn.data.Split` (its ``test`` conditions are written).
        conditions: conditions to write instead of ``split.test``.
        pert_col: obs column of the labels (cell-eval's ``--pert-col``).
        control_label: label of control cells (cell-eval's ``--control-pert``).
        context_key: obs column naming each cell's context; with more than one value, written as ``celltype``.

    Returns:
        AnnData: X float32 (sparse when the data is), ``var_names`` the data's genes in its order, obs
        ``pert_col`` (and ``celltype``), control cells first.

    Example:
        >>> from biodsnn.data import simulate, load_perturb_data, make_split
        >>> data = load_perturb_data(simulate(preset="tiny", seed=0, progress=False))
        >>> split = make_split(data.conditions, kind="simulation", seed=1)
        >>> real = export_real(data, split)
        >>> sorted(set(real.obs["target_gene"])) == sorted({celleval_label(c) for c in split.test} | {"non-targeting"})
        True
    """
    import anndata

    _check_names(pert_col, control_label)
    conds = list(split.test if conditions is None else conditions)
    ctx, units = _plan(data, conds, context_key)
    delim = data.options.get("delimiter") or "+"
    rows: list[np.ndarray] = [ctrl for _, ctrl in _control_blocks(units)]
    labels = [control_label] * sum(len(r) for r in rows)
    for _, cond, real_rows, _ in units:
        rows.append(real_rows)
        labels += [celleval_label(cond, control_label=control_label, delimiter=delim)] * len(real_rows)
    order = np.concatenate(rows)
    x = data.X[order]
    x = sp.csr_matrix(x, dtype=np.float32) if sp.issparse(x) else np.asarray(x, dtype=np.float32)
    names = [str(n) for n in np.asarray(data.adata.obs_names)[order]]
    if len(set(names)) != len(names):
        names = [f"real_{i}" for i in range(len(order))]
    obs = _frame(labels, None if ctx is None else list(ctx[order]), pert_col, names)
    var = pd.DataFrame(index=pd.Index(list(data.genes), name="gene"))
    uns = {"biodsnn": {"side": "real", "data_fingerprint": data.fingerprint,
                       "split_fingerprint": getattr(split, "fingerprint", None) or "", "pert_col": pert_col,
                       "control_label": control_label}}
    return anndata.AnnData(X=x, obs=obs, var=var, uns=uns)


def shift_to_mean(cells: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Shift each gene's column of ``cells`` by one constant so that, clipped at 0, it averages to ``target``.

    For each gene the shift ``s`` solves ``mean(max(x + s, 0)) = target`` (it exists and is unique for any
    ``target > 0``; a target ≤ 0 gives zeros, the nearest non-negative mean). The cells keep their spread where
    they stay positive, values stay log1p-like (non-negative, no larger than the largest cell plus the shift), and
    the mean is exact, so cell-eval's pseudobulk of the written cells is the predicted mean. A shift smaller than
    ``SHIFT_ROUNDING`` (1e-6) is float32 rounding of the means and is not applied: a no-change prediction then
    writes the control cells themselves, which cell-eval's rank tests would otherwise call changed.

    Args:
        cells: ``(n_cells, n_genes)`` non-negative expression (control cells).
        target: ``(n_genes,)`` wanted means.

    Returns:
        ``(n_cells, n_genes)`` float64.

    Example:
        >>> x = np.array([[0.0, 1.0], [2.0, 3.0]])
        >>> shift_to_mean(x, np.array([0.5, 3.0])).tolist()   # gene 1: one cell stays at 0; gene 2: +1 each
        [[0.0, 2.0], [1.0, 4.0]]
    """
    x = np.asarray(cells, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    if x.ndim != 2 or t.shape != (x.shape[1],):
        raise InputError(f"cells {x.shape} and target {t.shape} do not fit: one target per gene (column)")
    n = x.shape[0]
    if n == 0:
        raise InputError("no control cells to shape predicted cells from; the data needs control cells")
    xs = -np.sort(-x, axis=0)  # each column descending
    k = np.arange(1, n + 1, dtype=np.float64)[:, None]
    shift = (n * t[None, :] - np.cumsum(xs, axis=0)) / k  # the shift if exactly the top k cells stay positive
    nxt = np.vstack([xs[1:], np.full((1, x.shape[1]), -np.inf)])
    scale = np.maximum(np.abs(xs).max(axis=0), 1.0) * 1e-12
    ok = (xs + shift > -scale) & (nxt + shift <= scale)
    first = np.where(ok.any(axis=0), ok.argmax(axis=0), n - 1)
    s = shift[first, np.arange(x.shape[1])]
    s[np.abs(s) < SHIFT_ROUNDING] = 0.0  # float32 rounding of the means, not a predicted change
    out = np.maximum(x + s[None, :], 0.0)
    out[:, t <= 0] = 0.0
    return out


def predict_cells(predictor: Any, data: Any, split: Any, *, conditions: Sequence[str] | None = None,
                  cells_per_condition: int = DEFAULT_CELLS_PER_CONDITION, seed: int = 0, pert_col: str = PERT_COL,
                  control_label: str = CONTROL_LABEL, context_key: str | None = CONTEXT_KEY) -> Any:
    """The predicted side of a cell-eval comparison, from any Predictor (a model or a baseline).

    Per test condition (per context, when there are several), ``cells_per_condition`` control cells of that
    context are drawn (seeded; with replacement only when there are fewer) and shifted gene by gene to average to
    the predicted mean (:func:`shift_to_mean`); then the context's real control cells are appended unchanged, the
    same cells :func:`export_real` writes, so that cell-eval's predicted change uses the real control mean as ours
    does. Predicted means below 0 (impossible in log1p space) are written as 0 and counted in
    ``uns['biodsnn']['negative_means_clipped']``.

    Args:
        predictor: anything with ``name`` and ``predict_means(conditions)``.
        data: the :class:`biodsnn.data.PerturbData` the predictor was fitted on.
        split: its :class:`biodsnn.data.Split` (``test`` conditions are predicted).
        conditions: conditions to write instead of ``split.test``.
        cells_per_condition: predicted cells per condition (and context).
        seed: seed of the control-cell draw.
        pert_col: obs column of the labels.
        control_label: label of control cells.
        context_key: obs column naming each cell's context; with more than one value, written as ``celltype``.

    Returns:
        AnnData, X float32 (dense), ``var_names`` in the data's gene order; obs ``pert_col``, ``source_cell`` (the
        control cell a row was shaped from) and ``celltype`` when there are several contexts.

    Example:
        >>> from biodsnn.baselines import get_baseline
        >>> from biodsnn.data import simulate, load_perturb_data, make_split
        >>> data = load_perturb_data(simulate(preset="tiny", seed=0, progress=False))
        >>> split = make_split(data.conditions, kind="simulation", seed=1)
        >>> pred = predict_cells(get_baseline("additive")(data, split).fit(), data, split, cells_per_condition=5)
        >>> pred.n_obs == 5 * len(split.test) + len(data.control_cells)
        True
    """
    import anndata

    _check_names(pert_col, control_label)
    if int(cells_per_condition) < 1:
        raise InputError(f"cells per condition must be at least 1, got {cells_per_condition}")
    conds = list(split.test if conditions is None else conditions)
    ctx, units = _plan(data, conds, context_key)
    means = np.asarray(predictor.predict_means(conds), dtype=np.float64)
    if means.shape != (len(conds), len(data.genes)):
        raise InputError(f"predictor {getattr(predictor, 'name', '?')!r} returned shape {means.shape}, "
                         f"expected {(len(conds), len(data.genes))}")
    if not np.isfinite(means).all():
        raise InputError(f"predictor {getattr(predictor, 'name', '?')!r} predicted NaN or infinite values; "
                         "check the model")
    pos = {c: i for i, c in enumerate(conds)}
    pooled = np.asarray(data.control_mean, dtype=np.float64)
    delim = data.options.get("delimiter") or "+"
    rng = np.random.default_rng(seed)
    obs_names = np.asarray(data.adata.obs_names).astype(str)
    blocks: list[np.ndarray] = []
    labels: list[str] = []
    contexts: list[Any] = []
    sources: list[str] = []
    ctrl_means: dict[Any, np.ndarray] = {}
    clipped = 0
    n = int(cells_per_condition)
    for context, cond, _, ctrl in units:
        target = means[pos[cond]]
        if context is not None and split_context(cond)[0] is None:  # the predicted change on the context's control
            if context not in ctrl_means:
                ctrl_means[context] = _dense(data.X[ctrl]).mean(axis=0)
            target = ctrl_means[context] + (target - pooled)
        clipped += int((target < 0).sum())
        drawn = np.sort(rng.choice(ctrl, size=n, replace=n > len(ctrl)))
        blocks.append(shift_to_mean(_dense(data.X[drawn]), target).astype(np.float32))
        labels += [celleval_label(cond, control_label=control_label, delimiter=delim)] * n
        contexts += [context] * n
        sources += obs_names[drawn].tolist()
    for context, ctrl in _control_blocks(units):
        blocks.append(_dense(data.X[ctrl]).astype(np.float32))
        labels += [control_label] * len(ctrl)
        contexts += [context] * len(ctrl)
        sources += obs_names[ctrl].tolist()
    x = np.vstack(blocks)
    obs = _frame(labels, None if ctx is None else contexts, pert_col, [f"pred_{i}" for i in range(len(labels))],
                 {"source_cell": sources})
    var = pd.DataFrame(index=pd.Index(list(data.genes), name="gene"))
    uns = {"biodsnn": {"side": "pred", "model": str(getattr(predictor, "name", "")), "seed": int(seed),
                       "cells_per_condition": n, "negative_means_clipped": clipped,
                       "data_fingerprint": data.fingerprint,
                       "split_fingerprint": getattr(split, "fingerprint", None) or "", "pert_col": pert_col,
                       "control_label": control_label}}
    return anndata.AnnData(X=x, obs=obs, var=var, uns=uns)


def check_output(path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Refuse an output path that is a folder, or an existing file unless ``overwrite``.

    Example:
        >>> import tempfile
        >>> check_output(tempfile.mkdtemp() + "/pred.h5ad").name
        'pred.h5ad'
    """
    target = Path(path)
    if target.is_dir():
        raise InputError(f"{target} is a folder; give a file path ending in .h5ad")
    if target.exists() and not overwrite:
        raise InputError(f"{target} exists; pass --overwrite (overwrite=True) or choose another path")
    return target


def write_h5ad(adata: Any, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write ``adata`` atomically; an existing file is refused unless ``overwrite`` (see :func:`check_output`).

    Example:
        >>> # write_h5ad(predict_cells(model, data, split), "pred.h5ad")
    """
    target = check_output(path, overwrite=overwrite)
    with atomic_output(target, suffix=".h5ad") as tmp:
        adata.write_h5ad(tmp)
    return target


def import_cell_eval() -> Any:
    """Import cell-eval (an optional extra) or say how to install it.

    Example:
        >>> # MetricsEvaluator = import_cell_eval().MetricsEvaluator
    """
    try:
        import cell_eval
    except ImportError as exc:
        raise InputError(f"cell-eval is not installed ({exc}); {INSTALL_HINT}") from None
    return cell_eval


def cell_eval_version() -> str:
    """The installed cell-eval version ('' when it is not installed).

    Example:
        >>> isinstance(cell_eval_version(), str)
        True
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cell-eval")
    except PackageNotFoundError:
        return ""


def run_cell_eval(pred: str | os.PathLike[str] | Any, real: str | os.PathLike[str] | Any,
                  outdir: str | os.PathLike[str], *, pert_col: str = PERT_COL, control_label: str = CONTROL_LABEL,
                  profile: str = "full", num_threads: int = 1, celltype_col: str | None = None,
                  skip_de: bool | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run cell-eval's ``MetricsEvaluator`` on a predicted and a real file, as ``cell-eval run`` does.

    Args:
        pred: predicted ``.h5ad`` (or AnnData), e.g. from :func:`predict_cells`.
        real: real ``.h5ad`` (or AnnData), e.g. from :func:`export_real`.
        outdir: cell-eval's output folder (its ``results.csv``, ``agg_results.csv`` and DE tables).
        pert_col: cell-eval's ``--pert-col``.
        control_label: cell-eval's ``--control-pert``.
        profile: cell-eval's ``--profile`` (``full``, ``minimal``, ``vcc``, ``de``, ``anndata``, ``pds``).
        num_threads: threads of its DE step.
        celltype_col: score each context separately (cell-eval's ``--celltype-col``); None: one context.
        skip_de: skip cell-eval's DE step and the metrics built on it (default: only for the ``pds`` profile, as
            ``cell-eval run`` does).

    Returns:
        ``(results, aggregate)`` as pandas: per perturbation (a ``perturbation`` column and one column per
        metric) and cell-eval's aggregate (a ``statistic`` column: count, mean, std, min, quartiles, max), each with
        a ``celltype`` column when ``celltype_col`` is given.

    Example:
        >>> # results, agg = run_cell_eval("pred.h5ad", "real.h5ad", "cell-eval-out/")
    """
    ce = import_cell_eval()
    import anndata
    from cell_eval.utils import split_anndata_on_celltype

    known = list(getattr(ce, "KNOWN_PROFILES", ["full", "minimal", "vcc", "de", "anndata", "pds"]))
    if profile not in known:
        raise InputError(f"unknown cell-eval profile {profile!r}; choose one of {', '.join(known)}")
    read = {}
    for side, obj in (("pred", pred), ("real", real)):
        if isinstance(obj, (str, os.PathLike)):
            if not Path(obj).exists():
                raise InputError(f"{obj} does not exist; write it with `biodsnn predict/data export --format "
                                 "cell-eval`")
            obj = anndata.read_h5ad(obj)
        read[side] = obj
    pairs: list[tuple[str | None, Any, Any]]
    if celltype_col:
        for side, a in read.items():
            if celltype_col not in a.obs.columns:
                raise InputError(f"the {side} file has no obs column {celltype_col!r}; drop the cell-type option")
        real_split = split_anndata_on_celltype(read["real"], celltype_col)
        pred_split = split_anndata_on_celltype(read["pred"], celltype_col)
        if set(real_split) != set(pred_split):
            raise InputError("the predicted and real files hold different contexts; write them from the same "
                             "data and split")
        pairs = [(str(ct), pred_split[ct], real_split[ct]) for ct in sorted(real_split)]
    else:
        pairs = [(None, read["pred"], read["real"])]
    results, aggs = [], []  # cell-eval makes outdir itself
    for ct, p, r in pairs:
        try:
            evaluator = ce.MetricsEvaluator(adata_pred=p, adata_real=r, control_pert=control_label,
                                            pert_col=pert_col, num_threads=int(num_threads), outdir=str(outdir),
                                            prefix=ct, skip_de=profile == "pds" if skip_de is None else skip_de)
            res, agg = evaluator.compute(profile=profile)
        except ValueError as exc:  # cell-eval's own checks (labels, genes, scale): the files do not pair
            raise InputError(f"cell-eval refused the files: {exc}") from None
        res, agg = res.to_pandas(), agg.to_pandas()
        if ct is not None:
            res.insert(0, CELLTYPE_COL, ct)
            agg.insert(0, CELLTYPE_COL, ct)
        results.append(res)
        aggs.append(agg)
    return pd.concat(results, ignore_index=True), pd.concat(aggs, ignore_index=True)


#: cell-eval's metrics that ours compute too, and our registered metric of the same definition.
SHARED_METRICS: dict[str, str] = {
    "pearson_delta": "pearson_delta",
    "mse": "mse",
    "mae": "mae",
    "discrimination_score_l1": "pds_l1_celleval",
}


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "+-_." else "_" for ch in name)


def score_with_cell_eval(predictors: Sequence[Any], data: Any, split: Any, out_dir: str | os.PathLike[str], *,
                         cells_per_condition: int = DEFAULT_CELLS_PER_CONDITION, seed: int = 0,
                         profile: str = "full", num_threads: int = 1, pert_col: str = PERT_COL,
                         control_label: str = CONTROL_LABEL, context_key: str | None = CONTEXT_KEY,
                         ) -> pd.DataFrame:
    """Write ``real.h5ad`` and one ``pred_<model>.h5ad`` per predictor into ``out_dir`` and score each with cell-eval.

    cell-eval's own outputs go to ``out_dir/<model>/``. Nothing is written when cell-eval cannot be imported.

    Args:
        predictors: models and baselines (``name``, ``predict_means``).
        data: their :class:`biodsnn.data.PerturbData`.
        split: their :class:`biodsnn.data.Split`.
        out_dir: folder for the files (created).
        cells_per_condition: predicted cells per condition.
        seed: seed of the control-cell draw.
        profile: cell-eval's metric profile.
        num_threads: threads of cell-eval's DE step.
        pert_col: label column of the files.
        control_label: control label of the files.
        context_key: obs column of the contexts (``celltype`` in the files when several).

    Returns:
        cell-eval's aggregate table of every predictor: columns ``model`` (``celltype`` with several contexts),
        ``statistic`` and one per cell-eval metric.

    Example:
        >>> # agg = score_with_cell_eval([model, additive], data, split, "report/cell-eval")
    """
    import_cell_eval()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    real = export_real(data, split, pert_col=pert_col, control_label=control_label, context_key=context_key)
    real_path = write_h5ad(real, out / "real.h5ad", overwrite=True)
    celltype = CELLTYPE_COL if CELLTYPE_COL in real.obs.columns else None
    tables = []
    for p in predictors:
        name = str(p.name)
        pred = predict_cells(p, data, split, cells_per_condition=cells_per_condition, seed=seed, pert_col=pert_col,
                             control_label=control_label, context_key=context_key)
        pred_path = write_h5ad(pred, out / f"pred_{_safe(name)}.h5ad", overwrite=True)
        _, agg = run_cell_eval(pred_path, real_path, out / _safe(name), pert_col=pert_col,
                               control_label=control_label, profile=profile, num_threads=num_threads,
                               celltype_col=celltype)
        agg.insert(0, "model", name)
        tables.append(agg)
    return pd.concat(tables, ignore_index=True)


def side_by_side(celleval_agg: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """cell-eval's means and ours of the shared metrics, one row per model (contexts pooled by their mean).

    Args:
        celleval_agg: from :func:`score_with_cell_eval`.
        summary: ``EvaluationResult.summary`` (overall, observed rows are used).

    Returns:
        columns ``model``, then ``<metric> (cell-eval)`` and ``<our metric> (ours)`` for each shared metric.

    Example:
        >>> # side_by_side(agg, result.summary)
    """
    means = celleval_agg[celleval_agg["statistic"] == "mean"]
    ours = summary[(summary.subgroup == "overall") & (summary.reference == "observed")]
    rows = []
    for model, g in means.groupby("model", sort=False):
        row: dict[str, Any] = {"model": model}
        for theirs, mine in SHARED_METRICS.items():
            row[f"{theirs} (cell-eval)"] = float(g[theirs].mean()) if theirs in g else float("nan")
            hit = ours[(ours.model == model) & (ours.metric == mine)]
            row[f"{mine} (ours)"] = float(hit["mean"].iloc[0]) if len(hit) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def markdown_frame(frame: pd.DataFrame, digits: int = 4) -> str:
    """A small DataFrame as a Markdown table (numbers to ``digits`` significant digits, NaN as —).

    Example:
        >>> print(markdown_frame(pd.DataFrame({"model": ["a"], "mse": [0.123456]})))
        | model | mse |
        |---|---:|
        | a | 0.1235 |
    """
    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "—" if not np.isfinite(v) else f"{float(v):.{digits}g}"
        return str(v)

    cols = [str(c) for c in frame.columns]
    align = ["---" if not pd.api.types.is_numeric_dtype(frame[c]) else "---:" for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


__all__ = [
    "CELLTYPE_COL",
    "CONTEXT_KEY",
    "CONTROL_LABEL",
    "DEFAULT_CELLS_PER_CONDITION",
    "PERT_COL",
    "SHARED_METRICS",
    "cell_eval_version",
    "celleval_label",
    "check_output",
    "export_real",
    "import_cell_eval",
    "markdown_frame",
    "predict_cells",
    "run_cell_eval",
    "score_with_cell_eval",
    "shift_to_mean",
    "side_by_side",
    "write_h5ad",
]
