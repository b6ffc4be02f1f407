"""Leak-free train/validation/test splits of perturbation conditions (GEARS' split families)."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from biodsnn.config import SPLIT_SEED
from biodsnn.data.conditions import canonical_condition, parse_condition, split_context
from reactomenet.errors import InputError, NotFoundError
from reactomenet.io import write_json

SplitKind = Literal["simulation", "single", "combo_seen0", "combo_seen1", "combo_seen2", "transfer", "no_test",
                    "custom"]
KINDS: tuple[str, ...] = ("simulation", "single", "combo_seen0", "combo_seen1", "combo_seen2", "transfer", "no_test",
                          "custom")
#: Subgroup of a unit held out in its context while the same perturbation is trained in another context.
TRANSFER = "context_transfer"
_FORMAT = "biodsnn.split/1"


@dataclass(frozen=True)
class Split:
    """An assignment of perturbation conditions to ``train``, ``val`` and ``test``.

    Attributes:
        kind: The split family that made it.
        seed: Its seed (None for custom splits).
        assignment: condition → ``"train"`` | ``"val"`` | ``"test"``.
        subgroup: val/test condition → ``unseen_single`` | ``seen_single`` | ``combo_seen0`` | ``combo_seen1`` |
            ``combo_seen2`` (how many of its genes are perturbed in some training condition).
        excluded: Conditions in no set: they would leak held-out genes into training (GEARS drops them too).
        params: The options used.
    """

    kind: str
    seed: int | None
    assignment: dict[str, str]
    subgroup: dict[str, str]
    excluded: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def _of(self, name: str) -> list[str]:
        return sorted(c for c, s in self.assignment.items() if s == name)

    @property
    def train(self) -> list[str]:
        """Training conditions, sorted."""
        return self._of("train")

    @property
    def val(self) -> list[str]:
        """Validation conditions, sorted."""
        return self._of("val")

    @property
    def test(self) -> list[str]:
        """Test conditions, sorted."""
        return self._of("test")

    @property
    def fingerprint(self) -> str:
        """sha256 of the assignment (hex)."""
        blob = json.dumps(sorted(self.assignment.items()), separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def summary(self) -> dict[str, int]:
        """Counts per set and per ``set/subgroup``.

        Example:
            >>> s = make_split(["A+ctrl", "B+ctrl", "A+B"], kind="custom",
            ...                mapping={"A+ctrl": "train", "B+ctrl": "val", "A+B": "test"})
            >>> s.summary()["test/combo_seen1"]
            1
        """
        out: Counter[str] = Counter(self.assignment.values())
        for cond, group in self.subgroup.items():
            out[f"{self.assignment[cond]}/{group}"] += 1
        if self.excluded:
            out["excluded"] = len(self.excluded)
        return dict(sorted(out.items()))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (see :meth:`save`)."""
        return {
            "format": _FORMAT,
            "kind": self.kind,
            "seed": self.seed,
            "params": self.params,
            "assignment": dict(sorted(self.assignment.items())),
            "subgroup": dict(sorted(self.subgroup.items())),
            "excluded": sorted(self.excluded),
            "fingerprint": self.fingerprint,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the split as JSON (atomically).

        Example:
            >>> import tempfile, pathlib
            >>> s = make_split(["A+ctrl", "B+ctrl", "C+ctrl", "D+ctrl"], kind="no_test", seed=0)
            >>> p = s.save(pathlib.Path(tempfile.mkdtemp()) / "split.json")
            >>> Split.load(p) == s
            True
        """
        return write_json(self.to_dict(), path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Split:
        """Read a split written by :meth:`save`."""
        p = Path(path)
        if not p.exists():
            raise NotFoundError(f"split file {p} does not exist; make one with `biodsnn data split -o {p}`")
        raw = _read_json(p, "a biodsnn split file (JSON); write it with `biodsnn data split`")
        if not isinstance(raw, dict) or raw.get("format") != _FORMAT:
            raise InputError(f"{p} is not a biodsnn split file (format {_FORMAT}); write it with `biodsnn data split`")
        assignment = raw.get("assignment")
        if not isinstance(assignment, dict) or not all(isinstance(k, str) for k in assignment):
            what = "has no" if assignment is None else f"has a {type(assignment).__name__} as its"
            raise InputError(f"{p} {what} 'assignment' (an object condition → train/val/test); write it with "
                             "`biodsnn data split`")
        bad = {str(v) for v in assignment.values() if v not in ("train", "val", "test")}
        if bad:
            raise InputError(f"{p}: unknown set name(s) {sorted(bad)}; use train, val or test")
        for key, kind in (("subgroup", dict), ("excluded", list), ("params", dict)):
            if not isinstance(raw.get(key, kind()), kind):
                raise InputError(f"{p}: '{key}' must be a JSON {'object' if kind is dict else 'list'}; write the "
                                 "split with `biodsnn data split`")
        return cls(
            kind=str(raw.get("kind", "custom")),
            seed=raw.get("seed"),
            assignment=dict(assignment),
            subgroup=dict(raw.get("subgroup", {})),
            excluded=list(raw.get("excluded", [])),
            params=dict(raw.get("params", {})),
        )


# ---------------------------------------------------------------- readers


def _no_duplicate_keys(path: Path) -> Any:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                raise InputError(f"{path} lists {key!r} twice ({seen[key]!r} and {value!r}); list each key once")
            seen[key] = value
        return seen

    return hook


def _read_json(path: Path, what: str) -> Any:
    """Parse a JSON file, refusing a binary file, invalid JSON and an object that repeats a key (JSON keeps the last
    silently); ``what`` ends the message, e.g. ``"a split file; write it with …"``."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a text file; give {what}") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys(path))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON ({exc.msg}, line {exc.lineno}); give {what}") from exc


def read_mapping(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a custom split's mapping condition → ``train``/``val``/``test`` from a JSON object or a CSV file with
    columns ``condition`` and ``split``; a condition listed twice, or a missing/empty cell, is refused.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.csv"
        >>> _ = p.write_text("condition,split\\nA+ctrl,train\\nA+B,test\\n")
        >>> read_mapping(p)
        {'A+ctrl': 'train', 'A+B': 'test'}
    """
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"mapping file {p} does not exist; give a JSON object or a CSV condition,split")
    if p.suffix.lower() == ".json":
        obj = _read_json(p, "a JSON object mapping condition → train/val/test")
        if not isinstance(obj, dict):
            raise InputError(f"{p} must hold a JSON object mapping condition → train/val/test")
        if not all(isinstance(v, str) for v in obj.values()):
            raise InputError(f"{p}: every value must be train, val or test (text)")
        return {str(k): v for k, v in obj.items()}
    import pandas as pd

    try:
        p.read_bytes().decode("utf-8")
        frame = pd.read_csv(p, dtype=str, keep_default_na=False)
    except UnicodeDecodeError:
        raise InputError(f"{p} is not a text file; give a CSV with columns condition and split") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"{p} is not a readable CSV ({exc}); give columns condition and split") from exc
    if not {"condition", "split"} <= set(frame.columns):
        raise InputError(f"{p} needs columns condition and split (has {', '.join(map(str, frame.columns))})")
    conds = frame["condition"].str.strip()
    if (conds == "").any() or (frame["split"].str.strip() == "").any():
        row = int(((conds == "") | (frame["split"].str.strip() == "")).to_numpy().argmax()) + 2
        raise InputError(f"{p} line {row}: empty condition or split; fill it or drop the line")
    dup = conds[conds.duplicated()]
    if not dup.empty:
        raise InputError(f"{p} lists condition {dup.iloc[0]!r} twice; give each condition one split")
    return dict(zip(conds, frame["split"].str.strip(), strict=True))


# ---------------------------------------------------------------- helpers


def _genes(conds: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for c in conds:
        out.update(parse_condition(c))
    return out


def _singles(conds: Iterable[str]) -> list[str]:
    return [c for c in conds if len(parse_condition(c)) == 1]


def _combos(conds: Iterable[str]) -> list[str]:
    return [c for c in conds if len(parse_condition(c)) > 1]


def _choice(rng: np.random.Generator, items: Sequence[str], n: int) -> list[str]:
    if n <= 0 or not items:
        return []
    idx = rng.choice(len(items), size=min(n, len(items)), replace=False)
    return [items[i] for i in sorted(idx)]


def _simulation(perts: list[str], gene_frac: float, combo_frac: float, rng: np.random.Generator) -> tuple[list, list]:
    """GEARS' get_simulation_split: hold out genes; seen-2 combos sampled; returns (train, test)."""
    genes = sorted(_genes(perts))
    train_genes = set(_choice(rng, genes, int(len(genes) * gene_frac)))
    train, test, seen2 = [], [], []
    for c in perts:
        g = parse_condition(c)
        k = sum(x in train_genes for x in g)
        if k == len(g):
            (train if len(g) == 1 else seen2).append(c)
        else:
            test.append(c)  # unseen singles, combos with 0 or 1 (or, for triples, some) genes seen
    keep = set(_choice(rng, seen2, int(len(seen2) * combo_frac)))
    train += [c for c in seen2 if c in keep]
    test += [c for c in seen2 if c not in keep]
    return sorted(train), sorted(test)


def _n_of(n_items: int, fraction: float) -> int:
    return max(1, round(n_items * fraction)) if n_items else 0


def _hold_out(kind: str, perts: list[str], fraction: float, rng: np.random.Generator) -> tuple[list, list, list]:
    """One round of a gene-holdout split: (train, test, excluded)."""
    combos = _combos(perts)
    if kind == "single":
        single_genes = sorted(_genes(_singles(perts)))
        held = set(_choice(rng, single_genes, _n_of(len(single_genes), fraction)))
        keep = lambda g: len(g) == 1  # noqa: E731
    elif kind in ("combo_seen0", "combo_seen1"):
        held = set()
        target = _n_of(len(combos), fraction)
        order = [combos[i] for i in rng.permutation(len(combos))]
        for c in order:
            g = parse_condition(c)
            held.update(g if kind == "combo_seen0" else [g[int(rng.integers(len(g)))]])
            wanted = [x for x in combos if _seen_k(x, held) == (0 if kind == "combo_seen0" else 1)]
            if len(wanted) >= target:
                break
        keep = (lambda g: len(g) == 1 or all(x in held for x in g)) if kind == "combo_seen0" else (lambda g: True)
    else:  # combo_seen2: combos whose genes all stay perturbed in training
        train_single_genes = _genes(_singles(perts))
        pool = [c for c in combos if all(x in train_single_genes for x in parse_condition(c))]
        test = set(_choice(rng, pool, _n_of(len(pool), fraction)))
        return sorted(c for c in perts if c not in test), sorted(test), []
    train, test, excluded = [], [], []
    for c in perts:
        g = parse_condition(c)
        if not any(x in held for x in g):
            train.append(c)
        elif keep(g):
            test.append(c)
        else:
            excluded.append(c)
    return train, test, excluded


def _seen_k(cond: str, held: set[str]) -> int:
    return sum(x not in held for x in parse_condition(cond))


def _subgroups(split_conds: Iterable[str], train: Iterable[str]) -> dict[str, str]:
    train = list(train)
    seen = _genes(train)
    trained = {split_context(c)[1] for c in train}  # perturbations trained in some context
    out = {}
    for c in split_conds:
        g = parse_condition(c)
        k = sum(x in seen for x in g)
        if split_context(c)[0] is not None and split_context(c)[1] in trained:
            out[c] = TRANSFER
        else:
            out[c] = ("seen_single" if k else "unseen_single") if len(g) == 1 else f"combo_seen{k}"
    return out


def _transfer(perts: list[str], fraction: float, rng: np.random.Generator) -> tuple[list, list]:
    """Hold ``fraction`` of the perturbations measured in several contexts out of one context each: (train, test)."""
    contexts: dict[str, list[str]] = {}
    for u in perts:
        ctx, cond = split_context(u)
        if ctx is not None:
            contexts.setdefault(cond, []).append(u)
    shared = sorted(c for c, units in contexts.items() if len(units) >= 2)
    if not shared:
        raise InputError("a transfer split needs perturbations measured in at least two contexts (a context column "
                         "such as cell_type with several values); use kind='single' or 'simulation'")
    held = _choice(rng, shared, _n_of(len(shared), fraction))
    test = sorted(contexts[c][int(rng.integers(len(contexts[c])))] for c in held)
    return sorted(set(perts) - set(test)), test


def make_split(
    conditions: Iterable[str],
    kind: SplitKind = "simulation",
    seed: int = SPLIT_SEED,
    *,
    train_gene_fraction: float = 0.75,
    combo_seen2_train_fraction: float = 0.75,
    val_train_gene_fraction: float = 0.9,
    val_combo_seen2_train_fraction: float = 0.9,
    test_fraction: float = 0.1,
    val_fraction: float = 0.1,
    mapping: Mapping[str, str] | None = None,
) -> Split:
    """Split perturbation conditions into train/val/test, seeded, with no test or val condition in training.

    Kinds (GEARS' families):
        ``simulation``: hold out ``1 - train_gene_fraction`` of the perturbed genes; test = their singles plus combos
            with 0 or 1 genes seen, plus ``1 - combo_seen2_train_fraction`` of the fully seen combos; validation is
            carved from the training part the same way (``val_*`` fractions).
        ``single``: hold out a fraction of singly perturbed genes; test = their singles; combos holding them are
            excluded.
        ``combo_seen0`` / ``combo_seen1``: hold out genes so that a fraction of combos has 0 (or 1) gene seen; test =
            everything touching a held-out gene (combos with seen genes held out in seen0 are excluded).
        ``combo_seen2``: a fraction of combos whose genes all have singles is tested.
        ``transfer`` (covariate transfer, for data of several contexts): ``test_fraction`` of the perturbations
            measured in several contexts are each held out of one context (subgroup ``context_transfer``) while
            their other contexts stay in training; validation likewise.
        ``no_test``: a random ``val_fraction`` of conditions for validation, no test.
        ``custom``: ``mapping`` condition → ``train`` | ``val`` | ``test``; conditions not in it are excluded.

    Args:
        conditions: Condition names (any accepted spelling; ``ctrl`` is ignored).
        kind: The split family.
        seed: Seed of every random choice.
        train_gene_fraction: simulation: fraction of genes kept for training.
        combo_seen2_train_fraction: simulation: fraction of fully seen combos kept for training.
        val_train_gene_fraction: simulation: the same for the validation round.
        val_combo_seen2_train_fraction: simulation: the same for the validation round.
        test_fraction: single/combo kinds: fraction of genes (or combos) to test.
        val_fraction: single/combo kinds and no_test: the same for validation.
        mapping: custom: condition → set name.

    Raises:
        InputError: Unknown kind, too few perturbations for a test or validation set, bad mapping.

    Example:
        >>> conds = [f"G{i}+ctrl" for i in range(20)] + [f"G{i}+G{i + 1}" for i in range(0, 18, 2)]
        >>> s = make_split(conds, kind="simulation", seed=1)
        >>> set(s.train) & set(s.test + s.val)
        set()
    """
    if kind not in KINDS:
        raise InputError(f"unknown split kind {kind!r}; choose one of {', '.join(KINDS)}")
    perts = sorted({u for u in map(canonical_condition, conditions) if parse_condition(u)})
    if not perts:
        raise InputError("no perturbation conditions to split; the data has only control cells")
    rng = np.random.default_rng(seed)
    params: dict[str, Any] = {}
    excluded: list[str] = []
    test: list[str] = []
    if kind == "custom":
        if not mapping:
            raise InputError("a custom split needs a mapping condition → train/val/test (a JSON object or CSV)")
        canon: dict[str, str] = {}
        spelled: dict[str, str] = {}
        for c, v in mapping.items():
            name = canonical_condition(c)
            if name in canon:
                raise InputError(f"custom split lists {spelled[name]!r} and {c!r}, the same condition {name}, twice; "
                                 "give each condition one split")
            canon[name], spelled[name] = str(v).strip().lower(), str(c)
        canon = {c: v for c, v in canon.items() if parse_condition(c)}
        bad = sorted({v for v in canon.values() if v not in ("train", "val", "test")})
        if bad:
            raise InputError(f"custom split uses unknown set name(s) {bad}; use train, val or test")
        unknown = sorted(set(canon) - set(perts))
        if unknown:
            raise InputError(f"custom split names condition(s) not in the data: {', '.join(unknown[:8])}")
        assignment = canon
        excluded = sorted(set(perts) - set(canon))
        if "train" not in canon.values():
            raise InputError("custom split has no training conditions; assign some conditions to train")
        seed_out: int | None = None
    else:
        seed_out = seed
        if kind == "simulation":
            params = {
                "train_gene_fraction": train_gene_fraction,
                "combo_seen2_train_fraction": combo_seen2_train_fraction,
                "val_train_gene_fraction": val_train_gene_fraction,
                "val_combo_seen2_train_fraction": val_combo_seen2_train_fraction,
            }
            for name, v in params.items():
                if not 0 < v < 1:
                    raise InputError(f"{name} must lie strictly between 0 and 1, got {v}")
            train, test = _simulation(perts, train_gene_fraction, combo_seen2_train_fraction, rng)
            train, val = _simulation(train, val_train_gene_fraction, val_combo_seen2_train_fraction, rng)
        elif kind == "transfer":
            params = {"test_fraction": test_fraction, "val_fraction": val_fraction}
            train, test = _transfer(perts, test_fraction, rng)
            train, val = _transfer(train, val_fraction, rng)
        elif kind == "no_test":
            params = {"val_fraction": val_fraction}
            val = _choice(rng, perts, _n_of(len(perts), val_fraction))
            train = [c for c in perts if c not in set(val)]
        else:
            params = {"test_fraction": test_fraction, "val_fraction": val_fraction}
            for name, v in params.items():
                if not 0 < v < 1:
                    raise InputError(f"{name} must lie strictly between 0 and 1, got {v}")
            if kind != "single" and len(_combos(perts)) < 2:
                raise InputError(
                    f"split {kind} needs combination perturbations (A+B); the data has "
                    f"{len(_combos(perts))}: use kind='simulation' or 'single'"
                )
            train, test, excluded = _hold_out(kind, perts, test_fraction, rng)
            train, val, excluded_val = _hold_out(kind, train, val_fraction, rng)
            excluded = sorted(excluded + excluded_val)
        what = f"{len(perts)} perturbation conditions"
        if kind != "no_test" and not test:
            raise InputError(
                f"split {kind} (seed {seed}) left no test conditions from {what}; "
                "raise the held-out fraction or use more perturbations"
            )
        if not val:
            raise InputError(
                f"too few perturbations for a validation set: split {kind} (seed {seed}) of {what} "
                "left none; raise the validation fraction or use more perturbations"
            )
        if not train:
            raise InputError(f"split {kind} (seed {seed}) left no training conditions from {what}; use more data")
        assignment = dict.fromkeys(train, "train") | dict.fromkeys(val, "val") | dict.fromkeys(test, "test")
    train = [c for c, v in assignment.items() if v == "train"]
    subgroup = _subgroups([c for c, v in assignment.items() if v != "train"], train)
    return Split(
        kind=kind,
        seed=seed_out,
        assignment=dict(sorted(assignment.items())),
        subgroup=subgroup,
        excluded=sorted(excluded),
        params=params,
    )
