"""What differs between the servers we support, found once per driver: how to ask a vector index
for candidates, and how to say the index's options."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from neo4j import Driver, RoutingControl
from neo4j.exceptions import ClientError

from retrieval.core.errors import INDEX_NOT_FOUND

# The HNSW graph's links per node and its construction-time search width. 16 and 100 (the servers'
# defaults) lost half the true neighbours of 100,000 of our vectors on 2026.09.0 (recall@10 0.534);
# 32 and 200 keep 0.980 at 40 candidates and 1.000 at 100 there, and 1.000 on 5.26 (docs/NEO4J.md).
HNSW_M = 32

HNSW_EF_CONSTRUCTION = 200

# The candidate step in each dialect, a template the store fills (`{label}`, `{index}`) around the
# query vector's expression. 5.26 (and Cypher 5 anywhere) has only the procedure; under Cypher 25 the
# procedure is deprecated (01N01) in favour of the SEARCH clause, which names the index in the text.
QUERY_NODES = ("CALL db.index.vector.queryNodes($index, $candidates, ", ") YIELD node")

SEARCH_CLAUSE = ("MATCH (node:`{label}`) SEARCH node IN (VECTOR INDEX `{index}` FOR ", " LIMIT $candidates)")

# Finds the SEARCH clause without an index of its own: a server that parses it answers "no such index".
SEARCH_PROBE = (
    "EXPLAIN CYPHER 25 MATCH (node:Probe) SEARCH node IN (VECTOR INDEX retrieval_probe FOR $vector LIMIT 1) RETURN node"
)


# Finds a SEARCH clause that takes a filter (2026.01 and later) the same way.
FILTER_PROBE = (
    "EXPLAIN CYPHER 25 MATCH (node:Probe) "
    "SEARCH node IN (VECTOR INDEX retrieval_probe FOR $vector WHERE node.p = 1 LIMIT 1) RETURN node"
)


@dataclass(frozen=True)
class Dialect:
    """How to say what differs between the servers we support, found once per driver (`dialect_of`).

    With the SEARCH clause (Cypher 25, 2025.x and later), every statement is sent as `CYPHER 25`, so
    the database's default language (Cypher 5 or 25) never changes what runs; elsewhere statements go
    as they are, in the server's only language, with `db.index.vector.queryNodes`."""

    search_clause: bool
    search_filter: bool = False  # the SEARCH clause takes a WHERE of property predicates (2026.01+)

    @property
    def prefix(self) -> str:
        return "CYPHER 25\n" if self.search_clause else ""

    def candidates(self, query: str, where: str = "") -> str:
        """The candidate step for the vector `query`, with `where` (property predicates joined by AND)
        evaluated inside the index: only where `search_filter` says the server can."""
        if where and not self.search_filter:
            raise ValueError("This server's vector index cannot filter; filter its candidates instead.")
        if not self.search_clause:
            return QUERY_NODES[0] + query + QUERY_NODES[1]
        return SEARCH_CLAUSE[0] + query + (" WHERE " + where if where else "") + SEARCH_CLAUSE[1]

    def index_configs(
        self, dimensions: int, quantized: bool, m: int = HNSW_M, ef_construction: int = HNSW_EF_CONSTRUCTION
    ) -> list[dict[str, object]]:
        """The vector index's options, in the words to try in turn: cosine, HNSW m and ef_construction,
        and int8 quantization on or off. 2026.08+ says quantization with a type (its flag means binary);
        5.26, and a Cypher 25 server from before the type, with a flag."""
        config: dict[str, object] = {
            "vector.dimensions": dimensions,
            "vector.similarity_function": "cosine",
            "vector.hnsw.m": m,
            "vector.hnsw.ef_construction": ef_construction,
        }
        flagged = {**config, "vector.quantization.enabled": quantized}
        if not self.search_clause:
            return [flagged]
        return [{**config, "vector.quantization.type": "SCALAR" if quantized else "NONE"}, flagged]


_DIALECTS: weakref.WeakKeyDictionary[object, Dialect] = weakref.WeakKeyDictionary()


def dialect_of(driver: Driver, database: str | None = None) -> Dialect:
    """The server's dialect, asked once per driver: whether it parses the SEARCH clause, and its filter."""
    if (known := _DIALECTS.get(driver)) is None:
        search = _parses(driver, database, SEARCH_PROBE)
        known = _DIALECTS[driver] = Dialect(
            search_clause=search, search_filter=search and _parses(driver, database, FILTER_PROBE)
        )
    return known


def _parses(driver: Driver, database: str | None, probe: str) -> bool:
    """Whether the server parses `probe`, a statement on an index that does not exist: it answers "no such index"."""
    try:
        driver.execute_query(probe, {"vector": [1.0]}, database_=database, routing_=RoutingControl.READ)
        return True
    except ClientError as e:  # 5.26: "25 is not a valid option for cypher version"; older 2025.x: a syntax error
        return e.code == INDEX_NOT_FOUND
