"""`Image` nodes: their file facts and vectors, written in batches (one node per path under the path
constraint, so any number of writers may run at once), and searched through the space's vector index
with exact rescoring.

Beside each vector the node keeps a compact float16 copy (`{compact}`, bytes): the default search
ships a few hundred candidates' vectors to its re-ranking, and bytes travel several times faster than
lists of floats (docs/BENCHMARKS.md, "How candidates' vectors reach the re-ranking")."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from retrieval.core.errors import RetrievalError
from retrieval.core.filters import PhotoFilter, camera_key
from retrieval.core.spaces import VectorSpace
from retrieval.neo4j.base import Row, StoreBase, parameter
from retrieval.neo4j.filters import (
    EXACT_LIMIT,
    FILTER_PROPERTIES,
    OVERFETCH,
    OWNED_EXISTS,
    OWNED_PATTERN,
    OWNED_VALUE,
    CatalogueFilter,
    value_forms,
)

# `{made_from}` is the content hash the model's vector was made from: size, time and hash are the
# file's, shared by every model, but a vector is current only if it was made from that content.
UPSERT_IMAGES = """
UNWIND $rows AS row
MERGE (i:`{label}` {{path: row.path}})
SET i.name = row.name, i.size = row.size, i.mtime_ns = row.mtime_ns, i.sha256 = row.sha256,
    i.width = row.width, i.height = row.height, i.indexed_at = datetime(), i.`{made_from}` = row.sha256,
    i.`{compact}` = row.compact,
    i.taken = row.taken, i.camera = row.camera, i.camera_key = row.camera_key, i.folder = row.folder, i.facts = $facts
WITH i, row
CALL db.create.setNodeVectorProperty(i, $prop, row.vector)
"""

# A vector stored before hashes were kept per model counts as made from the node's content.
VECTOR_MADE_FROM = "CASE WHEN i.`{prop}` IS NULL THEN null ELSE coalesce(i.`{made_from}`, i.sha256) END"

# `{linked}` is the content hash the image's own SIMILAR_TO list was made from (see links.py).
STORED_FILES = f"""
UNWIND $paths AS path
MATCH (i:`{{label}}` {{{{path: path}}}})
RETURN i.path AS path, i.size AS size, i.mtime_ns AS mtime_ns, i.sha256 AS sha256, {VECTOR_MADE_FROM} AS vector_sha256,
       i.`{{linked}}` AS linked_sha256, i.facts AS facts
"""

# The file's own facts on a node whose vector is current (a database from before facts were kept).
SET_FACTS = """
UNWIND $rows AS row
MATCH (i:`{label}` {{path: row.path}})
SET i.taken = row.taken, i.camera = row.camera, i.camera_key = row.camera_key, i.folder = row.folder, i.facts = $facts
"""

FACTS_VERSION = 1  # `facts` on a node: which reading of the file's facts it holds (none: read them on the next run)

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

# The candidates' vectors for arithmetic in Python: the compact copy, or the vector itself on a node
# written before compact copies were kept (bytes or a list of floats: see `compact_vector`). A CASE,
# not coalesce(), which reads both (the float vector too: 300 candidates took 53 ms against 34).
WITH_VECTORS = ", CASE WHEN node.`{compact}` IS NULL THEN node.`{prop}` ELSE node.`{compact}` END AS vector"

# The index's candidates with their vectors, not rescored in Cypher: the caller does its arithmetic
# on the vectors anyway (reading every candidate's float vector on the server cost more than the
# search itself at 300 candidates; docs/BENCHMARKS.md).
CANDIDATES_TAIL = "RETURN node.path AS path, node.name AS name" + WITH_VECTORS

# The index's own order (its score of quantized vectors), not rescored: to measure the index itself.
INDEX_RANKING = "{candidates}\nRETURN node.path AS path"

VECTORS_OF = """
UNWIND $paths AS path
MATCH (i:`{label}` {{path: path}}) WHERE i.`{prop}` IS NOT NULL
RETURN i.path AS path, i.`{prop}` AS vector
"""

FACTS_OF = """
UNWIND $paths AS path
MATCH (i:`{label}` {{path: path}})
RETURN i.path AS path, i.taken AS taken, i.camera AS camera, i.width AS width, i.height AS height
"""

CAMERAS = "MATCH (i:`{label}`) WHERE i.camera IS NOT NULL RETURN DISTINCT i.camera AS camera ORDER BY camera LIMIT $limit"


REMOVE_IMAGES = "UNWIND $paths AS path MATCH (i:`{label}` {{path: path}}) DETACH DELETE i"

COUNT_IMAGES = "MATCH (i:`{label}`) RETURN count(i) AS n"

INDEX_PROPERTIES = "SHOW VECTOR INDEXES YIELD name, properties WHERE name = $index RETURN properties"

COUNT_VECTORS = "MATCH (i:`{label}`) WHERE i.`{prop}` IS NOT NULL{passing} RETURN count(i) AS n"


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
    taken: datetime | None = None
    camera: str | None = None


@dataclass(frozen=True)
class StoredFile:
    """What a node remembers of its file, to tell unchanged files from changed ones without reading them."""

    size: int | None
    mtime_ns: int | None
    sha256: str | None  # of the file's content when last seen
    vector_sha256: str | None  # of the content this model's vector was made from; None without a vector
    linked_sha256: str | None = None  # of the content its SIMILAR_TO list was made from; None without a list
    facts: int | None = None  # FACTS_VERSION when the file's facts were read into the node

    @property
    def current(self) -> bool:
        """This model's vector was made from the content the node last saw."""
        return self.vector_sha256 is not None and self.vector_sha256 == self.sha256

    @property
    def listed(self) -> bool:
        """Its SIMILAR_TO list was made from the vector it has now."""
        return self.current and self.linked_sha256 == self.vector_sha256


@dataclass(frozen=True)
class Hit:
    """A search result: the image's path and name, and its cosine similarity to the query (-1..1)."""

    path: str
    name: str
    score: float


@dataclass(frozen=True)
class Ask:
    """What a search for the nearest images asks for: k rows, from `candidates` index candidates
    (None: `candidate_count(k)`), `within` part of the user's catalogue and passing `facts`, with each
    row's vector when `vectors`. `exact_limit` and `overfetch` tune a search filtered after the index
    (None: the measured defaults, EXACT_LIMIT and OVERFETCH)."""

    k: int
    candidates: int | None = None
    within: CatalogueFilter | None = None
    vectors: bool = False
    exact_limit: int | None = None
    overfetch: float | None = None
    rescored: bool = True  # ranked by the exact cosine in Cypher; else the index's k candidates, unranked
    facts: PhotoFilter | None = None


@dataclass(frozen=True)
class PhotoFacts:
    """What a node keeps of its file's own facts (None where the file did not say)."""

    taken: datetime | None
    camera: str | None
    width: int | None
    height: int | None


@dataclass(frozen=True)
class Candidates:
    """An index's candidates near a vector, best first by exact cosine, with their vectors (one row each)."""

    hits: list[Hit]
    vectors: np.ndarray


def compact(vector: np.ndarray) -> bytes:
    """The compact copy kept beside a vector: little-endian float16 bytes (cosines change by under 1e-3)."""
    return vector.astype("<f2").tobytes()


def compact_vector(value: bytes | Sequence[float]) -> np.ndarray:
    """A vector from its compact copy, or from the float list of a node written before copies were kept."""
    if isinstance(value, bytes | bytearray):
        return np.frombuffer(value, dtype="<f2").astype(np.float32)
    return np.asarray(value, dtype=np.float32)


class Images(StoreBase):
    """Image nodes and their vectors."""

    def upsert(self, space: VectorSpace, records: Sequence[ImageRecord]) -> None:
        """Write one batch in one transaction: a node per path (created or updated) with its vector and
        the vector's compact copy. No lock: MERGE under the path constraint keeps one node per file
        whatever other runs write at the same time."""
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
                "compact": compact(r.vector),
                **fact_row(r.path, r.taken, r.camera),
            }
            for r in records
        ]
        self._write(UPSERT_IMAGES, self._search_names(space), rows=rows, prop=space.vector_property, facts=FACTS_VERSION)

    def set_facts(self, rows: Sequence[tuple[str, datetime | None, str | None]]) -> None:
        """Write the files' own facts, (path, taken, camera) each, on nodes whose vectors stay as they are."""
        self._write(SET_FACTS, rows=[fact_row(*row) for row in rows], facts=FACTS_VERSION)

    def stored_files(self, space: VectorSpace, paths: Iterable[str]) -> dict[str, StoredFile]:
        """What the nodes of the given paths remember of their files (paths without a node are left out)."""
        rows = self._query(STORED_FILES, self._link_names(space), paths=list(paths))
        return {
            r["path"]: StoredFile(r["size"], r["mtime_ns"], r["sha256"], r["vector_sha256"], r["linked_sha256"], r["facts"])
            for r in rows
        }

    def touch(self, space: VectorSpace, rows: Sequence[tuple[str, int, int, str]]) -> None:
        """Record a new (size, mtime) for files whose content is what `space`'s vector was made from:
        (path, size, mtime_ns, sha256) each."""
        self._write(
            TOUCH_IMAGES, rows=[{"path": p, "size": size, "mtime_ns": mtime, "sha256": sha} for p, size, mtime, sha in rows]
        )

    def paths(self, prefix: str = "") -> list[str]:
        """Paths of stored images, all of them or those under a folder prefix."""
        return [r["path"] for r in self._query(PATHS_UNDER, prefix=prefix)]

    def vector_of(self, space: VectorSpace, path: str) -> np.ndarray | None:
        return self.vectors_of(space, [path]).get(path)

    def nearest(
        self,
        space: VectorSpace,
        vector: np.ndarray,
        k: int,
        candidates: int | None = None,
        *,
        within: CatalogueFilter | None = None,
        facts: PhotoFilter | None = None,
        exact_limit: int | None = None,
        overfetch: float | None = None,
    ) -> list[Hit]:
        """The k stored images most cosine-similar to `vector`, best first, `within` a part of the
        user's catalogue and passing `facts` if given (`exact_limit` and `overfetch` tune how: see
        `_nearest_rows`). The index is asked for `candidates` (default `candidate_count(k)`)
        neighbours: in Neo4j 5.26 the k given to the index is also its search width, so asking for
        more buys recall."""
        ask = Ask(k, candidates, within, False, exact_limit, overfetch, facts=facts)
        return self._hits(self._nearest_rows(space, vector, ask))

    def neighbourhood(
        self,
        space: VectorSpace,
        vector: np.ndarray,
        k: int,
        *,
        within: CatalogueFilter | None = None,
        facts: PhotoFilter | None = None,
        rescored: bool = True,
    ) -> Candidates:
        """`nearest`'s k images with their vectors (compact copies), for arithmetic on the candidates.
        Without `rescored`, the index's k candidates as they come, each scored by its compact copy."""
        ask = Ask(k, k, within, vectors=True, rescored=rescored, facts=facts)
        rows = self._nearest_rows(space, vector, ask)
        vectors = np.stack([compact_vector(r["vector"]) for r in rows]) if rows else np.zeros((0, space.dimensions), np.float32)
        if rows and "cosine" not in rows[0]:
            rows = [{**r, "cosine": float(score)} for r, score in zip(rows, vectors @ vector.astype(np.float32), strict=True)]
        return Candidates(self._hits(rows), vectors)

    def filters_in_index(self, space: VectorSpace) -> bool:
        """Whether `space`'s index evaluates PhotoFilter itself: a server whose SEARCH clause takes a
        WHERE (2026.01+), and an index made with FILTER_PROPERTIES.

        An index made before (by an earlier release, or on 5.26 before the server was upgraded) is not
        rebuilt to add them: rebuilding the HNSW graph of a large collection takes long, and the search
        stays right without them, filtering after the index with over-fetch (`_nearest_rows`). To get
        the in-index filter, drop the index (DROP INDEX name) and run `index` again (docs/NEO4J.md)."""
        if not self.dialect.search_filter:
            return False
        rows = self._query(INDEX_PROPERTIES, index=self.index_name(space))
        return bool(rows) and set(FILTER_PROPERTIES) <= set(rows[0]["properties"])

    def _nearest_rows(self, space: VectorSpace, vector: np.ndarray, ask: Ask) -> list[Row]:
        """The rows of `nearest`, composed in this one place: the index's candidate step as the
        server's dialect says it, with the photo filter inside it when the index can evaluate it
        (`filters_in_index`); any other filter (the catalogue's always) after it, where up to
        `exact_limit` matching images are ranked exactly, and more are found through the index asked
        for `overfetch` times k over the matching share of candidates, widened until k pass."""
        k = checked_count(ask.k)
        candidates = max(ask.candidates or candidate_count(k), k)
        names = self._search_names(space)
        params: dict[str, Any] = {"index": self.index_name(space), "vector": parameter(vector), "k": k}
        inside: list[str] = []
        after: list[str] = []
        if ask.facts is not None and ask.facts.active:
            terms, values = ask.facts.predicates()
            params |= values
            (inside if self.filters_in_index(space) else after).extend(terms)
        if (within := ask.within) is not None:
            names |= {"owner": within.label, "key": within.key}
            params["values"] = value_forms(within.value)
        step = self.dialect.candidates("$vector", " AND ".join(inside))
        if not (after or within):
            template = step + "\n" + (returning(RANK_EXACTLY, ask.vectors) if ask.rescored else CANDIDATES_TAIL)
            return self._query(template, names, **params, candidates=candidates)
        exact_limit = EXACT_LIMIT if ask.exact_limit is None else ask.exact_limit
        overfetch = OVERFETCH if ask.overfetch is None else ask.overfetch
        matching_where = " AND ".join(["node.`{prop}` IS NOT NULL", *inside, *after, *([OWNED_VALUE] if within else [])])
        matching = f"{OWNED_PATTERN if within else 'MATCH (node:`{label}`)'} WHERE {matching_where}"
        count = self._query(matching + " RETURN count(DISTINCT node) AS n", names, **params)[0]["n"]
        if count <= exact_limit:
            exact = matching + "\nWITH DISTINCT node" + returning(RANK_EXACTLY, ask.vectors)
            return self._query(exact, names, **params) if count else []
        # Matches are spread through the ranking at about the share `count / total`: widen the
        # index's search by its inverse, and again (x4) in the rare case fewer than k pass.
        total = self._count_passing(inside, params)
        candidates = min(total, max(candidates, math.ceil(overfetch * k * total / count)))
        template = step + "\nWITH node WHERE " + " AND ".join([*after, *([OWNED_EXISTS] if within else [])])
        template += returning(RANK_EXACTLY, ask.vectors)
        while True:
            rows = self._query(template, names, **params, candidates=candidates)
            if len(rows) >= k or candidates >= total:
                return rows
            candidates = min(total, 4 * candidates)

    def _count_passing(self, inside: list[str], params: dict[str, Any]) -> int:
        """How many images the index's own candidates come from: all (from the count store), or those passing its filter."""
        if not inside:
            return int(self._query(COUNT_IMAGES)[0]["n"])
        return int(
            self._query("MATCH (node:`{label}`) WHERE " + " AND ".join(inside) + " RETURN count(node) AS n", **params)[0]["n"]
        )

    @staticmethod
    def _hits(rows: list[Row]) -> list[Hit]:
        return [Hit(path=r["path"], name=r["name"], score=float(r["cosine"])) for r in rows]

    def vectors(self, space: VectorSpace) -> dict[str, np.ndarray]:
        """Every stored vector of `space`'s model by path (for evaluation and exact search; large collections cost memory)."""
        return {
            r["path"]: np.asarray(r["vector"], dtype=np.float32) for r in self._query(VECTORS, {"prop": space.vector_property})
        }

    def vectors_of(self, space: VectorSpace, paths: Iterable[str]) -> dict[str, np.ndarray]:
        rows = self._query(VECTORS_OF, {"prop": space.vector_property}, paths=list(paths))
        return {r["path"]: np.asarray(r["vector"], dtype=np.float32) for r in rows}

    def index_ranking(self, space: VectorSpace, vector: np.ndarray, k: int) -> list[str]:
        """Paths of the index's k nearest in its own order, without exact rescoring (for evaluation)."""
        rows = self._query(
            INDEX_RANKING, self._search_names(space), index=self.index_name(space), candidates=k, vector=parameter(vector)
        )
        return [r["path"] for r in rows]

    def facts_of(self, paths: Iterable[str]) -> dict[str, PhotoFacts]:
        """The stored facts of the images at `paths` (paths without a node are left out)."""
        rows = self._query(FACTS_OF, paths=list(paths))
        return {
            r["path"]: PhotoFacts(
                r["taken"].to_native() if r["taken"] is not None else None, r["camera"], r["width"], r["height"]
            )
            for r in rows
        }

    def count_vectors(self, space: VectorSpace, facts: PhotoFilter | None = None) -> int:
        """How many images have `space`'s vector (and pass `facts`)."""
        template, params = passing(COUNT_VECTORS, facts)
        return int(self._query(template, {"prop": space.vector_property}, **params)[0]["n"])

    def cameras(self, limit: int = 500) -> list[str]:
        """The cameras the stored photos were taken with, by name, for a filter's choices."""
        return [r["camera"] for r in self._query(CAMERAS, limit=limit)]

    def remove(self, paths: Sequence[str]) -> None:
        """Delete the images' nodes and their links."""
        self._write(REMOVE_IMAGES, paths=list(paths))


def fact_row(path: str, taken: datetime | None, camera: str | None) -> dict[str, object]:
    """A file's facts as a node keeps them: the camera also by `camera_key`, the folder it lies in."""
    return {
        "path": path,
        "taken": taken,
        "camera": camera,
        "camera_key": camera_key(camera) if camera else None,
        "folder": os.path.dirname(path),
    }


def passing(template: str, facts: PhotoFilter | None) -> tuple[str, dict[str, object]]:
    """`template` with its `{passing}` filled by `facts`' predicates on `i` (or nothing), and their parameters."""
    terms, params = facts.predicates("i") if facts is not None else ([], {})
    return template.replace("{passing}", "".join(f" AND {t}" for t in terms)), params


def candidate_count(k: int) -> int:
    """How many candidates the index is asked for to return k results: 4k, and at least 40 (docs/NEO4J.md)."""
    return max(4 * k, 40)


def checked_count(k: int) -> int:
    if k < 1:
        raise RetrievalError(f"The number of results must be at least 1, not {k}.")
    return k


def returning(template: str, vectors: bool) -> str:
    """A template that ends in RANK_EXACTLY's RETURN, with each row's vector as well when `vectors`."""
    return template.rstrip() + WITH_VECTORS if vectors else template
