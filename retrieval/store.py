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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from neo4j import Driver, ManagedTransaction, RoutingControl, SummaryCounters
from neo4j.exceptions import ClientError, DatabaseError, TransientError

from retrieval.embed import ModelSpec
from retrieval.errors import QueryFailed, RetrievalError

IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
DEFAULT_LABEL = "Image"

# Templates: `{label}`, `{index}`, `{prop}` and `{constraint}` are filled with checked identifiers
# (see `checked_identifier`); everything else is a parameter. A vector property is named in the
# text (`i.`{prop}``), not looked up by a parameter (`i[$prop]`): Neo4j then tests its existence
# without reading the vector, which made counting 20,000 vectors 40x faster (21 ms, not 870 ms).
CREATE_CONSTRAINT = "CREATE CONSTRAINT `{constraint}` IF NOT EXISTS FOR (i:`{label}`) REQUIRE i.path IS UNIQUE"
CREATE_VECTOR_INDEX = (
    "CREATE VECTOR INDEX `{index}` IF NOT EXISTS FOR (i:`{label}`) ON i.`{prop}` "
    "OPTIONS {{indexConfig: {{`vector.dimensions`: $dimensions, `vector.similarity_function`: 'cosine'}}}}"
)
INDEX_STATE = (
    "SHOW VECTOR INDEXES YIELD name, state, populationPercent, options "
    "WHERE name = $index RETURN state, populationPercent AS population, "
    "options.indexConfig.`vector.dimensions` AS dimensions"
)
UPSERT_IMAGES = """
UNWIND $rows AS row
MERGE (i:`{label}` {{path: row.path}})
SET i.name = row.name, i.size = row.size, i.mtime_ns = row.mtime_ns, i.sha256 = row.sha256,
    i.width = row.width, i.height = row.height, i.indexed_at = datetime()
WITH i, row
CALL db.create.setNodeVectorProperty(i, $prop, row.vector)
"""
STORED_FILES = """
UNWIND $paths AS path
MATCH (i:`{label}` {{path: path}})
RETURN i.path AS path, i.size AS size, i.mtime_ns AS mtime_ns, i.sha256 AS sha256, i.`{prop}` IS NOT NULL AS has_vector
"""
# A file whose modification time changed but whose content did not (same hash): new stat, same vector.
TOUCH_IMAGES = """
UNWIND $rows AS row
MATCH (i:`{label}` {{path: row.path}})
SET i.size = row.size, i.mtime_ns = row.mtime_ns
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
INDEX_CANDIDATES = "CALL db.index.vector.queryNodes($index, $candidates, $vector) YIELD node"
NEAREST = INDEX_CANDIDATES + RANK_EXACTLY
# The index's own order (its score of quantized vectors), not rescored: to measure the index itself.
INDEX_RANKING = "CALL db.index.vector.queryNodes($index, $k, $vector) YIELD node RETURN node.path AS path"
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
UNLINKED = """
MATCH (i:`{label}`) WHERE i.`{prop}` IS NOT NULL AND (i.`{linked}` IS NULL OR i.`{linked}` <> i.sha256)
RETURN i.path AS path, i.`{linked}` IS NOT NULL AS changed
"""
COUNT_UNLINKED = """
MATCH (i:`{label}`) WHERE i.`{prop}` IS NOT NULL AND (i.`{linked}` IS NULL OR i.`{linked}` <> i.sha256)
RETURN count(i) AS n
"""
UNDERLINKED = """
MATCH (i:`{label}`) WHERE i.`{linked_count}` > COUNT {{ (i)-[:SIMILAR_TO {{model: $model}}]->() }}
RETURN i.path AS path
"""
LINKING_TO = """
UNWIND $paths AS path
MATCH (other:`{label}`)-[:SIMILAR_TO {{model: $model}}]->(:`{label}` {{path: path}})
RETURN DISTINCT other.path AS path
"""
LINK_FLOORS = """
UNWIND $paths AS path
MATCH (i:`{label}` {{path: path}})
OPTIONAL MATCH (i)-[r:SIMILAR_TO {{model: $model}}]->()
RETURN i.path AS path, count(r) AS links, min(r.score) AS floor
"""
NEIGHBOURS = """
UNWIND $paths AS path
MATCH (i:`{label}` {{path: path}}) WHERE i.`{prop}` IS NOT NULL
CALL db.index.vector.queryNodes($index, $candidates, i.`{prop}`) YIELD node
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
SET i.`{linked}` = i.sha256, i.`{linked_count}` = size(row.neighbours)
WITH i, row
CALL db.create.setNodeVectorProperty(i, $blended, row.blended)
WITH i, row
UNWIND row.neighbours AS neighbour
MATCH (other:`{label}` {{path: neighbour.path}})
CREATE (i)-[:SIMILAR_TO {{model: $model, score: neighbour.score}}]->(other)
"""
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
    INDEX_CANDIDATES + "\nWHERE EXISTS {{ MATCH (o:`{owner}`)-[:HAS_IMAGE]->(node) WHERE o.`{key}` IN $values }}" + RANK_EXACTLY
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
    sha256: str | None
    has_vector: bool


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

    def _cypher(self, template: str, names: Mapping[str, str] | None) -> str:
        checked = {name: checked_identifier(value) for name, value in (names or {}).items()}
        return template.format(**self._names, **checked)

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
        self, template: str, names: Mapping[str, str] | None = None, /, **params: object
    ) -> tuple[list[dict], SummaryCounters]:
        """Like `query`, in one write transaction (retried by the driver on a transient failure), and
        with the counters of what it changed."""
        query = self._cypher(template, names)

        def work(tx: ManagedTransaction) -> tuple[list[dict], SummaryCounters]:
            result = tx.run(query, params)
            rows = [dict(r.items()) for r in result]
            return rows, result.consume().counters

        with _server_errors(), self.driver.session(database=self.database) as session:
            return session.execute_write(work)

    def ensure_schema(self, spec: ModelSpec, timeout: float = 300.0) -> None:
        """Create the path constraint and the model's two cosine vector indexes (its own vectors and the
        neighbour-blended ones) if missing, and wait until they are ONLINE."""
        self.write(CREATE_CONSTRAINT)
        self._ensure_vector_index(spec, timeout)
        self._ensure_vector_index(spec.blended, timeout)

    def _ensure_vector_index(self, spec: ModelSpec, timeout: float) -> None:
        index = self.index_name(spec)
        self.write(CREATE_VECTOR_INDEX, {"index": index, "prop": spec.vector_property}, dimensions=spec.dimensions)
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
        self.write(UPSERT_IMAGES, rows=rows, prop=spec.vector_property)

    def stored_files(self, spec: ModelSpec, paths: Iterable[str]) -> dict[str, StoredFile]:
        """What the nodes of the given paths remember of their files (paths without a node are left out)."""
        rows = self.query(STORED_FILES, {"prop": spec.vector_property}, paths=list(paths))
        return {r["path"]: StoredFile(r["size"], r["mtime_ns"], r["sha256"], r["has_vector"]) for r in rows}

    def touch(self, rows: Sequence[tuple[str, int, int]]) -> None:
        """Record a new (size, mtime) for files whose content is unchanged: (path, size, mtime_ns) each."""
        self.write(TOUCH_IMAGES, rows=[{"path": p, "size": size, "mtime_ns": mtime} for p, size, mtime in rows])

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
            return self._hits(self.query(NEAREST, {"prop": spec.vector_property}, candidates=candidates, **params))
        names = {"prop": spec.vector_property, "owner": within.label, "key": within.key}
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
        rows = self.query(VECTORS_OF, {"prop": spec.vector_property}, paths=list(paths))
        return {r["path"]: np.asarray(r["vector"], dtype=np.float32) for r in rows}

    def _link_names(self, spec: ModelSpec) -> dict[str, str]:
        return {"linked": f"linked_{spec.slug}", "linked_count": f"linked_{spec.slug}_count"}

    def unlinked(self, spec: ModelSpec) -> list[tuple[str, bool]]:
        """(path, changed) of images not linked since they were (re-)embedded; `changed` if linked before."""
        rows = self.query(UNLINKED, {**self._link_names(spec), "prop": spec.vector_property})
        return [(r["path"], r["changed"]) for r in rows]

    def count_unlinked(self, spec: ModelSpec) -> int:
        """How many images have a vector but no up-to-date neighbour links yet (an index run still
        going, or one stopped before it linked): searches still find them, by their plain vector."""
        rows = self.query(COUNT_UNLINKED, {**self._link_names(spec), "prop": spec.vector_property})
        return int(rows[0]["n"])

    def underlinked(self, spec: ModelSpec) -> list[str]:
        """Images that lost a neighbour (it was removed) since they were linked."""
        rows = self.query(UNDERLINKED, self._link_names(spec), model=spec.name)
        return [r["path"] for r in rows]

    def linking_to(self, spec: ModelSpec, paths: Sequence[str]) -> list[str]:
        """Images with a SIMILAR_TO link to any of `paths`."""
        return [r["path"] for r in self.query(LINKING_TO, paths=list(paths), model=spec.name)]

    def link_floors(self, spec: ModelSpec, paths: Sequence[str]) -> dict[str, tuple[int, float | None]]:
        """Per image: how many SIMILAR_TO links it has and the lowest score among them."""
        rows = self.query(LINK_FLOORS, paths=list(paths), model=spec.name)
        return {r["path"]: (r["links"], r["floor"]) for r in rows}

    def neighbours(self, spec: ModelSpec, paths: Sequence[str], k: int, min_score: float) -> dict[str, list[Hit]]:
        """Each stored image's k nearest others (exact cosine of over-fetched index candidates), best first."""
        rows = self.query(
            NEIGHBOURS,
            {"prop": spec.vector_property},
            paths=list(paths),
            index=self.index_name(spec),
            candidates=max(4 * (k + 1), 40),
            k=k,
            min_score=min_score,
        )
        found = {r["path"]: [Hit(n["path"], Path(n["path"]).name, float(n["score"])) for n in r["neighbours"]] for r in rows}
        return {path: found.get(path, []) for path in paths}

    def write_links(self, spec: ModelSpec, rows: Sequence[tuple[str, list[Hit], np.ndarray]]) -> None:
        """Replace the SIMILAR_TO links of each (path, neighbours, blended vector) and store the blended
        vector, one transaction per call, so a rerun never duplicates a link."""
        self.write(
            WRITE_LINKS,
            self._link_names(spec),
            model=spec.name,
            blended=spec.blended.vector_property,
            rows=[
                {
                    "path": path,
                    "neighbours": [{"path": h.path, "score": h.score} for h in neighbours],
                    "blended": parameter(blended),
                }
                for path, neighbours, blended in rows
            ],
        )

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
        rows = self.query(INDEX_RANKING, index=self.index_name(spec), k=k, vector=parameter(vector))
        return [r["path"] for r in rows]

    def page(self, spec: ModelSpec, skip: int, limit: int) -> list[tuple[str, str]]:
        """(path, name) of indexed images in name order, one page at a time, for galleries."""
        rows = self.query(PAGE_OF_IMAGES, {"prop": spec.vector_property}, skip=skip, limit=limit)
        return [(r["path"], r["name"]) for r in rows]

    def count_vectors(self, spec: ModelSpec) -> int:
        return self.query(COUNT_VECTORS, {"prop": spec.vector_property})[0]["n"]

    def remove(self, paths: Sequence[str]) -> None:
        self.write(REMOVE_IMAGES, paths=list(paths))

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
