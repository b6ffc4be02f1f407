"""Benchmark: full human load into a Bolt server, and query latency over Bolt next to NetworkX.

Targets (issue 3): full human load ≤ 30 s, median Bolt query latency ≤ 5 ms. Prints figures, never asserts.

    python benchmarks/bench_neo4j.py                    # starts a temporary local ArcadeDB server
    REACTOMENET_NEO4J_PASSWORD=… python benchmarks/bench_neo4j.py --uri bolt://host:7687 --user neo4j \\
        --database bench                                # an existing server (the database is overwritten)
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from reactomenet import ReactomeGraph
from reactomenet.neo4j import Neo4jBackend, load_release
from reactomenet.neo4j.server import start_server, stop_server


def median_ms(func: Callable[[Any], Any], items: Sequence[Any]) -> float:
    """Median wall time of ``func(item)`` over ``items``, in milliseconds."""
    times = []
    for item in items:
        start = time.perf_counter()
        func(item)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uri", default=None, help="existing server (default: start a temporary ArcadeDB)")
    parser.add_argument("--user", default="neo4j")
    parser.add_argument("--database", default=None)
    parser.add_argument("--queries", type=int, default=300, help="queries per kind")
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()
    os.environ.setdefault("BIODSNN_NO_PROGRESS", "1")

    start = time.perf_counter()
    graph = ReactomeGraph.load(cache=False)
    parse_s = time.perf_counter() - start

    tmp = None
    if args.uri is None:
        tmp = tempfile.mkdtemp(prefix="bench-arcadedb-")
        password = secrets.token_urlsafe(16)
        t0 = time.perf_counter()
        info = start_server(tmp, password=password)
        print(f"local ArcadeDB server started in {time.perf_counter() - t0:.1f} s ({info.uri})")
        uri, user, database = info.uri, "root", None
    else:
        uri, user, database = args.uri, args.user, args.database
        password = os.environ["REACTOMENET_NEO4J_PASSWORD"]
    try:
        first = load_release(graph, uri, user, password, args.batch_size, replace=True, database=database)
        again = load_release(graph, uri, user, password, args.batch_size, database=database)
        print(
            f"release: {first.pathways} pathways, {first.genes} genes, {first.child_links} parent→child links, "
            f"{first.gene_links} pathway→gene links"
        )
        print(f"NetworkX parse + build: {parse_s:.2f} s")
        print(
            f"full human load over Bolt: {first.seconds:.1f} s (target ≤ 30 s); re-run (idempotent): "
            f"{again.seconds:.1f} s"
        )

        db = Neo4jBackend.connect(uri, user, password, database=database)
        rng = np.random.default_rng(0)
        pids = list(rng.choice([p.id for p in graph.pathways()], size=args.queries, replace=True))
        genes = list(rng.choice(graph.genes(), size=args.queries, replace=True))
        mask_genes = list(rng.choice(graph.genes(), size=500, replace=False))
        kinds: list[tuple[str, Callable[[Any, Any], Any], Sequence[Any]]] = [
            ("level_of", lambda g, x: g.level_of(x), pids),
            ("children", lambda g, x: g.children(x), pids),
            ("parents", lambda g, x: g.parents(x), pids),
            ("genes_of", lambda g, x: g.genes_of(x), pids),
            ("ancestors", lambda g, x: g.ancestors(x), pids),
            ("descendants", lambda g, x: g.descendants(x), pids),
            ("pathways_of(level=3)", lambda g, x: g.pathways_of(x, 3), genes),
            ("genes_of(inclusive)", lambda g, x: g.genes_of(x, inclusive=True), pids[:100]),
            ("mask(500 genes, L3)", lambda g, x: g.mask(mask_genes, 3), range(5)),
        ]
        print(f"\n{'query':<24}{'NetworkX ms':>14}{'Bolt ms':>12}{'Bolt/NX':>10}")
        bolt_medians = []
        for name, call, items in kinds:
            for item in items[:3]:  # warm caches on both sides
                call(graph, item), call(db, item)
            nx_ms = median_ms(lambda x, call=call: call(graph, x), items)
            db_ms = median_ms(lambda x, call=call: call(db, x), items)
            if not name.startswith("mask"):
                bolt_medians.append(db_ms)
            print(f"{name:<24}{nx_ms:>14.3f}{db_ms:>12.3f}{db_ms / max(nx_ms, 1e-9):>10.0f}x")
        print(
            f"\nmedian Bolt latency over the single-item queries: {statistics.median(bolt_medians):.2f} ms "
            "(target ≤ 5 ms)"
        )
        db.close()
    finally:
        if tmp is not None:
            stop_server(tmp)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
