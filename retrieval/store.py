"""`Image` nodes and their per-model vector indexes in Neo4j. The Cypher of the library lives here,
but for the user's catalogue nodes (catalogue.py), which runs through `ImageStore.query` too.

Every value is a query parameter. Names are not values: labels, index and property names (from
`ModelSpec`, or from the user for their catalogue) are checked against a strict pattern before
they are written into a statement.
"""

from __future__ import annotations

import math
import re
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from neo4j import Driver, ManagedTransaction, RoutingControl, SummaryCounters
from neo4j.exceptions import ClientError, DatabaseError, TransientError

from retrieval.blending import blend_sum, weight
from retrieval.errors import QueryFailed, RetrievalError
from retrieval.models import ModelSpec

IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
DEFAULT_LABEL = "Image"

# Templates: `{label}`, `{index}`, `{prop}` and `{constraint}` are filled with checked identifiers
# (see `checked_identifier`); everything else is a parameter. A vector property is named in the
# text (`i.`{prop}``), not looked up by a parameter (`i[$prop]`): Neo4j then tests its existence
# without reading the vector, which made counting 20,000 vectors 40x faster (21 ms, not 870 ms).
CREATE_CONSTRAINT = "CREATE CONSTRAINT `{constraint}` IF NOT EXISTS FOR (i:`{label}`) REQUIRE i.path IS UNIQUE"
# The index's options are written out, not left to the server: a 2026.08+ server's default is
# binary quantization, which keeps half the true neighbours of our vectors (docs/NEO4J.md has the
# recall of each choice). `$config` is the dialect's spelling of the same choice.
CREATE_VECTOR_INDEX = (
    "CREATE VECTOR INDEX `{index}` IF NOT EXISTS FOR (i:`{label}`) ON i.`{prop}` OPTIONS {{indexConfig: $config}}"
)
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 100
QUANTIZED = True  # int8 (scalar) quantization: chosen by measured recall@10 on real embeddings (docs/NEO4J.md)
INDEX_STATE = (
    "SHOW VECTOR INDEXES YIELD name, state, populationPercent, options "
    "WHERE name = $index RETURN state, populationPercent AS population, "
    "options.indexConfig.`vector.dimensions` AS dimensions"
)
# Every write to a vector space (a model's vectors, its links and blended vectors, or removing
# images) first locks the space's node, in the same transaction. Writes to one space are then
# serialised across every process and machine, so each sees all that committed before it: the
# links a run computes under the lock are exact for the images committed so far, and a run that
# adds images re-checks the lists they enter under the lock too (docs/RELIABILITY.md).
SPACE_CONSTRAINT = "CREATE CONSTRAINT vector_space_index_unique IF NOT EXISTS FOR (s:VectorSpace) REQUIRE s.index IS UNIQUE"
CLAIM_SPACE = """
MERGE (s:VectorSpace {{index: $index}})
SET s.model = $model, s.dimensions = $dimensions, s.fingerprint = coalesce(s.fingerprint, $fingerprint)
RETURN s.fingerprint AS fingerprint
"""
SPACE_FINGERPRINT = "MATCH (s:VectorSpace {{index: $index}}) RETURN s.fingerprint AS fingerprint"
LOCK_SPACES = "UNWIND $indexes AS index MERGE (s:VectorSpace {{index: index}}) SET s.written_at = datetime()"
# Forget a space's vectors (its model changed): they cannot be compared with new ones.
FORGET_SPACE = """
MATCH (i:`{label}`) WHERE i.`{prop}` IS NOT NULL
CALL (i) {{ MATCH (i)-[r:SIMILAR_TO {{model: $model}}]->() DELETE r }}
REMOVE i.`{prop}`, i.`{made_from}`, i.`{blended}`, i.`{linked}`, i.`{linked_count}`
"""
SET_FINGERPRINT = "MATCH (s:VectorSpace {{index: $index}}) SET s.fingerprint = $fingerprint"
# `{made_from}` is the content hash the model's vector was made from: size, time and hash are the
# file's, shared by every model, but a vector is current only if it was made from that content.
UPSERT_IMAGES = """
UNWIND $rows AS row
MERGE (i:`{label}` {{path: row.path}})
SET i.name = row.name, i.size = row.size, i.mtime_ns = row.mtime_ns, i.sha256 = row.sha256,
    i.width = row.width, i.height = row.height, i.indexed_at = datetime(), i.`{made_from}` = row.sha256
WITH i, row
CALL db.create.setNodeVectorProperty(i, $prop, row.vector)
"""
# A vector stored before hashes were kept per model counts as made from the node's content.
VECTOR_MADE_FROM = "CASE WHEN i.`{prop}` IS NULL THEN null ELSE coalesce(i.`{made_from}`, i.sha256) END"
STORED_FILES = f"""
UNWIND $paths AS path
MATCH (i:`{{label}}` {{{{path: path}}}})
RETURN i.path AS path, i.size AS size, i.mtime_ns AS mtime_ns, i.sha256 AS sha256, {VECTOR_MADE_FROM} AS vector_sha256
"""
# A file whose modification time changed but whose content is what the vector was made from: new stat, same vector.
TOUCH_IMAGES = """
UNWIND $rows AS row
MATCH (i:`{label}` {{path: row.path}})
SET i.size = row.size, i.mtime_ns = row.mtime_ns, i.sha256 = row.sha256
"""
PATHS_UNDER = "MATCH (i:`{label}`) WHERE i.path STARTS WITH $prefix RETURN i.path AS path"
VECTORS = "MATCH (i:`{label}`) WHERE i.`{prop}` IS NOT NULL RETURN i.path AS path, i.`{prop}` AS vector"
# The index's own score is (1 + cos)/2 of quantized vectors; we over-fetch candidates from it and
# rescore them exactly, so the score returned is the true cosine of the stored float32 vectors.
# Candidate `node`s ranked by the exact cosine of their stored vector to the query, best k kept.
RANK_EXACTLY = """
WITH node, 2 * vector.similarity.cosine(node.`{prop}`, $vector) - 1 AS cosine
ORDER BY cosine DESC LIMIT $k
RETURN node.path AS path, node.name AS name, cosine
"""
# `{candidates}` is the step that asks the index for `$candidates` nodes near `$vector`, and
# `{own_candidates}` near `i`'s own vector, each as the server's dialect says it (see `Dialect`).
NEAREST = "{candidates}" + RANK_EXACTLY
# The index's own order (its score of quantized vectors), not rescored: to measure the index itself.
INDEX_RANKING = "{candidates}\nRETURN node.path AS path"
PAGE_OF_IMAGES = """
MATCH (i:`{label}`) WHERE i.`{prop}` IS NOT NULL
RETURN i.path AS path, i.name AS name ORDER BY i.name, i.path SKIP $skip LIMIT $limit
"""
VECTORS_OF = """
UNWIND $paths AS path
MATCH (i:`{label}` {{path: path}}) WHERE i.`{prop}` IS NOT NULL
RETURN i.path AS path, i.`{prop}` AS vector
"""

# The similarity graph: each image's nearest neighbours as (:Image)-[:SIMILAR_TO {model, score}]->(:Image).
# A node remembers the content hash it was linked with and how many links it got, so an incremental
# run finds new and changed images (hash differs) and images that lost a neighbour (fewer links).
IS_UNLINKED = "i.`{prop}` IS NOT NULL AND (i.`{linked}` IS NULL OR i.`{linked}` <> coalesce(i.`{made_from}`, i.sha256))"
UNLINKED = f"MATCH (i:`{{label}}`) WHERE {IS_UNLINKED} RETURN i.path AS path, i.`{{linked}}` IS NOT NULL AS changed"
COUNT_UNLINKED = f"MATCH (i:`{{label}}`) WHERE {IS_UNLINKED} RETURN count(i) AS n"
# Images whose links are not what they were written as: a neighbour was removed, or (left by an
# older version's concurrent runs) duplicated.
MISLINKED = """
MATCH (i:`{label}`) WHERE i.`{linked_count}` <> COUNT {{ (i)-[:SIMILAR_TO {{model: $model}}]->() }}
RETURN i.path AS path
"""
LINKING_TO = """
UNWIND $paths AS path
MATCH (other:`{label}`)-[:SIMILAR_TO {{model: $model}}]->(:`{label}` {{path: path}})
RETURN DISTINCT other.path AS path
"""
# Each linked image's list as it is, its blended vector and that vector's length before normalising
# (see blending.py). Images not linked yet are left out: a list made from offers alone would be
# marked linked and never get the neighbours that were stored before it; the run that links them
# finds their whole list under the lock, after every offered image was stored.
CURRENT_LISTS = f"""
UNWIND $paths AS path
MATCH (i:`{{label}}` {{{{path: path}}}}) WHERE i.`{{prop}}` IS NOT NULL AND NOT ({IS_UNLINKED})
OPTIONAL MATCH (i)-[r:SIMILAR_TO {{{{model: $model}}}}]->(other)
WITH i, collect(CASE WHEN r IS NOT NULL THEN {{{{path: other.path, score: r.score}}}} END) AS links
RETURN i.path AS path, links, i.`{{blended}}` AS blended, i.`{{blended_norm}}` AS norm
"""
LINK_FLOORS = """
UNWIND $paths AS path
MATCH (i:`{label}` {{path: path}}) WHERE i.`{prop}` IS NOT NULL
OPTIONAL MATCH (i)-[r:SIMILAR_TO {{model: $model}}]->()
RETURN i.path AS path, count(r) AS links, min(r.score) AS floor
"""
NEIGHBOURS = """
UNWIND $paths AS path
MATCH (i:`{label}` {{path: path}}) WHERE i.`{prop}` IS NOT NULL
{own_candidates}
WITH i, node WHERE node <> i
WITH i, node, 2 * vector.similarity.cosine(node.`{prop}`, i.`{prop}`) - 1 AS cosine
WHERE cosine >= $min_score
ORDER BY cosine DESC
RETURN i.path AS path, collect({{path: node.path, score: cosine}})[..$k] AS neighbours
"""
WRITE_LINKS = """
UNWIND $rows AS row
MATCH (i:`{label}` {{path: row.path}})
CALL (i) {{ MATCH (i)-[old:SIMILAR_TO {{model: $model}}]->() DELETE old }}
SET i.`{linked}` = coalesce(i.`{made_from}`, i.sha256), i.`{linked_count}` = size(row.neighbours),
    i.`{blended_norm}` = row.norm
WITH i, row
CALL db.create.setNodeVectorProperty(i, $blended, row.blended)
WITH i, row
UNWIND row.neighbours AS neighbour
MATCH (other:`{label}` {{path: neighbour.path}})
CREATE (i)-[:SIMILAR_TO {{model: $model, score: neighbour.score}}]->(other)
"""
# The default search's extra list: images not linked yet (no blended vector, or a stale one),
# ranked by their own vector, so an index run in progress hides nothing.
NEAREST_UNLINKED = "{candidates}\nWITH node AS i WHERE " + IS_UNLINKED + "\nWITH i AS node" + RANK_EXACTLY
SIMILAR_PAIRS = """
MATCH (a:`{label}`)-[r:SIMILAR_TO {{model: $model}}]->(b:`{label}`) WHERE r.score >= $threshold
RETURN a.path AS a, b.path AS b, r.score AS score
"""
LINKS_AMONG = """
MATCH (a:`{label}`)-[r:SIMILAR_TO {{model: $model}}]->(b:`{label}`) WHERE a.path IN $paths AND b.path IN $paths
RETURN a.path AS a, b.path AS b, r.score AS score
"""
# Search inside the user's catalogue: only images whose owner, (o:Owner)-[:HAS_IMAGE]->(image), has
# a property equal to a value (see `CatalogueFilter`). Vector indexes in 5.26 cannot filter, so
# `nearest` either ranks every matching image exactly (when they are few) or over-fetches from the
# index and filters with MATCH (docs/QUALITY.md has the rule's measured recall).
OWNED = "MATCH (o:`{owner}`)-[:HAS_IMAGE]->(node:`{label}`) WHERE o.`{key}` IN $values AND node.`{prop}` IS NOT NULL"
COUNT_OWNED = OWNED + " RETURN count(DISTINCT node) AS n"
EXACT_OWNED = OWNED + "\nWITH DISTINCT node" + RANK_EXACTLY
NEAREST_OWNED = (
    "{candidates}\nWITH node WHERE EXISTS {{ MATCH (o:`{owner}`)-[:HAS_IMAGE]->(node) WHERE o.`{key}` IN $values }}"
    + RANK_EXACTLY
)
# Measured on 20,000 images (docs/QUALITY.md): ranking 500 matching images exactly costs about what a
# filtered index search does, and asking the index for 4x k over the matching share kept recall@10 at
# 1.000 for every share from 1/2 to 1/256 (2x dropped to 0.967).
EXACT_OWNED_LIMIT = 500  # at most this many matching images are ranked exactly (recall 1)
OVERFETCH = 4.0  # above it, the index is asked for OVERFETCH * k / (share of images matching) candidates
COUNT_LINKS = "MATCH (:`{label}`)-[r:SIMILAR_TO {{model: $model}}]->() RETURN count(r) AS n"

# Evaluation figures (see evaluate.py) are kept in the database the app reads, flattened to properties.
SAVE_EVALUATION = "CREATE (e:Evaluation) SET e = $row, e.at = datetime()"
LATEST_EVALUATION = "MATCH (e:Evaluation) RETURN e {{.*, at: toString(e.at)}} AS row ORDER BY e.at DESC LIMIT 1"
SPACES_OF_LABEL = "MATCH (s:VectorSpace) WHERE s.index STARTS WITH $prefix RETURN s.index AS index"
REMOVE_IMAGES = "UNWIND $paths AS path MATCH (i:`{label}` {{path: path}}) DETACH DELETE i"
COUNT_IMAGES = "MATCH (i:`{label}`) RETURN count(i) AS n"
COUNT_VECTORS = "MATCH (i:`{label}`) WHERE i.`{prop}` IS NOT NULL RETURN count(i) AS n"


@dataclass(frozen=True)
class ImageRecord:
    """One image ready to be written: its file facts and its vector."""

    path: str
    name: str
    size: int
    mtime_ns: int
    sha256: str
    width: int
    height: int
    vector: np.ndarray


@dataclass(frozen=True)
class StoredFile:
    """What a node remembers of its file, to tell unchanged files from changed ones without reading them."""

    size: int | None
    mtime_ns: int | None
    sha256: str | None  # of the file's content when last seen
    vector_sha256: str | None  # of the content this model's vector was made from; None without a vector

    @property
    def current(self) -> bool:
        """This model's vector was made from the content the node last saw."""
        return self.vector_sha256 is not None and self.vector_sha256 == self.sha256


@dataclass(frozen=True)
class Hit:
    """A search result: the image's path and name, and its cosine similarity to the query (-1..1)."""

    path: str
    name: str
    score: float


@dataclass(frozen=True)
class IndexState:
    model: str
    index_name: str
    state: str  # ONLINE, POPULATING, FAILED, or MISSING when not created yet
    population_percent: float
    vectors: int


@dataclass(frozen=True)
class StoreStats:
    images: int
    indexes: list[IndexState]


class Floats(list):
    """A vector as a query parameter: a plain list of floats with a short repr. The driver (6.4.1)
    builds the text of a debug log line from the repr of every parameter even when debug logging
    is off; for 500 vectors of 2,048 floats that took 0.89 s of a 1.0 s write, and 0 with this."""

    def __repr__(self) -> str:
        return f"<{len(self)} floats>"


# The candidate step in each dialect. 5.26 (and Cypher 5 anywhere) has only the procedure; under
# Cypher 25 the procedure is deprecated (01N01) in favour of the SEARCH clause, which names the index
# in the text. `{query}` is the query vector's expression.
QUERY_NODES = "CALL db.index.vector.queryNodes($index, $candidates, {query}) YIELD node"
SEARCH_CLAUSE = "MATCH (node:`{{label}}`) SEARCH node IN (VECTOR INDEX `{{index}}` FOR {query} LIMIT $candidates)"
# Finds the SEARCH clause without an index of its own: a server that parses it answers "no such index".
SEARCH_PROBE = (
    "EXPLAIN CYPHER 25 MATCH (node:Probe) SEARCH node IN (VECTOR INDEX retrieval_probe FOR $vector LIMIT 1) RETURN node"
)
INDEX_NOT_FOUND = "Neo.ClientError.Schema.IndexNotFound"


@dataclass(frozen=True)
class Dialect:
    """How to say what differs between the servers we support, found once per driver (`dialect_of`).

    With the SEARCH clause (Cypher 25, 2025.x and later), every statement is sent as `CYPHER 25`, so
    the database's default language (Cypher 5 or 25) never changes what runs; elsewhere statements go
    as they are, in the server's only language, with `db.index.vector.queryNodes`."""

    search_clause: bool

    @property
    def prefix(self) -> str:
        return "CYPHER 25\n" if self.search_clause else ""

    def candidates(self, query: str) -> str:
        return (SEARCH_CLAUSE if self.search_clause else QUERY_NODES).format(query=query)

    def index_configs(self, dimensions: int, quantized: bool) -> list[dict[str, object]]:
        """The vector index's options, in the words to try in turn: cosine, HNSW m and ef_construction,
        and int8 quantization on or off. 2026.08+ says quantization with a type (its flag means binary);
        5.26, and a Cypher 25 server from before the type, with a flag."""
        config: dict[str, object] = {
            "vector.dimensions": dimensions,
            "vector.similarity_function": "cosine",
            "vector.hnsw.m": HNSW_M,
            "vector.hnsw.ef_construction": HNSW_EF_CONSTRUCTION,
        }
        flagged = {**config, "vector.quantization.enabled": quantized}
        if not self.search_clause:
            return [flagged]
        return [{**config, "vector.quantization.type": "SCALAR" if quantized else "NONE"}, flagged]


_DIALECTS: weakref.WeakKeyDictionary[object, Dialect] = weakref.WeakKeyDictionary()


def dialect_of(driver: Driver, database: str | None = None) -> Dialect:
    """The server's dialect, asked once per driver: whether it parses the SEARCH clause."""
    if (known := _DIALECTS.get(driver)) is None:
        try:
            driver.execute_query(SEARCH_PROBE, {"vector": [1.0]}, database_=database, routing_=RoutingControl.READ)
            search = True
        except ClientError as e:  # 5.26: "25 is not a valid option for cypher version"; older 2025.x: a syntax error
            search = e.code == INDEX_NOT_FOUND
        known = _DIALECTS[driver] = Dialect(search_clause=search)
    return known


T = TypeVar("T")


def parameter(vector: np.ndarray) -> Floats:
    return Floats(vector.astype(np.float32).tolist())


def value_forms(text: str) -> list[str | int | float]:
    """A value read from a CSV or a command line, as text and as the number it reads as, so that
    `sku = "1042"` finds a node whose sku is the integer 1042 as well as the string."""
    forms: list[str | int | float] = [text]
    for number in (int, float):
        try:
            forms.append(number(text))
            break
        except ValueError:
            continue
    return forms


@dataclass(frozen=True)
class CatalogueFilter:
    """Only images of the user's nodes `(o:label)-[:HAS_IMAGE]->(image)` whose `key` property equals
    `value`, e.g. Product.category = "shoes". Label and key are checked identifiers."""

    label: str
    key: str
    value: str

    def __post_init__(self) -> None:
        checked_identifier(self.label)
        checked_identifier(self.key)

    @classmethod
    def parse(cls, text: str) -> CatalogueFilter:
        """`Label.key=value`, as the CLI takes it."""
        owner, sep, value = text.partition("=")
        label, dot, key = owner.strip().partition(".")
        if not (sep and dot):
            raise RetrievalError(f"{text!r} is not a filter of the form Label.property=value (e.g. Product.category=shoes).")
        return cls(label, key, value.strip())

    def __str__(self) -> str:
        return f"{self.label}.{self.key} = {self.value!r}"


def checked_identifier(identifier: str) -> str:
    if not IDENTIFIER.match(identifier):
        raise RetrievalError(f"{identifier!r} is not a safe Neo4j identifier (letters, digits, underscore).")
    return identifier


@dataclass(frozen=True)
class _ListChange:
    """One image's neighbour list, as it is (`now`) and as it becomes (`best`), with its blended vector
    and that vector's length before normalising (None if linked by a version that kept no length)."""

    path: str
    best: list[tuple[str, float]]
    now: dict[str, float]
    blended: list[float] | None
    norm: float | None

    @property
    def whole(self) -> bool:
        """Blend from all the vectors: no length kept, or a neighbour kept with another score (its vector changed)."""
        return self.norm is None or self.blended is None or any(p in self.now and self.now[p] != s for p, s in self.best)

    @property
    def vectors_needed(self) -> set[str]:
        kept = dict(self.best)
        if self.whole:
            return {self.path, *kept}
        return {p for p in kept if p not in self.now} | {p for p in self.now if p not in kept}

    def blend_sum(self, vectors: Mapping[str, np.ndarray]) -> np.ndarray:
        """The new unnormalised blend: the old one, less the neighbours that went, plus those that came."""
        if self.whole:
            return blend_sum(vectors[self.path], [(vectors[p], s) for p, s in self.best])
        kept = dict(self.best)
        total = np.asarray(self.blended, dtype=np.float64) * self.norm
        for p, s in kept.items():
            if p not in self.now:
                total += weight(s) * vectors[p]
        for p, s in self.now.items():
            if p not in kept:
                total -= weight(s) * vectors[p]
        return total


class ImageStore:
    """Reads and writes image nodes through a driver the caller owns.

    The nodes' label is `Image` unless another is given: the evaluation keeps its labelled photos
    under a label of their own, with their own constraint and vector indexes, so they never show up
    in a user's searches.
    """

    def __init__(self, driver: Driver, database: str | None = None, label: str = DEFAULT_LABEL) -> None:
        self.driver = driver
        self.database = database
        self.label = checked_identifier(label)
        self._names = {"label": self.label, "constraint": f"{self.label.lower()}_path_unique"}

    def index_name(self, spec: ModelSpec) -> str:
        """The vector index of `spec`'s vectors on this store's label, e.g. image_efficientnet_lite0."""
        return checked_identifier(f"{self.label.lower()}_{spec.slug}")

    @property
    def dialect(self) -> Dialect:
        return dialect_of(self.driver, self.database)

    def _cypher(self, template: str, names: Mapping[str, str] | None) -> str:
        checked = {name: checked_identifier(value) for name, value in (names or {}).items()}
        dialect = self.dialect
        template = template.replace("{candidates}", dialect.candidates("$vector"))
        template = template.replace("{own_candidates}", dialect.candidates("i.`{prop}`"))
        return dialect.prefix + template.format(**self._names, **checked)

    def query(self, template: str, names: Mapping[str, str] | None = None, /, **params: object) -> list[dict]:
        """Run a Cypher template in a read transaction and return its rows: `{label}` is this store's
        label, other `{names}` must be plain identifiers (checked here), and everything else is a
        parameter. The server refuses any write in a read transaction, so a read path cannot write."""
        with _server_errors():
            records, _, _ = self.driver.execute_query(
                self._cypher(template, names), params, database_=self.database, routing_=RoutingControl.READ
            )
        # Not Record.data(): it walks every value in Python, ~4 ms per 1280-float vector.
        return [dict(r.items()) for r in records]

    def write(
        self, template: str, names: Mapping[str, str] | None = None, /, *, locks: Sequence[str] = (), **params: object
    ) -> tuple[list[dict], SummaryCounters]:
        """Like `query`, in one write transaction (retried by the driver on a transient failure), and
        with the counters of what it changed. `locks` names the vector spaces (index names) it changes:
        their nodes are locked first, so writes to a space are serialised (see LOCK_SPACES)."""
        query = self._cypher(template, names)

        def work(tx: ManagedTransaction) -> tuple[list[dict], SummaryCounters]:
            self._lock(tx, locks)
            result = tx.run(query, params)
            rows = [dict(r.items()) for r in result]
            return rows, result.consume().counters

        return self._write_transaction(work)

    def _write_transaction(self, work: Callable[[ManagedTransaction], T]) -> T:
        with _server_errors(), self.driver.session(database=self.database) as session:
            return session.execute_write(work)

    def _lock(self, tx: ManagedTransaction, spaces: Iterable[str]) -> None:
        if spaces := sorted(set(spaces)):  # one order everywhere, so two writers never wait on each other in a cycle
            tx.run(self._cypher(LOCK_SPACES, None), indexes=spaces).consume()

    def _read(
        self, tx: ManagedTransaction | None, template: str, names: Mapping[str, str] | None = None, **params: object
    ) -> list[dict]:
        """A read on its own (a read transaction), or inside the write transaction `tx`, where it sees what `tx` locked."""
        return self.query(template, names, **params) if tx is None else self._run(tx, template, names, **params)

    def _run(self, tx: ManagedTransaction, template: str, names: Mapping[str, str] | None = None, **params: object) -> list[dict]:
        return [dict(r.items()) for r in tx.run(self._cypher(template, names), params)]

    def ensure_schema(self, spec: ModelSpec, timeout: float = 300.0) -> None:
        """Create the path constraint and the model's two cosine vector indexes (its own vectors and the
        neighbour-blended ones) if missing, and wait until they are ONLINE. Only indexing does this:
        searches never write."""
        self._create(CREATE_CONSTRAINT)
        self._create(SPACE_CONSTRAINT)
        self._ensure_vector_index(spec, timeout)
        self._ensure_vector_index(spec.blended, timeout)

    def _create(self, template: str, names: Mapping[str, str] | None = None, **params: object) -> None:
        """A CREATE ... IF NOT EXISTS of the schema; another run creating the same at the same moment is success."""
        try:
            self.write(template, names, **params)
        except QueryFailed as e:
            if not e.code.endswith("AlreadyExists"):
                raise

    def _ensure_vector_index(self, spec: ModelSpec, timeout: float) -> None:
        index = self.index_name(spec)
        *typed, flagged = self.dialect.index_configs(spec.dimensions, QUANTIZED)
        names = {"index": index, "prop": spec.vector_property}
        try:
            self._create(CREATE_VECTOR_INDEX, names, config=typed[0] if typed else flagged)
        except QueryFailed as e:
            if not (typed and e.code.endswith("InvalidArguments")):
                raise
            self._create(CREATE_VECTOR_INDEX, names, config=flagged)  # a server from before the quantization type
        deadline = time.monotonic() + timeout
        while (state := self._index_row(spec)) and state["state"] != "ONLINE":
            if state["state"] == "FAILED" or time.monotonic() > deadline:
                raise RetrievalError(f"Vector index {index} is {state['state']} ({state['population']:.0f}% populated).")
            time.sleep(0.2)
        if state and state["dimensions"] != spec.dimensions:
            raise RetrievalError(
                f"Vector index {index} has {state['dimensions']} dimensions but {spec.name} makes {spec.dimensions}; "
                f"drop the index (DROP INDEX {index}) and index again."
            )

    def _index_row(self, spec: ModelSpec) -> dict | None:
        rows = self.query(INDEX_STATE, index=self.index_name(spec))
        return rows[0] if rows else None

    def claim_space(self, spec: ModelSpec, fingerprint: str, *, replace: bool = False) -> None:
        """Record which model made this space's vectors (its fingerprint: weights, preprocessing,
        precision), or check it: vectors of another fingerprint must not be mixed with these. With
        `replace`, the old vectors, links and blended vectors are forgotten and the new fingerprint kept."""
        index = self.index_name(spec)
        row = self.write(CLAIM_SPACE, index=index, model=spec.name, dimensions=spec.dimensions, fingerprint=fingerprint)[0][0]
        if row["fingerprint"] == fingerprint:
            return
        if not replace:
            raise RetrievalError(
                f"The vectors in {index} were made by another version of {spec.name} (its weights, preprocessing or "
                f"precision differ: fingerprint {row['fingerprint']} in the database, {fingerprint} here), and the two "
                "cannot be compared. Re-embed every image: `python -m retrieval index FOLDER --reembed`, then index "
                "your other folders again."
            )
        names = {**self._link_names(spec), "prop": spec.vector_property, "blended": spec.blended.vector_property}
        self.write(FORGET_SPACE, names, locks=[index, self.index_name(spec.blended)], model=spec.name)
        self.write(SET_FINGERPRINT, locks=[index], index=index, fingerprint=fingerprint)

    def fingerprint(self, spec: ModelSpec) -> str | None:
        """The fingerprint of the model that made the stored vectors (None before the first index run)."""
        rows = self.query(SPACE_FINGERPRINT, index=self.index_name(spec))
        return rows[0]["fingerprint"] if rows else None

    def upsert(self, spec: ModelSpec, records: Sequence[ImageRecord]) -> None:
        """Write one batch in one transaction: a node per path (created or updated) with its vector."""
        rows = [
            {
                "path": r.path,
                "name": r.name,
                "size": r.size,
                "mtime_ns": r.mtime_ns,
                "sha256": r.sha256,
                "width": r.width,
                "height": r.height,
                "vector": parameter(r.vector),
            }
            for r in records
        ]
        self.write(UPSERT_IMAGES, self._made_from(spec), locks=[self.index_name(spec)], rows=rows, prop=spec.vector_property)

    def _made_from(self, spec: ModelSpec) -> dict[str, str]:
        return {"prop": spec.vector_property, "made_from": f"{spec.vector_property}_sha256"}

    def stored_files(self, spec: ModelSpec, paths: Iterable[str]) -> dict[str, StoredFile]:
        """What the nodes of the given paths remember of their files (paths without a node are left out)."""
        rows = self.query(STORED_FILES, self._made_from(spec), paths=list(paths))
        return {r["path"]: StoredFile(r["size"], r["mtime_ns"], r["sha256"], r["vector_sha256"]) for r in rows}

    def touch(self, spec: ModelSpec, rows: Sequence[tuple[str, int, int, str]]) -> None:
        """Record a new (size, mtime) for files whose content is what `spec`'s vector was made from:
        (path, size, mtime_ns, sha256) each."""
        self.write(
            TOUCH_IMAGES,
            locks=[self.index_name(spec)],
            rows=[{"path": p, "size": size, "mtime_ns": mtime, "sha256": sha} for p, size, mtime, sha in rows],
        )

    def paths(self, prefix: str = "") -> list[str]:
        """Paths of stored images, all of them or those under a folder prefix."""
        return [r["path"] for r in self.query(PATHS_UNDER, prefix=prefix)]

    def vector_of(self, spec: ModelSpec, path: str) -> np.ndarray | None:
        return self.vectors_of(spec, [path]).get(path)

    def nearest(
        self,
        spec: ModelSpec,
        vector: np.ndarray,
        k: int,
        candidates: int | None = None,
        *,
        within: CatalogueFilter | None = None,
        exact_limit: int = EXACT_OWNED_LIMIT,
        overfetch: float = OVERFETCH,
    ) -> list[Hit]:
        """The k stored images most cosine-similar to `vector`, best first; `within` a part of the catalogue.

        The index is asked for `candidates` (default max(4k, 40)) neighbours: in Neo4j 5.26 the k
        given to the index is also its search width, so asking for more buys recall. With a filter,
        up to `exact_limit` matching images are ranked exactly; more are found through the index,
        asked for `overfetch` times k over the matching share of candidates.
        """
        if k < 1:
            raise ValueError("k must be at least 1")
        params = {"index": self.index_name(spec), "vector": parameter(vector), "k": k}
        candidates = max(candidates or max(4 * k, 40), k)
        if within is None:
            return self._hits(self.query(NEAREST, self._search_names(spec), candidates=candidates, **params))
        names = {**self._search_names(spec), "owner": within.label, "key": within.key}
        params["values"] = value_forms(within.value)
        matching = self.query(COUNT_OWNED, names, values=params["values"])[0]["n"]
        if matching <= exact_limit:
            return self._hits(self.query(EXACT_OWNED, names, **params)) if matching else []
        # Matches are spread through the ranking at about the share `matching / total`: widen the
        # index's search by its inverse, and again (x4) in the rare case fewer than k survive.
        total = self.query(COUNT_IMAGES)[0]["n"]  # from the count store: instant
        candidates = min(total, max(candidates, math.ceil(overfetch * k * total / matching)))
        while True:
            rows = self.query(NEAREST_OWNED, names, **params, candidates=candidates)
            if len(rows) >= k or candidates >= total:
                return self._hits(rows)
            candidates = min(total, 4 * candidates)

    @staticmethod
    def _hits(rows: list[dict]) -> list[Hit]:
        return [Hit(path=r["path"], name=r["name"], score=float(r["cosine"])) for r in rows]

    def vectors(self, spec: ModelSpec) -> dict[str, np.ndarray]:
        """Every stored vector of `spec`'s model by path (for evaluation and exact search; large collections cost memory)."""
        return {r["path"]: np.asarray(r["vector"], dtype=np.float32) for r in self.query(VECTORS, {"prop": spec.vector_property})}

    def vectors_of(self, spec: ModelSpec, paths: Iterable[str]) -> dict[str, np.ndarray]:
        return self._vectors(None, spec, paths)

    def _search_names(self, spec: ModelSpec) -> dict[str, str]:
        """The names a candidate step needs: the vector property and (for the SEARCH clause) the index."""
        return {"prop": spec.vector_property, "index": self.index_name(spec)}

    def _link_names(self, spec: ModelSpec) -> dict[str, str]:
        return {
            **self._made_from(spec),
            "linked": f"linked_{spec.slug}",
            "linked_count": f"linked_{spec.slug}_count",
            "blended": spec.blended.vector_property,
            "blended_norm": f"{spec.blended.vector_property}_norm",
        }

    def unlinked(self, spec: ModelSpec) -> list[tuple[str, bool]]:
        """(path, changed) of images not linked since they were (re-)embedded; `changed` if linked before."""
        rows = self.query(UNLINKED, self._link_names(spec))
        return [(r["path"], r["changed"]) for r in rows]

    def count_unlinked(self, spec: ModelSpec) -> int:
        """How many images have a vector but no up-to-date neighbour links yet (an index run still
        going, or one stopped before it linked): searches still find them, by their own vector."""
        return int(self.query(COUNT_UNLINKED, self._link_names(spec))[0]["n"])

    def mislinked(self, spec: ModelSpec) -> list[str]:
        """Images whose links are not the ones written: a neighbour was removed since, or a link is duplicated."""
        rows = self.query(MISLINKED, self._link_names(spec), model=spec.name)
        return [r["path"] for r in rows]

    def linking_to(self, spec: ModelSpec, paths: Sequence[str]) -> list[str]:
        """Images with a SIMILAR_TO link to any of `paths`."""
        return [r["path"] for r in self.query(LINKING_TO, paths=list(paths), model=spec.name)]

    def neighbours(self, spec: ModelSpec, paths: Sequence[str], k: int, min_score: float) -> dict[str, list[Hit]]:
        """Each stored image's k nearest others (exact cosine of over-fetched index candidates), best first."""
        return self._neighbours(None, spec, paths, k, min_score)

    def _neighbours(
        self, tx: ManagedTransaction | None, spec: ModelSpec, paths: Sequence[str], k: int, min_score: float
    ) -> dict[str, list[Hit]]:
        params = {
            "paths": list(paths),
            "index": self.index_name(spec),
            "candidates": max(4 * (k + 1), 40),
            "k": k,
            "min_score": min_score,
        }
        names = self._search_names(spec)
        rows = self._read(tx, NEIGHBOURS, names, **params)
        found = {r["path"]: [Hit(n["path"], Path(n["path"]).name, float(n["score"])) for n in r["neighbours"]] for r in rows}
        return {path: found.get(path, []) for path in paths}

    def link_floors(self, spec: ModelSpec, paths: Sequence[str]) -> dict[str, tuple[int, float | None]]:
        """Per image: how many SIMILAR_TO links it has and the lowest score among them."""
        rows = self.query(LINK_FLOORS, self._link_names(spec), paths=list(paths), model=spec.name)
        return {r["path"]: (r["links"], r["floor"]) for r in rows}

    def rewrite_links(self, spec: ModelSpec, paths: Sequence[str], *, k: int, min_score: float) -> int:
        """Replace the SIMILAR_TO links of the images at `paths` with their k nearest neighbours, and
        their blended vectors, in one transaction under the space's lock: the neighbours are found,
        and the old links deleted, only once every earlier write to the space has committed, so no
        interleaving of runs leaves a list short, stale or doubled. Returns how many were relinked."""

        def work(tx: ManagedTransaction) -> int:
            self._lock(tx, self._spaces(spec))
            neighbours = self._neighbours(tx, spec, paths, k, min_score)
            vectors = self._vectors(tx, spec, {*paths, *(h.path for hits in neighbours.values() for h in hits)})
            lists = {
                path: ([(h.path, h.score) for h in hits], blend_sum(vectors[path], [(vectors[h.path], h.score) for h in hits]))
                for path, hits in neighbours.items()
                if path in vectors
            }
            return self._write_lists(tx, spec, lists)

        return self._write_transaction(work)

    def merge_links(self, spec: ModelSpec, offers: Mapping[str, Mapping[str, float]], *, k: int) -> int:
        """Offer new or changed images to the lists of the images at `offers`' keys (image -> {new image:
        cosine}): under the space's lock, each linked image's list becomes the k best of the links it
        has now and those offered, and its blended vector is updated from the neighbours that came and
        went. Images not linked yet ignore offers (see CURRENT_LISTS). The list as
        it is now is exact for every image written before it, and each later image is offered by the
        run that wrote it, so the merge stays exact without asking the index again. Returns how many
        lists changed."""

        def work(tx: ManagedTransaction) -> int:
            self._lock(tx, self._spaces(spec))
            changes = []
            for row in self._run(tx, CURRENT_LISTS, self._link_names(spec), paths=list(offers), model=spec.name):
                now = {link["path"]: link["score"] for link in row["links"]}
                best = sorted({**now, **offers[row["path"]]}.items(), key=lambda item: (-item[1], item[0]))[:k]
                if dict(best) != now:
                    changes.append(_ListChange(row["path"], best, now, row["blended"], row["norm"]))
            vectors = self._vectors(tx, spec, {p for change in changes for p in change.vectors_needed})
            return self._write_lists(tx, spec, {change.path: (change.best, change.blend_sum(vectors)) for change in changes})

        return self._write_transaction(work)

    def _spaces(self, spec: ModelSpec) -> list[str]:
        return [self.index_name(spec), self.index_name(spec.blended)]

    def _vectors(self, tx: ManagedTransaction | None, spec: ModelSpec, paths: Iterable[str]) -> dict[str, np.ndarray]:
        rows = self._read(tx, VECTORS_OF, {"prop": spec.vector_property}, paths=list(paths))
        return {r["path"]: np.asarray(r["vector"], dtype=np.float32) for r in rows}

    def _write_lists(
        self, tx: ManagedTransaction, spec: ModelSpec, lists: Mapping[str, tuple[list[tuple[str, float]], np.ndarray]]
    ) -> int:
        """Write each image's list (path, cosine) and its blended vector from the unnormalised sum."""
        rows = [
            {
                "path": path,
                "neighbours": [{"path": p, "score": score} for p, score in links],
                "blended": parameter(total / np.linalg.norm(total)),
                "norm": float(np.linalg.norm(total)),
            }
            for path, (links, total) in lists.items()
        ]
        if rows:
            self._run(tx, WRITE_LINKS, self._link_names(spec), model=spec.name, blended=spec.blended.vector_property, rows=rows)
        return len(rows)

    def nearest_unlinked(self, spec: ModelSpec, vector: np.ndarray, k: int) -> list[Hit]:
        """The k images nearest `vector` by their own vectors among those not linked yet (see NEAREST_UNLINKED)."""
        params = {"index": self.index_name(spec), "vector": parameter(vector), "k": k, "candidates": max(4 * k, 40)}
        return self._hits(self.query(NEAREST_UNLINKED, {**self._link_names(spec), **self._search_names(spec)}, **params))

    def similar_pairs(self, spec: ModelSpec, threshold: float) -> list[tuple[str, str, float]]:
        """(from, to, cosine) of every SIMILAR_TO link scoring at least `threshold`."""
        rows = self.query(SIMILAR_PAIRS, model=spec.name, threshold=threshold)
        return [(r["a"], r["b"], float(r["score"])) for r in rows]

    def links_among(self, spec: ModelSpec, paths: Sequence[str]) -> list[tuple[str, str, float]]:
        """(from, to, cosine) of the SIMILAR_TO links between the given images."""
        rows = self.query(LINKS_AMONG, model=spec.name, paths=list(paths))
        return [(r["a"], r["b"], float(r["score"])) for r in rows]

    def count_links(self, spec: ModelSpec) -> int:
        return self.query(COUNT_LINKS, model=spec.name)[0]["n"]

    def index_ranking(self, spec: ModelSpec, vector: np.ndarray, k: int) -> list[str]:
        """Paths of the index's k nearest in its own order, without exact rescoring (for evaluation)."""
        rows = self.query(
            INDEX_RANKING, self._search_names(spec), index=self.index_name(spec), candidates=k, vector=parameter(vector)
        )
        return [r["path"] for r in rows]

    def page(self, spec: ModelSpec, skip: int, limit: int) -> list[tuple[str, str]]:
        """(path, name) of indexed images in name order, one page at a time, for galleries."""
        rows = self.query(PAGE_OF_IMAGES, {"prop": spec.vector_property}, skip=skip, limit=limit)
        return [(r["path"], r["name"]) for r in rows]

    def count_vectors(self, spec: ModelSpec) -> int:
        return self.query(COUNT_VECTORS, {"prop": spec.vector_property})[0]["n"]

    def remove(self, paths: Sequence[str]) -> None:
        """Delete the images' nodes and links, under the lock of every vector space of this label."""
        spaces = [r["index"] for r in self.query(SPACES_OF_LABEL, prefix=f"{self.label.lower()}_")]
        self.write(REMOVE_IMAGES, locks=spaces, paths=list(paths))

    def save_evaluation(self, figures: dict[str, str | int | float]) -> None:
        self.write(SAVE_EVALUATION, row=figures)

    def latest_evaluation(self) -> dict[str, str | int | float] | None:
        rows = self.query(LATEST_EVALUATION)
        return rows[0]["row"] if rows else None

    def stats(self, specs: Iterable[ModelSpec]) -> StoreStats:
        """Images stored, and per model the state of its two vector indexes (own and blended vectors)."""
        indexes = []
        for spec in (s for model in specs for s in (model, model.blended)):
            row = self._index_row(spec)
            vectors = self.count_vectors(spec)
            indexes.append(
                IndexState(
                    model=f"{spec.name} {spec.variant}".strip(),
                    index_name=self.index_name(spec),
                    state=row["state"] if row else "MISSING",
                    population_percent=float(row["population"]) if row else 0.0,
                    vectors=vectors,
                )
            )
        return StoreStats(images=self.query(COUNT_IMAGES)[0]["n"], indexes=indexes)


@contextmanager
def _server_errors() -> Iterator[None]:
    """An error the server raised (after the driver's own retries of transient ones) becomes one
    line for the user: what failed and what to do."""
    try:
        yield
    except (ClientError, DatabaseError, TransientError) as e:
        raise QueryFailed(e.code or type(e).__name__, e.message or str(e)) from e
