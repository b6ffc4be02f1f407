"""The Reactome hierarchy of one species as a NetworkX graph, with the queries people ask of it.

Levels: a top-level pathway (no parent within the species) is level 1; every other pathway's level is
1 + its *shortest* distance from a top-level pathway. A pathway with several parents therefore takes the
level it would have under its *shallowest* parent (minimum parent level + 1). This is breadth-first
search from all top-level pathways at once, so every pathway has exactly one level and at least one
parent one level up.
"""

from __future__ import annotations

import difflib
import numbers
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from reactomenet._mask import GeneMask, build_mask, effective_membership
from reactomenet._release import (
    GMT_FILE,
    PATHWAYS_FILE,
    RELATIONS_FILE,
    Release,
    find_release_file,
    normalize_species,
    parse_gmt,
    parse_pathways,
    parse_relations,
    read_release_bytes,
    resolve_release_dir,
    sha256_hex,
)
from reactomenet.errors import InputError, NotFoundError, ReleaseFormatError

if TYPE_CHECKING:  # networkx, numpy and scipy load on first use, not when a query command starts (docs/performance.md)
    import networkx as nx
    import numpy as np
    import scipy.sparse as sp


@dataclass(frozen=True, order=True)
class Pathway:
    """One pathway: stable id, name and level (1 = top level).

    Example:
        >>> Pathway("R-HSA-109581", "Apoptosis", 2).level
        2
    """

    id: str
    name: str
    level: int


@dataclass(frozen=True)
class PathwayHits:
    """The answer of :meth:`ReactomeGraph.pathways_of`.

    Attributes:
        gene: The gene asked about.
        level: The level asked for (an int, or ``"all"``).
        pathways: The pathways, sorted by (level, name, id).
        padded: True when the gene's deepest annotation is shallower than ``level``; ``pathways`` then holds the
            pathways at its deepest level (P-NET's padding), not pathways at ``level``.
        deepest_level: The level of the gene's deepest pathway.

    Example:
        >>> from reactomenet import ReactomeGraph
        >>> hits = ReactomeGraph.load().pathways_of("TP53", level=1)
        >>> hits.padded, all(p.level == 1 for p in hits)
        (False, True)
    """

    gene: str
    level: int | str
    pathways: list[Pathway]
    padded: bool
    deepest_level: int

    def __iter__(self) -> Iterator[Pathway]:
        return iter(self.pathways)

    def __len__(self) -> int:
        return len(self.pathways)

    @property
    def ids(self) -> list[str]:
        """The pathway ids, in the order of :attr:`pathways`."""
        return [p.id for p in self.pathways]


_CACHE: dict[tuple, ReactomeGraph] = {}
_CACHE_LOCK = threading.Lock()


def _suggest(word: str, candidates: Iterable[str], *, n: int = 3) -> str:
    pool = list(candidates)
    upper = {c.upper(): c for c in pool}
    found: list[str] = []
    if word.upper() in upper and upper[word.upper()] != word:
        found.append(upper[word.upper()])
    found += [m for m in difflib.get_close_matches(word, pool, n=n, cutoff=0.75) if m not in found]
    return f"; did you mean {', '.join(found[:n])}?" if found else ""


class ReactomeGraph:
    """The Reactome pathway hierarchy of one species, on NetworkX.

    ``graph`` is a :class:`networkx.DiGraph` whose pathway nodes (``kind="pathway"``) carry ``id``, ``name``,
    ``species`` and ``level``, whose gene nodes (``kind="gene"``, keyed by symbol) come from the GMT sets, and
    whose edges are parent→child (``kind="parent_of"``) and pathway→gene (``kind="has_gene"``, as annotated in
    the GMT). ``hierarchy`` is the pathway-only part. Build one with :meth:`load`.

    Example:
        >>> g = ReactomeGraph.load()
        >>> g.level_of("R-HSA-109581"), g.parents("R-HSA-109581")
        (2, ['R-HSA-5357801'])
    """

    def __init__(
        self,
        release: Release,
        pathways: Sequence[tuple[str, str]],
        relations: Sequence[tuple[str, str]],
        gene_sets: dict[str, tuple[str, ...]],
    ) -> None:
        """Build from parsed, species-filtered rows; most users call :meth:`load` instead.

        Args:
            release: Provenance of the files.
            pathways: ``(id, name)`` of every pathway of the species.
            relations: ``(parent, child)`` links within the species.
            gene_sets: ``{pathway id: genes}`` as annotated in the GMT.
        """
        self.release = release
        self._names: dict[str, str] = dict(pathways)
        self._children: dict[str, list[str]] = {pid: [] for pid in self._names}
        self._parents: dict[str, list[str]] = {pid: [] for pid in self._names}
        for parent, child in relations:
            self._children[parent].append(child)
            self._parents[child].append(parent)
        for table in (self._children, self._parents):
            for pid in table:
                table[pid] = sorted(set(table[pid]))
        self._levels = self._compute_levels()
        self._sets: dict[str, tuple[str, ...]] = {pid: tuple(sorted(genes)) for pid, genes in gene_sets.items()}
        self._relations = list(relations)
        self._hierarchy: nx.DiGraph | None = None
        self._graph: nx.DiGraph | None = None

        # gene -> pathways whose set (as annotated) holds it; the inclusive version is built on demand.
        self._genes: list[str] = sorted({g for genes in self._sets.values() for g in genes})
        self._memberships: dict[bool, dict[str, tuple[str, ...]]] = {}
        self._membership_matrix: dict[bool, sp.csr_matrix] = {}
        self._effective: dict[tuple[int, bool], tuple[sp.csr_matrix, np.ndarray]] = {}
        self._pathway_index = {pid: k for k, pid in enumerate(sorted(self._names))}
        self._pathway_ids = sorted(self._names)
        self._gene_index = {g: k for k, g in enumerate(self._genes)}
        self._lock = threading.RLock()  # re-entrant: graph and _membership build the hierarchy while holding it

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(
        cls,
        release: str | os.PathLike[str] | None = None,
        *,
        species: str = "R-HSA",
        cache: bool = True,
    ) -> ReactomeGraph:
        """Read a release folder (plain or .gz files) and build the graph of one species.

        Args:
            release: A folder with the three Reactome files; default ``$REACTOMENET_RELEASE``, else the
                bundled copy.
            species: Id prefix of the species (``"R-HSA"`` human, ``"R-MMU"`` mouse, …).
            cache: Reuse a graph already built in this process from the same unchanged files.

        Raises:
            NotFoundError: The folder or a file is missing, or the species has no pathways.
            ReleaseFormatError: A file is malformed or truncated (the message names file and line).

        Example:
            >>> g = ReactomeGraph.load(species="R-HSA")
            >>> g.release.species_name
            'Homo sapiens'
        """
        prefix = normalize_species(species)
        folder, bundled = resolve_release_dir(release)
        paths = {name: find_release_file(folder, name) for name in (PATHWAYS_FILE, RELATIONS_FILE, GMT_FILE)}
        key = (
            str(folder.resolve()),
            prefix,
            tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths.values()),
        )
        if cache:
            with _CACHE_LOCK:
                if key in _CACHE:
                    return _CACHE[key]
        graph = cls._from_files(folder, paths, prefix, bundled)
        if cache:
            with _CACHE_LOCK:
                _CACHE[key] = graph
        return graph

    @classmethod
    def _from_files(cls, folder: Path, paths: dict[str, Path], prefix: str, bundled: bool) -> ReactomeGraph:
        data = {name: read_release_bytes(path) for name, path in paths.items()}
        sha = {name: sha256_hex(blob) for name, blob in data.items()}
        head = prefix + "-"
        all_rows = parse_pathways(data[PATHWAYS_FILE], paths[PATHWAYS_FILE].name)
        rows = [r for r in all_rows if r[0].startswith(head)]
        if not rows:
            known = sorted({r[0].rsplit("-", 1)[0] for r in all_rows})
            raise NotFoundError(
                f"no pathways of species {prefix} in {paths[PATHWAYS_FILE]}; this release has {', '.join(known)}"
            )
        species_names = {r[2] for r in rows}
        if len(species_names) != 1:
            raise ReleaseFormatError(
                f"{paths[PATHWAYS_FILE].name}: pathways with prefix {prefix} name several species "
                f"({', '.join(sorted(species_names))}); the file is malformed"
            )
        ids = {r[0] for r in rows}
        relations = []
        rel_name = paths[RELATIONS_FILE].name
        for lineno, (parent, child) in enumerate(parse_relations(data[RELATIONS_FILE], rel_name), start=1):
            inside = (parent.startswith(head), child.startswith(head))
            if not any(inside):
                continue
            if not all(inside):
                raise ReleaseFormatError(f"{rel_name} line {lineno}: link {parent} -> {child} crosses species")
            for pid in (parent, child):
                if pid not in ids:
                    raise ReleaseFormatError(
                        f"{rel_name} line {lineno}: pathway {pid} is not in {paths[PATHWAYS_FILE].name}; "
                        "one of the files is truncated or from another release"
                    )
            relations.append((parent, child))
        gmt_name = paths[GMT_FILE].name
        gene_sets: dict[str, tuple[str, ...]] = {}
        for lineno, (_, pid, genes) in enumerate(parse_gmt(data[GMT_FILE], gmt_name), start=1):
            if not pid.startswith(head):
                continue
            if pid not in ids:
                raise ReleaseFormatError(
                    f"{gmt_name} line {lineno}: pathway {pid} is not in {paths[PATHWAYS_FILE].name}; "
                    "one of the files is truncated or from another release"
                )
            gene_sets[pid] = genes
        release = Release(
            dir=folder,
            species=prefix,
            species_name=species_names.pop(),
            sha256=sha,
            files=dict(paths),
            bundled=bundled,
        )
        return cls(release, [(r[0], r[1]) for r in rows], relations, gene_sets)

    def _compute_levels(self) -> dict[str, int]:
        roots = sorted(pid for pid, parents in self._parents.items() if not parents)
        levels = dict.fromkeys(roots, 1)
        queue = deque(roots)
        while queue:
            pid = queue.popleft()
            for child in self._children[pid]:
                if child not in levels:
                    levels[child] = levels[pid] + 1
                    queue.append(child)
        unreached = sorted(set(self._names) - set(levels))
        if unreached:
            raise ReleaseFormatError(
                f"{RELATIONS_FILE}: {len(unreached)} pathway(s) (e.g. {unreached[0]}) lie on a parent cycle with no "
                "top-level ancestor; the relation file is malformed"
            )
        if _has_cycle(self._children):
            raise ReleaseFormatError(
                f"{RELATIONS_FILE}: the parent -> child links contain a cycle; the file is malformed"
            )
        return levels

    # ------------------------------------------------------------------ graph views
    @property
    def hierarchy(self) -> nx.DiGraph:
        """The pathway-only NetworkX graph: pathway nodes and parent→child edges (built on first use).

        Example:
            >>> g = ReactomeGraph.load()
            >>> g.hierarchy.nodes["R-HSA-109581"]["level"], "R-HSA-109581" in g.hierarchy["R-HSA-5357801"]
            (2, True)
        """
        with self._lock:
            if self._hierarchy is None:
                import networkx as nx

                hierarchy = nx.DiGraph()
                species = self.release.species_name
                hierarchy.add_nodes_from(
                    (pid, {"kind": "pathway", "id": pid, "name": name, "species": species, "level": self._levels[pid]})
                    for pid, name in self._names.items()
                )
                hierarchy.add_edges_from(self._relations, kind="parent_of")
                self._hierarchy = hierarchy
            return self._hierarchy

    @property
    def graph(self) -> nx.DiGraph:
        """The full NetworkX graph: pathway and gene nodes, parent→child and pathway→gene edges (built on first use).

        Example:
            >>> g = ReactomeGraph.load()
            >>> g.graph.nodes["R-HSA-109581"]["level"], g.graph.nodes["TP53"]["kind"]
            (2, 'gene')
        """
        with self._lock:
            if self._graph is None:
                full = self.hierarchy.copy()
                full.add_nodes_from((gene, {"kind": "gene", "id": gene}) for gene in self._genes)
                full.add_edges_from(
                    ((pid, gene) for pid, genes in self._sets.items() for gene in genes), kind="has_gene"
                )
                self._graph = full
            return self._graph

    @property
    def species(self) -> str:
        """The species id prefix, e.g. ``"R-HSA"``."""
        return self.release.species

    def __repr__(self) -> str:
        return (
            f"ReactomeGraph(species={self.species!r}, pathways={len(self._names)}, genes={len(self._genes)}, "
            f"release={str(self.release.dir)!r})"
        )

    # ------------------------------------------------------------------ lookups
    def _check_pathway(self, pid: str) -> str:
        if pid in self._names:
            return pid
        text = str(pid).strip()
        if text in self._names:
            return text
        hint = ""
        if text.count("-") >= 2 and not text.startswith(self.species + "-"):
            hint = f"; it is not a {self.species} id (choose the species with --species / species=)"
        raise NotFoundError(f"unknown pathway {pid!r}{hint or _suggest(text, self._names)}")

    def _check_gene(self, gene: str, inclusive: bool = False) -> tuple[str, ...]:
        members = self._membership(inclusive)
        if gene in members:
            return members[gene]
        raise NotFoundError(
            f"gene {gene!r} is in no {self.species} Reactome gene set{_suggest(str(gene), self._genes)} "
            "(map aliases with GeneMapper / reactomenet map)"
        )

    def _pathway(self, pid: str) -> Pathway:
        return Pathway(pid, self._names[pid], self._levels[pid])

    def has_pathway(self, pid: str) -> bool:
        """Whether ``pid`` is a pathway of this species.

        Example:
            >>> ReactomeGraph.load().has_pathway("R-HSA-109581")
            True
        """
        return pid in self._names

    def has_gene(self, gene: str) -> bool:
        """Whether ``gene`` is in any gene set of this species.

        Example:
            >>> ReactomeGraph.load().has_gene("TP53")
            True
        """
        return gene in self._gene_index

    def genes(self) -> list[str]:
        """Every gene symbol in the species' gene sets, sorted.

        Example:
            >>> "TP53" in ReactomeGraph.load().genes()
            True
        """
        return list(self._genes)

    def pathway(self, pid: str) -> Pathway:
        """The :class:`Pathway` record of ``pid``.

        Example:
            >>> ReactomeGraph.load().pathway("R-HSA-109581").name
            'Apoptosis'
        """
        return self._pathway(self._check_pathway(pid))

    def pathways(self, level: int | None = None) -> list[Pathway]:
        """All pathways of the species, or those at one level, sorted by (level, name, id).

        Example:
            >>> len(ReactomeGraph.load().pathways(level=1))
            29
        """
        if level is not None:
            level = _check_level(level)
        found = [self._pathway(pid) for pid in self._names if level is None or self._levels[pid] == level]
        return sorted(found, key=lambda p: (p.level, p.name, p.id))

    def level_of(self, pid: str) -> int:
        """The level of a pathway (1 = top level; 1 + shortest distance from a top-level pathway).

        Example:
            >>> ReactomeGraph.load().level_of("R-HSA-109581")
            2
        """
        return self._levels[self._check_pathway(pid)]

    def levels(self) -> dict[int, int]:
        """How many pathways sit at each level.

        Example:
            >>> ReactomeGraph.load().levels()[1]
            29
        """
        counts: dict[int, int] = {}
        for level in self._levels.values():
            counts[level] = counts.get(level, 0) + 1
        return dict(sorted(counts.items()))

    def children(self, pid: str) -> list[str]:
        """The direct sub-pathways of ``pid``, sorted.

        Example:
            >>> "R-HSA-109606" in ReactomeGraph.load().children("R-HSA-109581")
            True
        """
        return list(self._children[self._check_pathway(pid)])

    def parents(self, pid: str) -> list[str]:
        """The direct super-pathways of ``pid``, sorted (several for some pathways).

        Example:
            >>> ReactomeGraph.load().parents("R-HSA-109581")
            ['R-HSA-5357801']
        """
        return list(self._parents[self._check_pathway(pid)])

    def ancestors(self, pid: str) -> list[str]:
        """Every pathway above ``pid`` (through any parent), sorted.

        Example:
            >>> ReactomeGraph.load().ancestors("R-HSA-109581")
            ['R-HSA-5357801']
        """
        import networkx as nx

        return sorted(nx.ancestors(self.hierarchy, self._check_pathway(pid)))

    def descendants(self, pid: str) -> list[str]:
        """Every pathway below ``pid``, sorted.

        Example:
            >>> "R-HSA-109606" in ReactomeGraph.load().descendants("R-HSA-5357801")
            True
        """
        import networkx as nx

        return sorted(nx.descendants(self.hierarchy, self._check_pathway(pid)))

    def search(self, text: str, *, limit: int | None = None) -> list[Pathway]:
        """Pathways whose name contains ``text`` (case-insensitive), or whose id is ``text``.

        Exact name matches come first, then names starting with ``text``, then by (level, name).

        Example:
            >>> ReactomeGraph.load().search("apoptosis")[0].id
            'R-HSA-109581'
        """
        needle = str(text).strip().lower()
        if not needle:
            raise InputError("search text is empty; give part of a pathway name, e.g. 'apoptosis'")
        hits = [
            self._pathway(pid) for pid, name in self._names.items() if needle in name.lower() or pid.lower() == needle
        ]
        hits.sort(key=lambda p: (p.name.lower() != needle, not p.name.lower().startswith(needle), p.level, p.name))
        return hits[:limit] if limit is not None else hits

    # ------------------------------------------------------------------ genes
    def genes_of(self, pid: str, *, inclusive: bool = False) -> list[str]:
        """The genes of a pathway, sorted.

        Args:
            pid: Pathway stable id.
            inclusive: ``False``: the GMT set as annotated (Reactome's sets already hold the genes of
                sub-pathways). ``True``: the union of the pathway's set and the sets of all its descendants,
                so releases whose sets are not inclusive give the same answer.

        Example:
            >>> g = ReactomeGraph.load()
            >>> "CASP3" in g.genes_of("R-HSA-109581")
            True
        """
        pid = self._check_pathway(pid)
        if not inclusive:
            return list(self._sets.get(pid, ()))
        import networkx as nx

        genes = set(self._sets.get(pid, ()))
        for sub in nx.descendants(self.hierarchy, pid):
            genes.update(self._sets.get(sub, ()))
        return sorted(genes)

    def _membership(self, inclusive: bool) -> dict[str, tuple[str, ...]]:
        inclusive = bool(inclusive)
        if inclusive not in self._memberships:
            with self._lock:
                if inclusive not in self._memberships:
                    sets: dict[str, set[str]] = {pid: set(genes) for pid, genes in self._sets.items()}
                    if inclusive:
                        import networkx as nx

                        for pid in reversed(list(nx.topological_sort(self.hierarchy))):
                            own = sets.setdefault(pid, set())
                            for child in self._children[pid]:
                                own |= sets.get(child, set())
                    members: dict[str, list[str]] = {}
                    for pid, genes in sets.items():
                        for gene in genes:
                            members.setdefault(gene, []).append(pid)
                    order = self._levels
                    self._memberships[inclusive] = {
                        gene: tuple(sorted(pids, key=lambda p: (order[p], self._names[p], p)))
                        for gene, pids in members.items()
                    }
        return self._memberships[inclusive]

    def pathways_of(self, gene: str, level: int | Literal["all"] = "all", *, inclusive: bool = False) -> PathwayHits:
        """The pathways at ``level`` whose gene set holds ``gene``.

        A gene whose deepest pathway is shallower than ``level`` keeps the pathways at its deepest level
        (P-NET's padding); the answer then has ``padded=True``.

        Args:
            gene: HGNC symbol (map aliases first with :class:`GeneMapper`).
            level: 1, 2, 3, … or ``"all"`` (every pathway holding the gene).
            inclusive: Use the union-over-descendants sets (see :meth:`genes_of`).

        Raises:
            NotFoundError: The gene is in no gene set (close matches suggested).

        Example:
            >>> hits = ReactomeGraph.load().pathways_of("TP53", level=2)
            >>> "R-HSA-109581" in hits.ids
            True
        """
        pids = self._check_gene(gene, inclusive)
        deepest = max(self._levels[p] for p in pids)
        if level == "all":
            return PathwayHits(gene, "all", [self._pathway(p) for p in pids], False, deepest)
        level = _check_level(level)
        target = min(level, deepest)
        return PathwayHits(
            gene,
            level,
            [self._pathway(p) for p in pids if self._levels[p] == target],
            deepest < level,
            deepest,
        )

    # ------------------------------------------------------------------ masks
    def membership_matrix(self, *, inclusive: bool = False) -> tuple[sp.csr_matrix, list[str], list[str]]:
        """The sparse gene × pathway membership matrix (bool CSR) with its row genes and column pathway ids.

        Example:
            >>> m, genes, pids = ReactomeGraph.load().membership_matrix()
            >>> m.shape == (len(genes), len(pids))
            True
        """
        inclusive = bool(inclusive)
        if inclusive not in self._membership_matrix:
            import numpy as np
            import scipy.sparse as sp

            members = self._membership(inclusive)
            rows: list[int] = []
            cols: list[int] = []
            for gene, pids in members.items():
                r = self._gene_index[gene]
                rows.extend([r] * len(pids))
                cols.extend(self._pathway_index[p] for p in pids)
            matrix = sp.csr_matrix(
                (np.ones(len(rows), dtype=bool), (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
                shape=(len(self._genes), len(self._pathway_ids)),
            )
            matrix.sort_indices()
            self._membership_matrix[inclusive] = matrix
        return self._membership_matrix[inclusive], self._genes, self._pathway_ids

    def effective_matrix(self, level: int, *, inclusive: bool = False) -> tuple[sp.csr_matrix, np.ndarray]:
        """Gene × pathway matrix of each gene's level-``level`` pathways (padded genes: their deepest ones).

        Returns:
            The bool CSR matrix (rows and columns as in :meth:`membership_matrix`) and a bool array saying
            which genes are padded.

        Example:
            >>> e, padded = ReactomeGraph.load().effective_matrix(3)
            >>> e.shape[0] == padded.shape[0]
            True
        """
        level = _check_level(level)
        key = (level, bool(inclusive))
        if key not in self._effective:
            import numpy as np

            member, _, pids = self.membership_matrix(inclusive=inclusive)
            col_level = np.asarray([self._levels[p] for p in pids], dtype=np.int64)
            self._effective[key] = effective_membership(member, col_level, level)
        return self._effective[key]

    def mask(self, genes: Sequence[str], level: int = 3, *, inclusive: bool = False) -> GeneMask:
        """Which pairs of ``genes`` share a pathway at ``level`` (plus the diagonal), as a sparse :class:`GeneMask`.

        allowed(i, j) iff i == j, or some level-``level`` pathway holds both genes. A padded gene (deepest
        pathway shallower than ``level``) stands in its deepest pathways instead: it is allowed with every gene
        of those pathways, and nothing else. Genes in no gene set are listed in ``missing`` (diagonal only).

        Args:
            genes: Ordered gene symbols; duplicates or an empty list raise InputError.
            level: Pathway level (default 3).
            inclusive: Use the union-over-descendants sets.

        Example:
            >>> m = ReactomeGraph.load().mask(["TP53", "MDM2", "NOT_A_GENE"], level=3)
            >>> m.missing
            ['NOT_A_GENE']
        """
        level = _check_level(level)
        genes = _check_gene_list(genes)
        member, _, _ = self.membership_matrix(inclusive=inclusive)
        eff, padded = self.effective_matrix(level, inclusive=inclusive)
        return build_mask(
            genes,
            self._gene_index,
            member,
            eff,
            padded,
            level=level,
            metadata={**self.release.provenance(), "level": level, "inclusive": bool(inclusive)},
        )


def _has_cycle(children: dict[str, list[str]]) -> bool:
    """Whether the parent -> child links hold a cycle (Kahn's algorithm, so loading needs no networkx).

    Example:
        >>> _has_cycle({"a": ["b"], "b": []}), _has_cycle({"a": ["b"], "b": ["c"], "c": ["b"]})
        (False, True)
    """
    indegree = dict.fromkeys(children, 0)
    for kids in children.values():
        for child in kids:
            indegree[child] += 1
    ready = [pid for pid, n in indegree.items() if n == 0]
    done = 0
    while ready:
        pid = ready.pop()
        done += 1
        for child in children[pid]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    return done != len(indegree)


def _check_level(level: object) -> int:
    if isinstance(level, bool) or not isinstance(level, numbers.Integral):  # numpy ints are Integral
        try:
            level = int(str(level))
        except ValueError:
            raise InputError(
                f"level {level!r} is not a whole number; use 1, 2, 3, … (or 'all' for pathways_of)"
            ) from None
    if int(level) < 1:
        raise InputError(f"level {level} is below 1; levels start at 1 (top-level pathways)")
    return int(level)


def _check_gene_list(genes: Sequence[str]) -> list[str]:
    if isinstance(genes, str):
        raise InputError("genes must be a list of symbols, not one string")
    out = [str(g) for g in genes]
    if not out:
        raise InputError("the gene list is empty; give at least one gene symbol")
    seen: set[str] = set()
    dups: list[str] = []
    for g in out:
        if not g.strip():
            raise InputError("the gene list holds an empty name; remove blank entries")
        if g in seen and g not in dups:
            dups.append(g)
        seen.add(g)
    if dups:
        shown = ", ".join(dups[:5]) + (" …" if len(dups) > 5 else "")
        raise InputError(f"the gene list has {len(dups)} duplicated gene(s): {shown}; list each gene once")
    return out
