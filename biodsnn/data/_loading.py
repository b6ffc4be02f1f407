"""Loading perturbation AnnData files in GEARS, PerturBench, pertpy or cell-eval conventions."""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from biodsnn.data._backed import BackedMatrix, block_rows, is_backed, is_zarr, open_store, read_shell, row_blocks
from biodsnn.data._normalize import normalize_log1p
from biodsnn.data.conditions import (
    CONTEXT_SEP,
    CONTROL,
    DELIMITER,
    canonical_condition,
    delimiter_hint,
    format_condition,
    format_unit,
    parse_condition,
    split_context,
)
from reactomenet.errors import InputError, NotFoundError, did_you_mean

if TYPE_CHECKING:
    import anndata

Convention = Literal["gears", "perturbench", "pertpy", "cell-eval"]

#: Column holding the condition, and the control label, of each supported convention.
CONVENTIONS: dict[str, dict[str, str]] = {
    "gears": {"condition_key": "condition", "control_label": "ctrl", "delimiter": "+"},
    "perturbench": {"condition_key": "condition", "control_label": "control", "delimiter": "+"},
    "pertpy": {"condition_key": "perturbation", "control_label": "control", "delimiter": "+"},
    "cell-eval": {"condition_key": "target_gene", "control_label": "non-targeting", "delimiter": "+"},
}

#: The obs column read as the context (cell type or line) when the user names none; absent = one context.
CONTEXT_KEY = "cell_type"
#: Where the simulator stores the noise-free truth (see docs/data.md).
TRUTH_KEY = "biodsnn_truth"
_COUNTS_MAX = 30.0  # log1p(1e4 * 1) ~ 9.2: larger integer values mean raw counts


@dataclass(frozen=True)
class PerturbableReport:
    """Which perturbed genes a gene universe (e.g. a bundle's perturbable genes) does not know.

    Attributes:
        unknown_genes: Perturbed genes absent from the universe, sorted.
        predictable: Conditions whose genes are all known (a model can predict them).
        unpredictable: Conditions with at least one unknown gene.
    """

    unknown_genes: list[str]
    predictable: list[str]
    unpredictable: list[str]

    @property
    def ok(self) -> bool:
        """True when every perturbed gene is known."""
        return not self.unknown_genes

    def message(self, limit: int = 10) -> str:
        """One line naming the unknown genes and how many conditions can still be predicted."""
        shown = ", ".join(self.unknown_genes[:limit]) + (" …" if len(self.unknown_genes) > limit else "")
        return (
            f"{len(self.unknown_genes)} perturbed gene(s) unknown to the knowledge graph ({shown}): "
            f"{len(self.unpredictable)} condition(s) cannot be predicted, {len(self.predictable)} still can; "
            "drop those conditions or rebuild the knowledge bundle with these genes"
            + (delimiter_hint(self.unknown_genes[0]) if self.unknown_genes else "")
        )


def check_perturbable(conditions: Iterable[str], perturbable_genes: Iterable[str]) -> PerturbableReport:
    """Report perturbed genes missing from ``perturbable_genes`` and which conditions remain predictable.

    Args:
        conditions: Canonical condition names (``ctrl`` is ignored).
        perturbable_genes: The gene universe, e.g. ``KnowledgeBundle.perturbable_genes``.

    Example:
        >>> r = check_perturbable(["A+ctrl", "A+B", "C+ctrl"], ["A", "C"])
        >>> r.unknown_genes, r.predictable, r.unpredictable
        (['B'], ['A+ctrl', 'C+ctrl'], ['A+B'])
    """
    known = set(perturbable_genes)
    unknown: set[str] = set()
    good: list[str] = []
    bad: list[str] = []
    for cond in conditions:
        genes = parse_condition(cond)
        if not genes:
            continue
        missing = [g for g in genes if g not in known]
        unknown.update(missing)
        (bad if missing else good).append(cond)
    return PerturbableReport(sorted(unknown), good, bad)


class PerturbData:
    """A perturbation dataset: log-normalised AnnData with canonical condition names.

    Build it with :func:`load_perturb_data`. ``adata.obs["condition"]`` holds canonical names (``ctrl``, ``A+ctrl``,
    ``A+B``); ``X`` is CSR float32 or dense float32 and is never densified whole. With several contexts (cell types)
    the names are units ``CONTEXT|A+B`` and each context has its own control ``CONTEXT|ctrl``
    (``adata.obs["context"]`` holds the context): a unit's control is its context's control, never a pool.

    Example:
        >>> from biodsnn.data import simulate
        >>> data = load_perturb_data(simulate(preset="tiny", seed=0, progress=False))
        >>> data.control_mean.shape == (len(data.genes),)
        True
    """

    def __init__(self, adata: anndata.AnnData, *, source: str | None = None, options: dict[str, Any] | None = None,
                 x: BackedMatrix | None = None):
        self.adata = adata
        self._x = x  # out-of-core: X read from the file on demand (adata then holds no X)
        self.source = source
        self.options = dict(options or {})
        codes = pd.Categorical(adata.obs["condition"].astype(str))
        self._categories: list[str] = [str(c) for c in codes.categories]
        order = np.argsort(codes.codes, kind="stable")
        bounds = np.searchsorted(codes.codes[order], np.arange(len(self._categories) + 1))
        self._cells = {c: order[bounds[i] : bounds[i + 1]].astype(np.int64) for i, c in enumerate(self._categories)}
        self._control_means: dict[str | None, np.ndarray] = {}
        self._views: dict[str | None, PerturbData] = {}

    def __repr__(self) -> str:
        contexts = "" if self.contexts == [None] else f", {len(self.contexts)} contexts"
        return (
            f"PerturbData({self.adata.n_obs} cells × {self.adata.n_vars} genes, {len(self.conditions)} conditions, "
            f"{len(self.control_cells)} control cells{contexts})"
        )

    @property
    def X(self) -> sp.csr_matrix | np.ndarray | BackedMatrix:
        """The log-normalised expression matrix (CSR float32 or dense float32; a :class:`BackedMatrix` read by rows
        on demand when loaded with ``backed=True``). ``X[rows]`` gives those rows either way."""
        return self.adata.X if self._x is None else self._x

    @property
    def backed(self) -> bool:
        """True when X stays in its file and is read by rows on demand (out-of-core)."""
        return self._x is not None

    def subset_adata(self, rows: np.ndarray) -> anndata.AnnData:
        """An in-memory AnnData of some cells (X, obs, var), whether or not X is backed.

        Example:
            >>> from biodsnn.data import simulate
            >>> data = load_perturb_data(simulate(preset="tiny", seed=0, progress=False))
            >>> data.subset_adata(data.control_cells[:4]).n_obs
            4
        """

        rows = np.asarray(rows, dtype=np.int64)
        if self._x is None:
            return self.adata[rows].copy()
        return self._shell(rows, x=self._x[rows])

    @cached_property
    def genes(self) -> list[str]:
        """Measured gene symbols, in column order."""
        return [str(g) for g in self.adata.var_names]

    @cached_property
    def gene_index(self) -> dict[str, int]:
        """Gene symbol → column."""
        return {g: i for i, g in enumerate(self.genes)}

    @cached_property
    def conditions(self) -> list[str]:
        """Canonical perturbation conditions (units ``CONTEXT|A+B`` with several contexts; no control), sorted."""
        return sorted(c for c in self._categories if parse_condition(c))

    @cached_property
    def contexts(self) -> list[str | None]:
        """The contexts (cell types or lines), sorted; ``[None]`` for data of one context.

        Example:
            >>> from biodsnn.data import simulate
            >>> load_perturb_data(simulate(preset="tiny", seed=0, progress=False)).contexts
            [None]
        """
        found = sorted({c for c in (split_context(u)[0] for u in self._categories) if c is not None})
        return list(found) if found else [None]

    @staticmethod
    def context_of(unit: str) -> str | None:
        """The context of a unit name (None without one).

        Example:
            >>> PerturbData.context_of("T98G|SOX2+ctrl"), PerturbData.context_of("A+B")
            ('T98G', None)
        """
        return split_context(unit)[0]

    @cached_property
    def control_cells(self) -> np.ndarray:
        """Row indices of control cells (of every context)."""
        parts = [self._cells[c] for c in self._categories if not parse_condition(c)]
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)

    def control_cells_of(self, context: str | None) -> np.ndarray:
        """Row indices of one context's control cells (``None``: data of one context).

        Example:
            >>> from biodsnn.data import simulate
            >>> data = load_perturb_data(simulate(preset="tiny", seed=0, progress=False))
            >>> bool((data.control_cells_of(None) == data.control_cells).all())
            True
        """
        if context not in self.contexts:
            hint = did_you_mean(str(context), [str(c) for c in self.contexts])
            raise NotFoundError(f"context {context!r} is not in the data{hint} (contexts: "
                                f"{', '.join(map(str, self.contexts))})")
        return self._cells.get(format_unit(context, ()), np.zeros(0, dtype=np.int64))

    def control_mean_of(self, context: str | None) -> np.ndarray:
        """Mean expression of one context's control cells (float32; the context of a unit: ``context_of``)."""
        if context not in self._control_means:
            self._control_means[context] = self._row_mean(self.control_cells_of(context))
        return self._control_means[context]

    def control_means(self, units: Sequence[str]) -> np.ndarray:
        """Each unit's own control mean, ``(len(units), n_genes)`` float32 (its context's control).

        Example:
            >>> from biodsnn.data import simulate
            >>> data = load_perturb_data(simulate(preset="tiny", seed=0, progress=False))
            >>> data.control_means(data.conditions[:3]).shape[0]
            3
        """
        if not units:
            return np.zeros((0, self.adata.n_vars), dtype=np.float32)
        return np.stack([self.control_mean_of(self.context_of(u)) for u in units])

    def context_view(self, context: str | None) -> PerturbData:
        """The data of one context alone, its unit names without the context prefix (the same object for data of
        one context). Baselines and DE ranking run per context through it.

        Example:
            >>> from biodsnn.data import simulate
            >>> data = load_perturb_data(simulate(preset="tiny", seed=0, progress=False))
            >>> data.context_view(None) is data
            True
        """
        if self.contexts == [None] and context is None:
            return self
        self.control_cells_of(context)  # NotFoundError for an unknown context
        if context not in self._views:
            rows = np.sort(np.concatenate([self._cells[u] for u in self._categories if self.context_of(u) == context]))
            if self._x is None:
                sub, x = self.adata[rows].copy(), None
            else:  # the same file seen through the context's rows; nothing read
                sub, x = self._shell(rows), self._x.subset(rows)
            sub.obs["condition"] = pd.Categorical([split_context(u)[1] for u in sub.obs["condition"].astype(str)])
            sub.uns.pop(TRUTH_KEY, None)
            units = [u for u in (self.true_means or {}) if self.context_of(u) == context]
            if units:
                sub.uns[TRUTH_KEY] = {"conditions": np.asarray([split_context(u)[1] for u in units]),
                                      "means": np.stack([self.true_means[u] for u in units])}
            self._views[context] = PerturbData(sub, source=self.source, options=self.options, x=x)
        return self._views[context]

    def _shell(self, rows: np.ndarray, x: sp.csr_matrix | None = None) -> anndata.AnnData:
        """The cells ``rows`` as an AnnData (obs, var, uns), with ``x`` as X or none (a backed view's)."""
        import anndata

        return anndata.AnnData(X=x, obs=self.adata.obs.iloc[rows].copy(), var=self.adata.var.copy(),
                               uns=dict(self.adata.uns))

    def cells_of(self, condition: str) -> np.ndarray:
        """Row indices (int64) of the cells of one condition (canonical or any accepted spelling).

        Example:
            >>> from biodsnn.data import simulate
            >>> data = load_perturb_data(simulate(preset="tiny", seed=0, progress=False))
            >>> len(data.cells_of(data.conditions[0])) > 0
            True
        """
        name = canonical_condition(condition)
        if name not in self._cells:
            hint = did_you_mean(name, self._categories)
            raise NotFoundError(f"condition {condition!r} is not in the data{hint}; see `biodsnn data info`")
        return self._cells[name]

    @staticmethod
    def condition_genes(condition: str) -> tuple[str, ...]:
        """The perturbed genes of a condition, sorted.

        Example:
            >>> PerturbData.condition_genes("B+A")
            ('A', 'B')
        """
        return parse_condition(condition)

    def _row_mean(self, rows: np.ndarray) -> np.ndarray:
        if len(rows) == 0:
            return np.full(self.adata.n_vars, np.nan, dtype=np.float32)
        total = np.zeros(self.adata.n_vars, dtype=np.float64)
        for part, sub in row_blocks(self.X, rows):  # one block in memory: the plain mean
            total += np.asarray(sub.mean(axis=0), dtype=np.float64).ravel() * (len(part) / len(rows))
        return total.astype(np.float32)

    @cached_property
    def control_mean(self) -> np.ndarray:
        """Mean expression of control cells (float32, one value per gene); pooled over contexts, so with several
        contexts use :meth:`control_means` (each unit's own control)."""
        return self._row_mean(self.control_cells)

    def condition_means(self, conditions: Sequence[str]) -> np.ndarray:
        """Mean expression per condition, shape ``(len(conditions), n_genes)``, float32.

        Computed with one sparse product (an averaging matrix times X), so X is not densified.

        Example:
            >>> from biodsnn.data import simulate
            >>> data = load_perturb_data(simulate(preset="tiny", seed=0, progress=False))
            >>> data.condition_means(data.conditions[:2]).shape[0]
            2
        """
        rows, cols, vals = [], [], []
        for i, cond in enumerate(conditions):
            cells = self.cells_of(cond)
            rows.append(np.full(len(cells), i))
            cols.append(cells)
            vals.append(np.full(len(cells), 1.0 / max(len(cells), 1)))
        n = len(conditions)
        if n == 0:
            return np.zeros((0, self.adata.n_vars), dtype=np.float32)
        if self.backed:  # condition by condition, in row blocks: the same product per condition as in memory
            out = np.zeros((n, self.adata.n_vars), dtype=np.float64)
            for i, (cells, w) in enumerate(zip(cols, vals, strict=True)):
                for part, sub in row_blocks(self.X, cells):
                    out[i] += np.asarray((sp.csr_matrix(w[: len(part)][None, :]) @ sub).toarray()).ravel()
            return out.astype(np.float32)
        avg = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, self.adata.n_obs)
        )
        out = avg @ self.X
        out = out.toarray() if sp.issparse(out) else np.asarray(out)
        return out.astype(np.float32)

    @cached_property
    def true_means(self) -> dict[str, np.ndarray] | None:
        """Noise-free log-normalised mean of every condition, for simulated data; else None."""
        truth = self.adata.uns.get(TRUTH_KEY)
        if truth is None:
            return None
        names = [canonical_condition(str(c)) for c in np.asarray(truth["conditions"])]
        if self.contexts != [None]:
            if "cell_type" not in truth:  # a truth of one context does not describe units of several
                return None
            names = [format_unit(str(ctx), parse_condition(c)) for ctx, c in zip(truth["cell_type"], names,
                                                                                  strict=True)]
        means = np.asarray(truth["means"], dtype=np.float32)
        return {c: means[i] for i, c in enumerate(names)}

    @cached_property
    def fingerprint(self) -> str:
        """sha256 over X's values, the gene names and the condition column (hex, 64 characters).

        X is hashed by rows in blocks, its non-zeros as (count per row, column, float32 value), so the same matrix has
        the same fingerprint whether it is in memory or backed, and whatever integer types the file stores.
        """
        x = self.X
        sparse = sp.issparse(x) or is_backed(x)
        parts = [hashlib.sha256() for _ in range(3 if sparse else 1)]
        step = min(4096, block_rows())
        for start in range(0, x.shape[0], step):
            block = x[start : start + step]
            if sparse:
                block = sp.csr_matrix(block)
                parts[0].update(np.diff(block.indptr).astype(np.int64).view(np.uint8))
                parts[1].update(block.indices.astype(np.int64).view(np.uint8))
                parts[2].update(np.ascontiguousarray(block.data, dtype=np.float32).view(np.uint8))
            else:
                parts[0].update(np.ascontiguousarray(block, dtype=np.float32).view(np.uint8))
        h = hashlib.sha256(f"{'csr' if sparse else 'dense'}|{tuple(x.shape)}|float32".encode())
        for part in parts:
            h.update(part.digest())
        h.update("\n".join(self.genes).encode())
        h.update("\n".join(self.adata.obs["condition"].astype(str)).encode())
        return h.hexdigest()

    def check_perturbable(self, perturbable_genes: Iterable[str]) -> PerturbableReport:
        """Report perturbed genes unknown to ``perturbable_genes`` (see :func:`check_perturbable`)."""
        return check_perturbable(self.conditions, perturbable_genes)


def _looks_like_counts(x: sp.spmatrix | np.ndarray) -> tuple[bool, float]:
    sample = x.data[:200_000] if sp.issparse(x) else np.asarray(x[: max(1, 200_000 // max(x.shape[1], 1))]).ravel()
    sample = np.asarray(sample, dtype=np.float64)
    if sample.size == 0:
        return False, 0.0
    vmax = float(sample.max())
    integer = bool(np.all(np.equal(np.mod(sample, 1.0), 0.0)))
    return integer and vmax > _COUNTS_MAX, vmax


def _resolve_convention(
    obs: pd.DataFrame,
    convention: str | None,
    condition_key: str | None,
    control_label: str | None,
    delimiter: str | None,
) -> tuple[str, str, str]:
    """Fill unset options from the preset, or (no preset) from the first convention whose column and label fit."""
    if convention is not None:
        preset = CONVENTIONS[convention]
    else:
        preset = CONVENTIONS["gears"]
        fits = [p for p in CONVENTIONS.values() if p["condition_key"] == (condition_key or p["condition_key"])]
        present = [p for p in fits if p["condition_key"] in obs.columns]
        for p in present:
            label = control_label or p["control_label"]
            if (obs[p["condition_key"]].astype(str) == label).any():
                preset = p
                break
        else:
            if present:
                preset = present[0]
            elif condition_key is not None and condition_key in obs.columns and control_label is None:
                values = set(obs[condition_key].astype(str))
                preset = next((p for p in CONVENTIONS.values() if p["control_label"] in values), preset)
    return (
        condition_key or preset["condition_key"],
        control_label if control_label is not None else preset["control_label"],
        delimiter if delimiter is not None else preset["delimiter"],
    )


def _read_contexts(obs: pd.DataFrame, context_key: str | None, name: str) -> pd.Series | None:
    """The context of every cell as strings, or None for data of one context (absent column, or one value)."""
    key = context_key or CONTEXT_KEY
    if key not in obs.columns:
        if context_key is not None:
            cols = ", ".join(map(str, obs.columns)) or "none"
            raise InputError(f"{name}: obs has no context column {context_key!r} (available: {cols}); pass another "
                             "--context-key, or none for data of one context")
        return None
    values = obs[key]
    if values.isna().any():
        raise InputError(f"{name}: {int(values.isna().sum())} cell(s) have no value in obs[{key!r}]; fill or drop "
                         "them before loading")
    values = values.astype(str).str.strip()
    if values.nunique() < 2:
        return None
    bad = sorted({v for v in values.unique() if not v or CONTEXT_SEP in v})
    if bad:
        raise InputError(f"{name}: context name(s) {bad[:3]} in obs[{key!r}] are empty or contain {CONTEXT_SEP!r}; "
                         "rename them")
    return values


def load_perturb_data(
    source: str | os.PathLike[str] | anndata.AnnData,
    *,
    convention: Convention | None = None,
    condition_key: str | None = None,
    control_label: str | None = None,
    delimiter: str | None = None,
    gene_name_key: str | None = None,
    context_key: str | None = None,
    normalize: bool = False,
    backed: bool = False,
    perturbable_genes: Iterable[str] | None = None,
    on_unknown: Literal["warn", "error"] = "warn",
) -> PerturbData:
    """Load and validate a perturbation AnnData (a path to ``.h5ad`` or an AnnData object).

    ``convention`` picks a preset (``gears``: ``obs['condition']`` with ``ctrl``; ``perturbench``: ``condition`` with
    ``control``; ``pertpy``: ``perturbation`` with ``control``; ``cell-eval``: ``target_gene`` with ``non-targeting``;
    ``+`` between genes). Without one, the first preset whose column exists and holds its control label is used
    (GEARS' when none fits). Explicit ``condition_key`` / ``control_label`` / ``delimiter`` override the preset.
    Conditions are rewritten canonically into ``obs['condition']`` (an original ``condition`` column of another
    meaning is kept as ``condition_original``). Gene names come from ``var[gene_name_key]``, else
    ``var['gene_name']`` when present, else ``var_names``.

    Args:
        source: Path to an ``.h5ad`` file or an in-memory AnnData (not modified: a shallow copy is taken).
        convention: A preset naming the condition column and control label (default: detected).
        condition_key: obs column holding the perturbation.
        control_label: The label of control cells.
        delimiter: Separator between genes of a combination.
        gene_name_key: var column with gene symbols.
        context_key: obs column holding the context (cell type or line). Default: ``cell_type`` when present; with
            more than one value the units become ``CONTEXT|A+B`` and each context needs its own control cells.
        normalize: X holds raw counts: normalise to 1e4 per cell and log1p.
        backed: Leave X in the file (``.h5ad`` or ``.zarr``, CSR) and read it by rows on demand (out-of-core, for
            files larger than memory; docs/scaling.md). obs, var and uns are read; X is checked block by block.
        perturbable_genes: Optional gene universe (a bundle's perturbable genes) to check perturbed genes against.
        on_unknown: With ``perturbable_genes``: ``warn`` (default) or raise ``error`` on unknown genes.

    Returns:
        A validated :class:`PerturbData`.

    Raises:
        InputError: Missing column, no control cells, raw counts without ``normalize``, duplicated gene names,
            negative or non-finite values, an unreadable file.

    Example:
        >>> import anndata, numpy as np, pandas as pd
        >>> ad = anndata.AnnData(np.ones((3, 2), dtype=np.float32),
        ...                      obs=pd.DataFrame({"perturbation": ["control", "A", "A+B"]}, index=["c1", "c2", "c3"]),
        ...                      var=pd.DataFrame(index=["A", "B"]))
        >>> load_perturb_data(ad, convention="pertpy").conditions
        ['A+B', 'A+ctrl']
    """
    import anndata

    if convention is not None and convention not in CONVENTIONS:
        raise InputError(f"unknown convention {convention!r}; choose one of {', '.join(CONVENTIONS)}")
    name = "<AnnData>"
    node = None  # backed: X's group in the file
    if backed and isinstance(source, anndata.AnnData):
        raise InputError("backed=True reads X from a file; give the path of the .h5ad or .zarr file, not an AnnData")
    if isinstance(source, anndata.AnnData):
        adata = (
            source.copy()
            if source.is_view
            else anndata.AnnData(
                X=source.X,
                obs=source.obs.copy(),
                var=source.var.copy(),
                uns=dict(source.uns),
                obsm=dict(source.obsm),
                layers=dict(source.layers),
            )
        )
    else:
        path = Path(source)
        name = str(path)
        if not path.exists():
            raise NotFoundError(f"data file {path} does not exist; simulate one with `biodsnn simulate -o {path}`")
        try:
            if backed:
                store = open_store(path)
                adata = read_shell(store)
                node = store.get("X", None)
            elif is_zarr(path):
                adata = anndata.read_zarr(path)
            else:
                adata = anndata.read_h5ad(path)
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise InputError(f"cannot read {path} as an AnnData file (.h5ad or .zarr) ({exc}); check the file") from exc

    # --- conditions
    condition_key, control_label, delimiter = _resolve_convention(
        adata.obs, convention, condition_key, control_label, delimiter
    )
    if condition_key not in adata.obs.columns:
        cols = ", ".join(map(str, adata.obs.columns)) or "none"
        hint = ""
        for conv, p in CONVENTIONS.items():
            if p["condition_key"] in adata.obs.columns:
                hint = f" (this looks like the {conv} convention: pass convention='{conv}' / --convention {conv})"
                break
        raise InputError(
            f"{name}: obs has no column {condition_key!r} (available: {cols}); pass condition_key / --condition-key"
            + hint
        )
    missing = adata.obs[condition_key].isna()
    if missing.any():  # astype(str) would turn them into a gene called "nan"
        raise InputError(
            f"{name}: {int(missing.sum())} cell(s) have no condition (missing value in obs[{condition_key!r}], e.g. "
            f"cell {adata.obs_names[int(missing.to_numpy().argmax())]}); label them (controls: "
            f"{control_label!r}) or drop them"
        )
    raw = adata.obs[condition_key].astype(str)
    uniques = pd.unique(raw)
    mapping = {
        u: format_condition(parse_condition(u, control_label=control_label, delimiter=delimiter)) for u in uniques
    }
    canonical = raw.map(mapping)
    if not (canonical == CONTROL).any():
        shown = ", ".join(sorted(map(str, uniques))[:8])
        raise InputError(
            f"{name}: no control cells labelled {control_label!r} in obs[{condition_key!r}] (values: {shown} …); "
            "pass control_label / --control-label"
        )
    context = _read_contexts(adata.obs, context_key, name)
    if context is not None:
        missing = sorted(set(context) - set(context[canonical == CONTROL]))
        if missing:
            raise InputError(
                f"{name}: context(s) {', '.join(missing[:5])} in obs[{context_key or CONTEXT_KEY!r}] have no control "
                f"cells labelled {control_label!r}; every context needs its own controls (a pooled control is no "
                "control for any of them), or drop those cells"
            )
        canonical = context.str.cat(canonical, sep=CONTEXT_SEP)
        adata.obs["context"] = pd.Categorical(context)
    if condition_key != "condition" and "condition" in adata.obs.columns:
        adata.obs["condition_original"] = adata.obs["condition"]
    adata.obs["condition"] = pd.Categorical(canonical)

    # --- genes
    if gene_name_key is not None:
        if gene_name_key not in adata.var.columns:
            cols = ", ".join(map(str, adata.var.columns)) or "none"
            raise InputError(f"{name}: var has no column {gene_name_key!r} (available: {cols}); pass --gene-name-key")
        symbols = adata.var[gene_name_key].astype(str)
    elif "gene_name" in adata.var.columns:
        symbols = adata.var["gene_name"].astype(str)
    else:
        symbols = pd.Series(adata.var_names.astype(str), index=adata.var_names)
    dup = symbols[symbols.duplicated()].unique().tolist()
    if dup:
        raise InputError(
            f"{name}: {len(dup)} duplicated gene name(s) ({', '.join(map(str, dup[:5]))}); "
            "keep one column per gene (e.g. sum or drop duplicates) before loading"
        )
    if symbols.isna().any() or (symbols == "").any():
        raise InputError(f"{name}: some gene names are empty; fill var['gene_name'] or var_names")
    if list(adata.var_names) != list(symbols):
        if "gene_id" not in adata.var.columns:
            adata.var["gene_id"] = adata.var_names.astype(str)
        adata.var_names = pd.Index(symbols.to_numpy(), dtype=str)
    adata.var["gene_name"] = adata.var_names.astype(str)
    measured = set(adata.var_names)
    for label, canon in mapping.items():  # "A_B" read with delimiter "+" is a single gene called A_B: say so
        single = parse_condition(canon)
        hint = delimiter_hint(single[0], delimiter, measured) if len(single) == 1 and single[0] not in measured else ""
        if hint:
            raise InputError(f"{name}: condition {label!r} is read as one gene (delimiter {delimiter!r}){hint}")

    # --- matrix
    if backed:
        x = _check_backed(node, adata, name, normalize)
        adata.X = None
    else:
        x = _check_matrix(adata.X, name, normalize)
        adata.X = x

    options = {
        "condition_key": condition_key,
        "control_label": control_label,
        "delimiter": delimiter,
        "gene_name_key": gene_name_key,
        "context_key": context_key,
        "normalize": normalize,
        "backed": bool(backed),
    }
    data = PerturbData(adata, source=None if name == "<AnnData>" else name, options=options,
                       x=x if backed else None)
    if not data.conditions:
        raise InputError(f"{name}: only control cells found; the data needs perturbed cells")
    if perturbable_genes is not None:
        report = data.check_perturbable(perturbable_genes)
        if not report.ok:
            if on_unknown == "error":
                raise InputError(f"{name}: " + report.message())
            warnings.warn(report.message(), stacklevel=2)
    return data


def _check_values(values: np.ndarray, name: str) -> None:
    if values.size and not np.isfinite(values).all():
        raise InputError(f"{name}: X contains NaN or infinite values; clean the matrix before loading")
    if values.size and float(values.min()) < 0:
        raise InputError(f"{name}: X has negative values (scaled data?); give log-normalised counts, not scaled data")


def _check_counts(counts: bool, vmax: float, name: str, normalize: bool) -> None:
    if normalize and not counts and vmax <= _COUNTS_MAX:
        raise InputError(
            f"{name}: X already looks log-normalised (max {vmax:.3g}, not integer counts); "
            "drop normalize / --normalize"
        )
    if not normalize and counts:
        raise InputError(
            f"{name}: X holds raw counts (integers up to {vmax:.0f}), log-normalised values expected; "
            "pass normalize=True / --normalize to normalise to 1e4 per cell and log1p"
        )


def _check_backed(node: Any, adata: anndata.AnnData, name: str, normalize: bool) -> BackedMatrix:
    """X left in the file, checked block by block as the in-memory path checks it whole."""
    if node is None:
        raise InputError(f"{name}: X is empty; store log-normalised expression in X")
    x = BackedMatrix(node, name=name)
    if x.shape != (adata.n_obs, adata.n_vars):
        raise InputError(f"{name}: X has shape {x.shape} but obs/var describe {adata.n_obs} × {adata.n_vars}; "
                         "the file is damaged, write it again")
    head = x[: block_rows()]
    _check_counts(*_looks_like_counts(head), name, normalize)
    x.normalize = normalize
    for _, block in x.blocks():
        _check_values(block.data, name)
    return x


def _check_matrix(x: Any, name: str, normalize: bool) -> sp.csr_matrix | np.ndarray:
    """X in memory as CSR or dense float32, normalised when asked, checked for counts, non-finite and negatives."""
    if x is None:
        raise InputError(f"{name}: X is empty; store log-normalised expression in X")
    if sp.issparse(x):
        x = sp.csr_matrix(x)
        if x.dtype != np.float32:
            x = x.astype(np.float32)
        if not x.has_canonical_format:
            x.sum_duplicates()
    else:
        x = np.asarray(x, dtype=np.float32)
    _check_counts(*_looks_like_counts(x), name, normalize)
    if normalize:
        x = normalize_log1p(x)
    _check_values(x.data if sp.issparse(x) else x, name)
    return x


__all__ = [
    "CONTEXT_KEY",
    "CONVENTIONS",
    "DELIMITER",
    "PerturbData",
    "PerturbableReport",
    "check_perturbable",
    "load_perturb_data",
]
