"""The Neo4j backend: the queries of :class:`reactomenet.ReactomeGraph`, answered over Bolt in plain Cypher.

Answers have the same types and order as the NetworkX graph's: id lists sorted, :class:`Pathway` lists sorted by
(level, name, id), :class:`PathwayHits` with the same padding rule, and :class:`GeneMask` built by the same
sparse routine (:func:`reactomenet._mask.build_mask`) from gene→pathway memberships fetched over Bolt. Sorting
happens in Python, so the server's collation cannot change an answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from reactomenet._graph import Pathway, PathwayHits, _check_gene_list, _check_level, _suggest
from reactomenet._mask import GeneMask, build_mask, effective_membership
from reactomenet._release import Release, normalize_species
from reactomenet.errors import InputError, NotFoundError
from reactomenet.neo4j._connection import Connection
from reactomenet.neo4j._schema import META_LABEL, read_metadata
from reactomenet.neo4j.errors import IncompleteLoadError, NotLoadedError

_CHUNK = 5000


def _pathway_key(p: Pathway) -> tuple[int, str, str]:
    return (p.level, p.name, p.id)


class Neo4jBackend:
    """Reactome queries against a Neo4j 5 (or any Bolt + Cypher) database loaded by :func:`load_release`.

    Example:
        db = Neo4jBackend.connect("bolt://127.0.0.1:7687", "neo4j", os.environ["PW"])
        db.level_of("R-HSA-109581")
        # 2
    """

    def __init__(self, conn: Connection, species: str, metadata: dict[str, Any]) -> None:
        """Wrap an open connection; use :meth:`connect`."""
        self._conn = conn
        self._meta = metadata
        self.species = species
        self.species_name: str = str(metadata["species_name"])
        files = list(metadata.get("files") or [])
        self.release = Release(
            dir=Path(str(metadata.get("release_dir", ""))),
            species=species,
            species_name=self.species_name,
            sha256=dict(zip(files, metadata.get("sha256") or [], strict=False)),
            files={name: Path(path) for name, path in zip(files, metadata.get("file_paths") or [], strict=False)},
            bundled=bool(metadata.get("bundled", False)),
        )

    # ------------------------------------------------------------------ connecting
    @classmethod
    def connect(
        cls,
        uri: str | None = None,
        user: str | None = None,
        password: str | None = None,
        species: str = "R-HSA",
        *,
        database: str | None = None,
    ) -> Neo4jBackend:
        """Connect to a server and check it holds a complete release of ``species``.

        Args:
            uri: Bolt URI; default ``$REACTOMENET_NEO4J_URI``, else ``bolt://127.0.0.1:7687``.
            user: User name; default ``$REACTOMENET_NEO4J_USER``, else ``neo4j``.
            password: Password; default ``$REACTOMENET_NEO4J_PASSWORD``.
            species: Reactome species prefix (``R-HSA`` human).
            database: Database name; default ``$REACTOMENET_NEO4J_DATABASE``, else the server's default.

        Raises:
            ServerUnavailableError: nothing answers Bolt at ``uri``.
            AuthenticationError: wrong user or password.
            NotLoadedError: no release of ``species`` was ever loaded there.
            IncompleteLoadError: a load was interrupted; run it again.

        Example:
            db = Neo4jBackend.connect(species="R-HSA")
        """
        prefix = normalize_species(species)
        conn = Connection.open(uri, user, password, database)
        try:
            meta = read_metadata(conn, prefix)
            where = f"{conn.uri}" + (f" database {conn.database!r}" if conn.database else "")
            if meta is None:
                others = [r["s"] for r in conn.read(f"MATCH (m:{META_LABEL}) RETURN m.species AS s ORDER BY s")]
                held = f" (it holds {', '.join(others)}; choose it with --species)" if others else ""
                raise NotLoadedError(
                    f"no Reactome release of {prefix} was loaded into {where}{held}; run `reactomenet neo4j load` first"
                )
            if not meta.get("complete"):
                raise IncompleteLoadError(
                    f"the Reactome load of {prefix} into {where} did not finish (interrupted); "
                    "run `reactomenet neo4j load` again to complete it"
                )
        except BaseException:
            conn.close()
            raise
        return cls(conn, prefix, meta)

    def close(self) -> None:
        """Close the connection.

        Example:
            db.close()
        """
        self._conn.close()

    def __enter__(self) -> Neo4jBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Neo4jBackend(uri={self._conn.uri!r}, database={self._conn.database!r}, species={self.species!r})"

    @property
    def metadata(self) -> dict[str, Any]:
        """The release metadata node's properties (hashes, counts, load times)."""
        return dict(self._meta)

    def _read(self, query: str, **params: Any) -> list[Any]:
        return self._conn.read(query, sp=self.species_name, **params)

    # ------------------------------------------------------------------ errors with suggestions
    def _unknown_pathway(self, pid: str) -> NotFoundError:
        text = str(pid).strip()
        hint = ""
        if text.count("-") >= 2 and not text.startswith(self.species + "-"):
            hint = f"; it is not a {self.species} id (choose the species with --species / species=)"
        if not hint:
            ids = [r["id"] for r in self._read("MATCH (p:Pathway) WHERE p.species = $sp RETURN p.id AS id")]
            hint = _suggest(text, ids)
        return NotFoundError(f"unknown pathway {pid!r}{hint}")

    def _unknown_gene(self, gene: str) -> NotFoundError:
        symbols = [
            r["s"]
            for r in self._read(
                "MATCH (p:Pathway)-[:HAS_GENE]->(g:Gene) WHERE p.species = $sp RETURN DISTINCT g.symbol AS s"
            )
        ]
        return NotFoundError(
            f"gene {gene!r} is in no {self.species} Reactome gene set{_suggest(str(gene), symbols)} "
            "(map aliases with GeneMapper / reactomenet map)"
        )

    def _one(self, query: str, pid: str, **params: Any) -> Any:
        """Run a query keyed by pathway id (exact, then stripped); NotFoundError when it matches nothing."""
        for candidate in dict.fromkeys((str(pid), str(pid).strip())):
            rows = self._read(query, id=candidate, **params)
            if rows:
                return rows[0]
        raise self._unknown_pathway(pid)

    # ------------------------------------------------------------------ pathways
    def has_pathway(self, pid: str) -> bool:
        """Whether ``pid`` is a pathway of this species.

        Example:
            db.has_pathway("R-HSA-109581")
            # True
        """
        return bool(self._read("MATCH (p:Pathway {id: $id}) WHERE p.species = $sp RETURN p.id AS id", id=pid))

    def pathway(self, pid: str) -> Pathway:
        """The :class:`Pathway` record of ``pid``.

        Example:
            db.pathway("R-HSA-109581").name
            # 'Apoptosis'
        """
        row = self._one(
            "MATCH (p:Pathway {id: $id}) WHERE p.species = $sp RETURN p.id AS id, p.name AS name, p.level AS level",
            pid,
        )
        return Pathway(row["id"], row["name"], int(row["level"]))

    def pathways(self, level: int | None = None) -> list[Pathway]:
        """All pathways of the species, or those at one level, sorted by (level, name, id).

        Example:
            len(db.pathways(level=1))
            # 29
        """
        if level is None:
            rows = self._read(
                "MATCH (p:Pathway) WHERE p.species = $sp RETURN p.id AS id, p.name AS name, p.level AS level"
            )
        else:
            rows = self._read(
                "MATCH (p:Pathway) WHERE p.species = $sp AND p.level = $level "
                "RETURN p.id AS id, p.name AS name, p.level AS level",
                level=_check_level(level),
            )
        return sorted((Pathway(r["id"], r["name"], int(r["level"])) for r in rows), key=_pathway_key)

    def level_of(self, pid: str) -> int:
        """The level of a pathway (1 = top level), as stored by the loader.

        Example:
            db.level_of("R-HSA-109581")
            # 2
        """
        return int(self._one("MATCH (p:Pathway {id: $id}) WHERE p.species = $sp RETURN p.level AS level", pid)["level"])

    def levels(self) -> dict[int, int]:
        """How many pathways sit at each level.

        Example:
            db.levels()[1]
            # 29
        """
        rows = self._read("MATCH (p:Pathway) WHERE p.species = $sp RETURN p.level AS level, count(p) AS n")
        return {int(r["level"]): int(r["n"]) for r in sorted(rows, key=lambda r: r["level"])}

    def _related(self, pid: str, pattern: str) -> list[str]:
        row = self._one(
            f"MATCH (p:Pathway {{id: $id}}) WHERE p.species = $sp OPTIONAL MATCH {pattern} "
            "RETURN p.id AS id, collect(DISTINCT q.id) AS ids",
            pid,
        )
        return sorted(set(row["ids"]))

    def children(self, pid: str) -> list[str]:
        """The direct sub-pathways of ``pid``, sorted.

        Example:
            "R-HSA-109606" in db.children("R-HSA-109581")
            # True
        """
        return self._related(pid, "(p)-[:HAS_CHILD]->(q:Pathway)")

    def parents(self, pid: str) -> list[str]:
        """The direct super-pathways of ``pid``, sorted.

        Example:
            db.parents("R-HSA-109581")
            # ['R-HSA-5357801']
        """
        return self._related(pid, "(p)<-[:HAS_CHILD]-(q:Pathway)")

    def ancestors(self, pid: str) -> list[str]:
        """Every pathway above ``pid`` (through any parent), sorted.

        Example:
            db.ancestors("R-HSA-109581")
            # ['R-HSA-5357801']
        """
        return self._related(pid, "(p)<-[:HAS_CHILD*1..]-(q:Pathway)")

    def descendants(self, pid: str) -> list[str]:
        """Every pathway below ``pid``, sorted.

        Example:
            "R-HSA-109606" in db.descendants("R-HSA-5357801")
            # True
        """
        return self._related(pid, "(p)-[:HAS_CHILD*1..]->(q:Pathway)")

    def search(self, text: str, *, limit: int | None = None) -> list[Pathway]:
        """Pathways whose name contains ``text`` (case-insensitive), or whose id is ``text``; best matches first.

        Example:
            db.search("apoptosis")[0].id
            # 'R-HSA-109581'
        """
        needle = str(text).strip().lower()
        if not needle:
            raise InputError("search text is empty; give part of a pathway name, e.g. 'apoptosis'")
        rows = self._read(
            "MATCH (p:Pathway) WHERE p.species = $sp AND (toLower(p.name) CONTAINS $needle OR toLower(p.id) = $needle) "
            "RETURN p.id AS id, p.name AS name, p.level AS level",
            needle=needle,
        )
        # Filter again with Python's lower(): the answer must not depend on the server's case folding.
        hits = [
            Pathway(r["id"], r["name"], int(r["level"]))
            for r in rows
            if needle in r["name"].lower() or r["id"].lower() == needle
        ]
        hits.sort(key=lambda p: (p.name.lower() != needle, not p.name.lower().startswith(needle), p.level, p.name))
        return hits[:limit] if limit is not None else hits

    # ------------------------------------------------------------------ genes
    def has_gene(self, gene: str) -> bool:
        """Whether ``gene`` is in any gene set of this species.

        Example:
            db.has_gene("TP53")
            # True
        """
        rows = self._read(
            "MATCH (g:Gene {symbol: $s})<-[:HAS_GENE]-(p:Pathway) WHERE p.species = $sp RETURN p.id AS id LIMIT 1",
            s=gene,
        )
        return bool(rows)

    def genes(self) -> list[str]:
        """Every gene symbol in the species' gene sets, sorted.

        Example:
            "TP53" in db.genes()
            # True
        """
        rows = self._read("MATCH (p:Pathway)-[:HAS_GENE]->(g:Gene) WHERE p.species = $sp RETURN DISTINCT g.symbol AS s")
        return sorted(r["s"] for r in rows)

    def genes_of(self, pid: str, *, inclusive: bool = False) -> list[str]:
        """The genes of a pathway, sorted; ``inclusive=True`` takes the union over its descendants too.

        Example:
            "CASP3" in db.genes_of("R-HSA-109581")
            # True
        """
        if inclusive:
            pattern, collect = "(p)-[:HAS_CHILD*0..]->(:Pathway)-[:HAS_GENE]->(q:Gene)", "collect(DISTINCT q.symbol)"
        else:  # one HAS_GENE link per pair (MERGE), so no DISTINCT (which costs ArcadeDB a few ms)
            pattern, collect = "(p)-[:HAS_GENE]->(q:Gene)", "collect(q.symbol)"
        row = self._one(
            f"MATCH (p:Pathway {{id: $id}}) WHERE p.species = $sp OPTIONAL MATCH {pattern} "
            f"RETURN p.id AS id, {collect} AS genes",
            pid,
        )
        return sorted(set(row["genes"]))

    def _memberships(self, genes: Sequence[str], inclusive: bool) -> dict[str, list[Pathway]]:
        """``{gene: its pathways}`` for the genes that have any, fetched in batches of ``UNWIND``."""
        path = "<-[:HAS_GENE]-(:Pathway)<-[:HAS_CHILD*0..]-(p:Pathway)" if inclusive else "<-[:HAS_GENE]-(p:Pathway)"
        query = (
            f"UNWIND $genes AS s MATCH (g:Gene {{symbol: s}}){path} WHERE p.species = $sp "
            "RETURN s AS gene, p.id AS id, p.name AS name, p.level AS level"
        )
        found: dict[str, dict[str, Pathway]] = {}
        for start in range(0, len(genes), _CHUNK):
            for r in self._read(query, genes=list(genes[start : start + _CHUNK])):
                found.setdefault(r["gene"], {})[r["id"]] = Pathway(r["id"], r["name"], int(r["level"]))
        return {gene: list(pathways.values()) for gene, pathways in found.items()}

    def pathways_of(self, gene: str, level: int | Literal["all"] = "all", *, inclusive: bool = False) -> PathwayHits:
        """The pathways at ``level`` whose gene set holds ``gene`` (P-NET padding reported in ``padded``).

        Example:
            "R-HSA-109581" in db.pathways_of("TP53", level=2).ids
            # True
        """
        found = self._memberships([gene], inclusive).get(gene)
        if not found:
            raise self._unknown_gene(gene)
        if level != "all":
            level = _check_level(level)
        pathways = sorted(found, key=_pathway_key)
        deepest = max(p.level for p in pathways)
        if level == "all":
            return PathwayHits(gene, "all", pathways, False, deepest)
        target = min(level, deepest)
        return PathwayHits(gene, level, [p for p in pathways if p.level == target], deepest < level, deepest)

    def mask(self, genes: Sequence[str], level: int = 3, *, inclusive: bool = False) -> GeneMask:
        """Which pairs of ``genes`` share a pathway at ``level`` (plus the diagonal), as a sparse :class:`GeneMask`.

        The gene→pathway memberships of the listed genes come over Bolt in batches; the mask is then built by
        the same sparse routine as the NetworkX graph's (:func:`reactomenet._mask.build_mask`).

        Example:
            db.mask(["TP53", "MDM2", "NOT_A_GENE"]).missing
            # ['NOT_A_GENE']
        """
        level = _check_level(level)
        genes = _check_gene_list(genes)
        members = self._memberships(genes, inclusive)
        present = [g for g in genes if g in members]
        gene_index = {g: k for k, g in enumerate(present)}
        pids = sorted({p.id for g in present for p in members[g]})
        col = {pid: k for k, pid in enumerate(pids)}
        col_level = np.zeros(len(pids), dtype=np.int64)
        rows: list[int] = []
        cols: list[int] = []
        for g in present:
            for p in members[g]:
                rows.append(gene_index[g])
                cols.append(col[p.id])
                col_level[col[p.id]] = p.level
        member = sp.csr_matrix(
            (np.ones(len(rows), dtype=bool), (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
            shape=(len(present), len(pids)),
        )
        member.sum_duplicates()
        member.sort_indices()
        effective, padded = effective_membership(member, col_level, level)
        return build_mask(
            genes,
            gene_index,
            member,
            effective,
            padded,
            level=level,
            metadata={**self.release.provenance(), "level": level, "inclusive": bool(inclusive)},
        )
