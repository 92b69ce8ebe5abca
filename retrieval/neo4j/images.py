"""`Image` nodes: their file facts and vectors, written in batches (one node per path under the path
constraint, so any number of writers may run at once), and searched through the space's vector index
with exact rescoring.

Beside each vector the node keeps a compact float16 copy (`{compact}`, bytes): the default search
ships a few hundred candidates' vectors to its re-ranking, and bytes travel several times faster than
lists of floats (docs/BENCHMARKS.md, "How candidates' vectors reach the re-ranking")."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from retrieval.core.errors import RetrievalError
from retrieval.core.spaces import VectorSpace
from retrieval.neo4j.base import Row, StoreBase, parameter

if TYPE_CHECKING:
    from retrieval.neo4j.catalogue import CatalogueFilter

# `{made_from}` is the content hash the model's vector was made from: size, time and hash are the
# file's, shared by every model, but a vector is current only if it was made from that content.
UPSERT_IMAGES = """
UNWIND $rows AS row
MERGE (i:`{label}` {{path: row.path}})
SET i.name = row.name, i.size = row.size, i.mtime_ns = row.mtime_ns, i.sha256 = row.sha256,
    i.width = row.width, i.height = row.height, i.indexed_at = datetime(), i.`{made_from}` = row.sha256,
    i.`{compact}` = row.compact
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
       i.`{{linked}}` AS linked_sha256
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

# The candidates' vectors for arithmetic in Python: the compact copy, or the vector itself on a node
# written before compact copies were kept (bytes or a list of floats: see `compact_vector`). A CASE,
# not coalesce(), which reads both (the float vector too: 300 candidates took 53 ms against 34).
WITH_VECTORS = ", CASE WHEN node.`{compact}` IS NULL THEN node.`{prop}` ELSE node.`{compact}` END AS vector"

# The index's candidates with their vectors, not rescored in Cypher: the caller does its arithmetic
# on the vectors anyway (reading every candidate's float vector on the server cost more than the
# search itself at 300 candidates; docs/BENCHMARKS.md).
CANDIDATES_WITH_VECTORS = "{candidates}\nRETURN node.path AS path, node.name AS name" + WITH_VECTORS

# The index's own order (its score of quantized vectors), not rescored: to measure the index itself.
INDEX_RANKING = "{candidates}\nRETURN node.path AS path"

VECTORS_OF = """
UNWIND $paths AS path
MATCH (i:`{label}` {{path: path}}) WHERE i.`{prop}` IS NOT NULL
RETURN i.path AS path, i.`{prop}` AS vector
"""


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
    linked_sha256: str | None = None  # of the content its SIMILAR_TO list was made from; None without a list

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
    (None: `candidate_count(k)`), `within` part of the user's catalogue, with each row's vector when
    `vectors`. `exact_limit` and `overfetch` tune a search within the catalogue (None: the measured
    defaults, see Catalogue)."""

    k: int
    candidates: int | None = None
    within: CatalogueFilter | None = None
    vectors: bool = False
    exact_limit: int | None = None
    overfetch: float | None = None
    rescored: bool = True  # ranked by the exact cosine in Cypher; else the index's k candidates, unranked


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
            }
            for r in records
        ]
        self.write(UPSERT_IMAGES, self._search_names(space), rows=rows, prop=space.vector_property)

    def stored_files(self, space: VectorSpace, paths: Iterable[str]) -> dict[str, StoredFile]:
        """What the nodes of the given paths remember of their files (paths without a node are left out)."""
        rows = self.query(STORED_FILES, self._link_names(space), paths=list(paths))
        return {
            r["path"]: StoredFile(r["size"], r["mtime_ns"], r["sha256"], r["vector_sha256"], r["linked_sha256"]) for r in rows
        }

    def touch(self, space: VectorSpace, rows: Sequence[tuple[str, int, int, str]]) -> None:
        """Record a new (size, mtime) for files whose content is what `space`'s vector was made from:
        (path, size, mtime_ns, sha256) each."""
        self.write(
            TOUCH_IMAGES, rows=[{"path": p, "size": size, "mtime_ns": mtime, "sha256": sha} for p, size, mtime, sha in rows]
        )

    def paths(self, prefix: str = "") -> list[str]:
        """Paths of stored images, all of them or those under a folder prefix."""
        return [r["path"] for r in self.query(PATHS_UNDER, prefix=prefix)]

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
        exact_limit: int | None = None,
        overfetch: float | None = None,
    ) -> list[Hit]:
        """The k stored images most cosine-similar to `vector`, best first, `within` a part of the
        user's catalogue if given (`exact_limit` and `overfetch` tune how: see Catalogue). The index
        is asked for `candidates` (default `candidate_count(k)`) neighbours: in Neo4j 5.26 the k
        given to the index is also its search width, so asking for more buys recall."""
        return self._hits(self._nearest_rows(space, vector, Ask(k, candidates, within, False, exact_limit, overfetch)))

    def neighbourhood(
        self, space: VectorSpace, vector: np.ndarray, k: int, *, within: CatalogueFilter | None = None, rescored: bool = True
    ) -> Candidates:
        """`nearest`'s k images with their vectors (compact copies), for arithmetic on the candidates.
        Without `rescored`, the index's k candidates as they come, each scored by its compact copy."""
        rows = self._nearest_rows(space, vector, Ask(k, k, within, vectors=True, rescored=rescored))
        vectors = np.stack([compact_vector(r["vector"]) for r in rows]) if rows else np.zeros((0, space.dimensions), np.float32)
        if rows and "cosine" not in rows[0]:
            rows = [{**r, "cosine": float(score)} for r, score in zip(rows, vectors @ vector.astype(np.float32), strict=True)]
        return Candidates(self._hits(rows), vectors)

    def _nearest_rows(self, space: VectorSpace, vector: np.ndarray, ask: Ask) -> list[Row]:
        """The rows of `nearest` (with each candidate's vector when asked); Catalogue adds `within`."""
        if ask.within is not None:
            raise RetrievalError("This store cannot search within a catalogue.")
        params = {"index": self.index_name(space), "vector": parameter(vector), "k": checked_count(ask.k)}
        candidates = max(ask.candidates or candidate_count(ask.k), ask.k)
        template = returning(NEAREST, ask.vectors) if ask.rescored else CANDIDATES_WITH_VECTORS
        return self.query(template, self._search_names(space), **params, candidates=candidates)

    @staticmethod
    def _hits(rows: list[Row]) -> list[Hit]:
        return [Hit(path=r["path"], name=r["name"], score=float(r["cosine"])) for r in rows]

    def vectors(self, space: VectorSpace) -> dict[str, np.ndarray]:
        """Every stored vector of `space`'s model by path (for evaluation and exact search; large collections cost memory)."""
        return {
            r["path"]: np.asarray(r["vector"], dtype=np.float32) for r in self.query(VECTORS, {"prop": space.vector_property})
        }

    def vectors_of(self, space: VectorSpace, paths: Iterable[str]) -> dict[str, np.ndarray]:
        rows = self.query(VECTORS_OF, {"prop": space.vector_property}, paths=list(paths))
        return {r["path"]: np.asarray(r["vector"], dtype=np.float32) for r in rows}

    def index_ranking(self, space: VectorSpace, vector: np.ndarray, k: int) -> list[str]:
        """Paths of the index's k nearest in its own order, without exact rescoring (for evaluation)."""
        rows = self.query(
            INDEX_RANKING, self._search_names(space), index=self.index_name(space), candidates=k, vector=parameter(vector)
        )
        return [r["path"] for r in rows]

    def count_vectors(self, space: VectorSpace) -> int:
        return int(self.query(COUNT_VECTORS, {"prop": space.vector_property})[0]["n"])

    def remove(self, paths: Sequence[str]) -> None:
        """Delete the images' nodes and their links."""
        self.write(REMOVE_IMAGES, paths=list(paths))


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
