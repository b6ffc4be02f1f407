"""Gene names: map aliases and Ensembl ids to HGNC symbols, and say what could not be mapped.

The tables come from Bioconductor's org.Hs.eg.db 3.16.0 (NCBI Gene 2022-09-12), shipped under
``reactomenet/data/genes/``. Rules, in order, for each name:

1. a current symbol maps to itself;
2. an Ensembl gene id (``ENSG…``, a ``.version`` suffix is dropped) maps to its symbol;
3. an alias (previous symbol or synonym) maps to the current symbol;
4. the same three checks on the upper-cased name (``tp53`` → ``TP53``);
5. otherwise the name is *unmapped*.

An alias or Ensembl id that points at several symbols is *ambiguous*: it is left unmapped and reported with
its candidates, unless ``universe`` is given and exactly one candidate is in it (e.g. the Reactome genes),
in which case that one is taken and reported as renamed. Never a silent guess.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from reactomenet.errors import NotFoundError, ReleaseFormatError

GENES_FILE = "orgHsEgDb_3.16.0_genes.tsv.gz"
ALIAS_FILE = "orgHsEgDb_3.16.0_alias.tsv.gz"
ENSEMBL_FILE = "orgHsEgDb_3.16.0_symbol_ensembl.tsv.gz"

_LOADED: dict[str, GeneMapper] = {}


@dataclass(frozen=True)
class MappingResult:
    """What :meth:`GeneMapper.map` made of a list of names.

    Attributes:
        names: The input names, in order.
        symbols: One HGNC symbol per input name, ``None`` where it could not be mapped.
        unmapped: Input names with no symbol (ambiguous ones included), in input order.
        renamed: ``{input name: symbol}`` for names that were not already a current symbol.
        ambiguous: ``{input name: [candidate symbols]}`` for aliases/ids with several candidates.
        collisions: ``{symbol: [input names]}`` where several inputs map to the same symbol.

    Example:
        >>> r = GeneMapper.load().map(["TP53", "p53", "no-such-gene"])
        >>> r.symbols, r.unmapped
        (['TP53', 'TP53', None], ['no-such-gene'])
    """

    names: list[str]
    symbols: list[str | None]
    unmapped: list[str]
    renamed: dict[str, str] = field(default_factory=dict)
    ambiguous: dict[str, list[str]] = field(default_factory=dict)
    collisions: dict[str, list[str]] = field(default_factory=dict)

    @property
    def mapping(self) -> dict[str, str]:
        """``{input name: symbol}`` for every mapped name."""
        return {n: s for n, s in zip(self.names, self.symbols, strict=False) if s is not None}


def _read_table(path: Path, columns: Sequence[str]) -> list[list[str]]:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ReleaseFormatError(f"{path.name}: cannot read ({exc}); reinstall the package data") from exc
    if not lines or lines[0].split("\t") != list(columns):
        raise ReleaseFormatError(f"{path.name} line 1: expected header {'/'.join(columns)}")
    rows = []
    for lineno, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(columns):
            raise ReleaseFormatError(f"{path.name} line {lineno}: expected {len(columns)} fields, found {len(fields)}")
        rows.append(fields)
    return rows


class GeneMapper:
    """Maps gene aliases and Ensembl ids to current HGNC symbols.

    Example:
        >>> GeneMapper.load().map(["ENSG00000141510"]).symbols
        ['TP53']
    """

    def __init__(
        self,
        symbols: Iterable[str],
        aliases: Iterable[tuple[str, str]] = (),
        ensembl: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Build from tables; most users call :meth:`load`.

        Args:
            symbols: Current symbols.
            aliases: ``(alias, symbol)`` pairs.
            ensembl: ``(ensembl id, symbol)`` pairs.
        """
        self.symbols: frozenset[str] = frozenset(symbols)
        self._alias: dict[str, set[str]] = {}
        for alias, symbol in aliases:
            self._alias.setdefault(alias, set()).add(symbol)
        self._ensembl: dict[str, set[str]] = {}
        for ens, symbol in ensembl:
            self._ensembl.setdefault(ens, set()).add(symbol)
        self._upper: dict[str, set[str]] = {}
        for symbol in self.symbols:
            self._upper.setdefault(symbol.upper(), set()).add(symbol)
        self._alias_upper: dict[str, set[str]] = {}
        for alias, targets in self._alias.items():
            self._alias_upper.setdefault(alias.upper(), set()).update(targets)

    @classmethod
    def load(cls, folder: str | os.PathLike[str] | None = None) -> GeneMapper:
        """Load the org.Hs.eg.db 3.16.0 tables (bundled by default, or from ``folder``).

        Example:
            >>> "TP53" in GeneMapper.load().symbols
            True
        """
        base = Path(folder) if folder is not None else Path(str(resources.files("reactomenet") / "data" / "genes"))
        key = str(base.resolve())
        if key in _LOADED:
            return _LOADED[key]
        paths = [base / name for name in (GENES_FILE, ALIAS_FILE, ENSEMBL_FILE)]
        for path in paths:
            if not path.is_file():
                raise NotFoundError(f"gene table {path} is missing; reinstall the package or point at the folder")
        genes = _read_table(paths[0], ["entrez", "symbol", "gene_name"])
        by_entrez = {entrez: symbol for entrez, symbol, _ in genes}
        alias_rows = _read_table(paths[1], ["entrez", "alias_symbol"])
        aliases = [(alias, by_entrez[e]) for e, alias in alias_rows if e in by_entrez]
        ensembl = [(ens, symbol) for _, symbol, ens in _read_table(paths[2], ["entrez", "symbol", "ensembl_id"])]
        mapper = cls((s for _, s, _ in genes), aliases, ensembl)
        if folder is None:  # the bundled tables never change within a process
            _LOADED[key] = mapper
        return mapper

    def _candidates(self, name: str) -> set[str]:
        if name in self.symbols:
            return {name}
        if name.upper().startswith("ENSG"):
            return set(self._ensembl.get(name.split(".", 1)[0].upper(), ()))
        return set(self._alias.get(name, ()))

    def _lookup(self, name: str) -> set[str]:
        found = self._candidates(name)
        if found:
            return found
        upper = name.upper()
        if upper != name:
            return set(self._upper.get(upper, ())) or set(self._alias_upper.get(upper, ()))
        return set()

    def map(self, names: Sequence[str], *, universe: Iterable[str] | None = None) -> MappingResult:
        """Map each name to a current symbol (see the module docstring for the rules).

        Args:
            names: Gene names: symbols, aliases or Ensembl gene ids.
            universe: Symbols to prefer when an alias is ambiguous (e.g. ``ReactomeGraph.genes()``); names
                already in ``universe`` are kept as they are even when the tables do not know them.

        Example:
            >>> GeneMapper.load().map(["p53"]).renamed
            {'p53': 'TP53'}
        """
        pool = frozenset(universe) if universe is not None else frozenset()
        symbols: list[str | None] = []
        unmapped: list[str] = []
        renamed: dict[str, str] = {}
        ambiguous: dict[str, list[str]] = {}
        for raw in names:
            name = str(raw).strip()
            if name in self.symbols or name in pool:
                symbols.append(name)
                continue
            found = self._lookup(name)
            if len(found) > 1 and pool:
                preferred = found & pool
                if len(preferred) == 1:
                    found = preferred
            if len(found) == 1:
                symbol = next(iter(found))
                symbols.append(symbol)
                renamed[str(raw)] = symbol
            else:
                symbols.append(None)
                unmapped.append(str(raw))
                if found:
                    ambiguous[str(raw)] = sorted(found)
        by_symbol: dict[str, list[str]] = {}
        for raw, symbol in zip(names, symbols, strict=False):
            if symbol is not None:
                by_symbol.setdefault(symbol, []).append(str(raw))
        collisions = {s: ns for s, ns in by_symbol.items() if len(ns) > 1}
        return MappingResult([str(n) for n in names], symbols, unmapped, renamed, ambiguous, collisions)
