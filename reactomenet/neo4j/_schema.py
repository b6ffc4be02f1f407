"""The graph schema ReactomeNet writes to Neo4j, in one place.

Nodes: ``(:Pathway {id, name, species, level})`` (species as Reactome names it, e.g. "Homo sapiens"),
``(:Gene {symbol})`` (shared by all species), and one ``(:ReactomeRelease {species, ...})`` per loaded species
holding the release hashes, counts and the ``complete`` flag (set last by the loader).
Relationships: ``(:Pathway)-[:HAS_CHILD]->(:Pathway)`` (parent to child) and ``(:Pathway)-[:HAS_GENE]->(:Gene)``
(the GMT set as annotated). Uniqueness constraints on ``Pathway.id``, ``Gene.symbol`` and ``ReactomeRelease.species``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reactomenet.neo4j._connection import Connection

META_LABEL = "ReactomeRelease"

CONSTRAINTS = (
    "CREATE CONSTRAINT reactomenet_pathway_id IF NOT EXISTS FOR (p:Pathway) REQUIRE p.id IS UNIQUE",
    "CREATE CONSTRAINT reactomenet_gene_symbol IF NOT EXISTS FOR (g:Gene) REQUIRE g.symbol IS UNIQUE",
    f"CREATE CONSTRAINT reactomenet_release_species IF NOT EXISTS FOR (m:{META_LABEL}) REQUIRE m.species IS UNIQUE",
)


def read_metadata(conn: Connection, species: str) -> dict[str, Any] | None:
    """The properties of the release node of ``species`` (None when the species was never loaded).

    Example:
        read_metadata(conn, "R-HSA")["complete"]
        # True
    """
    rows = conn.read(f"MATCH (m:{META_LABEL} {{species: $species}}) RETURN properties(m) AS m", species=species)
    return dict(rows[0]["m"]) if rows else None


def all_metadata(conn: Connection) -> list[dict[str, Any]]:
    """The properties of every release node, sorted by species.

    Example:
        [m["species"] for m in all_metadata(conn)]
        # ['R-HSA']
    """
    rows = conn.read(f"MATCH (m:{META_LABEL}) RETURN properties(m) AS m")
    return sorted((dict(r["m"]) for r in rows), key=lambda m: str(m.get("species")))
