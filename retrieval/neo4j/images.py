"""`Image` nodes: their file facts and vectors, written in batches (one node per path under the path
constraint, so any number of writers may run at once); nearest.py searches them.

Beside each vector the node keeps a compact float16 copy (`{compact}`, bytes): the default search
ships a few hundred candidates' vectors to its re-ranking, and bytes travel several times faster than
lists of floats (docs/BENCHMARKS.md, "How candidates' vectors reach the re-ranking")."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from retrieval.core.facts import FACTS, READING, Value, stored_facts
from retrieval.core.filters import PhotoFilter
from retrieval.core.spaces import VectorSpace
from retrieval.neo4j.base import StoreBase, checked_identifier, parameter
from retrieval.neo4j.filters import matching_images
from retrieval.neo4j.resolutions import aside_label

# The file's own facts on its node: each declared fact's properties (core/facts.py), its folder, and
# which reading of the facts it holds (`facts`, READING: a node without it is read again).
SET_FACTS_OF_ROW = ", ".join(
    [
        *(f"i.`{checked_identifier(prop)}` = row.`{prop}`" for prop in stored_facts({})),
        "i.folder = row.folder",
        "i.facts = $facts",
    ]
)

# `{made_from}` is the content hash the model's vector was made from: size, time and hash are the
# file's, shared by every model, but a vector is current only if it was made from that content.
# A path set aside by a resolution of duplicates (resolutions.py) is not written back into the catalogue
# by a run that read its file before it was moved.
UPSERT_IMAGES = (
    """
UNWIND $rows AS row
WITH row WHERE NOT EXISTS { MATCH (:`{aside}` {path: row.path}) }
MERGE (i:`{label}` {path: row.path})
SET i.name = row.name, i.size = row.size, i.mtime_ns = row.mtime_ns, i.sha256 = row.sha256,
    i.width = row.width, i.height = row.height, i.indexed_at = datetime(), i.`{made_from}` = row.sha256,
    i.`{compact}` = row.compact, i.`{precision}` = row.precision, """
    + SET_FACTS_OF_ROW
    + """
WITH i, row
CALL db.create.setNodeVectorProperty(i, $prop, row.vector)
"""
)

# A vector stored before hashes were kept per model counts as made from the node's content.
VECTOR_MADE_FROM = "CASE WHEN i.`{prop}` IS NULL THEN null ELSE coalesce(i.`{made_from}`, i.sha256) END"

# `{linked}` is the content hash the image's own SIMILAR_TO list was made from (see links.py).
STORED_FILES = (
    """
UNWIND $paths AS path
MATCH (i:`{label}` {path: path})
RETURN i.path AS path, i.size AS size, i.mtime_ns AS mtime_ns, i.sha256 AS sha256, """
    + VECTOR_MADE_FROM
    + """ AS vector_sha256,
       i.`{linked}` AS linked_sha256, i.facts AS facts
"""
)

# The file's own facts on a node whose vector is current (a database from before facts were kept).
SET_FACTS = "UNWIND $rows AS row MATCH (i:`{label}` {path: row.path}) SET " + SET_FACTS_OF_ROW

# A file whose modification time changed but whose content is what the vector was made from: new stat, same vector.
TOUCH_IMAGES = """
UNWIND $rows AS row
MATCH (i:`{label}` {path: row.path})
SET i.size = row.size, i.mtime_ns = row.mtime_ns, i.sha256 = row.sha256
"""

PATHS_UNDER = "MATCH (i:`{label}`) WHERE i.path STARTS WITH $prefix RETURN i.path AS path"

VECTORS = "MATCH (i:`{label}`) WHERE i.`{prop}` IS NOT NULL RETURN i.path AS path, i.`{prop}` AS vector"

VECTORS_OF = """
UNWIND $paths AS path
MATCH (i:`{label}` {path: path}) WHERE i.`{prop}` IS NOT NULL
RETURN i.path AS path, i.`{prop}` AS vector
"""

FACTS_OF = (
    "UNWIND $paths AS path MATCH (i:`{label}` {path: path}) RETURN i.path AS path, i.width AS width, i.height AS height, "
    + ", ".join(f"i.`{fact.name}` AS `{fact.name}`" for fact in FACTS)
)

# The values a fact takes, each once as its filter compares them (`{key}`: a name's `_key`): the spelling most photos carry.
FACT_VALUES = """
MATCH (i:`{label}`) WHERE i.`{fact}` IS NOT NULL
WITH i.`{key}` AS key, i.`{fact}` AS value, count(*) AS photos ORDER BY photos DESC, value
WITH key, collect(value)[0] AS value
RETURN value ORDER BY toLower(toString(value)), value LIMIT $limit
"""


REMOVE_IMAGES = "UNWIND $paths AS path MATCH (i:`{label}` {path: path}) DETACH DELETE i"

COUNT_IMAGES = "MATCH (i:`{label}`) RETURN count(i) AS n"


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
    facts: Mapping[str, Value] = field(default_factory=dict)  # the declared facts the file says, by name
    precision: str | None = None  # what the vector was computed in (runtime.py); None: not recorded


@dataclass(frozen=True)
class StoredFile:
    """What a node remembers of its file, to tell unchanged files from changed ones without reading them."""

    size: int | None
    mtime_ns: int | None
    sha256: str | None  # of the file's content when last seen
    vector_sha256: str | None  # of the content this model's vector was made from; None without a vector
    linked_sha256: str | None = None  # of the content its SIMILAR_TO list was made from; None without a list
    facts: str | int | None = None  # READING when the file's facts were read into the node as they are declared now

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
class PhotoFacts:
    """What a node keeps of its file's own facts: the declared ones the file said, by name, and its size."""

    facts: dict[str, Value]
    width: int | None
    height: int | None


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
                "precision": r.precision,
                **fact_row(r.path, r.facts),
            }
            for r in records
        ]
        names = {**self._search_names(space), "aside": aside_label(self.label), "precision": space.precision_property}
        self._write(UPSERT_IMAGES, names, rows=rows, prop=space.vector_property, facts=READING)

    def set_facts(self, rows: Sequence[tuple[str, Mapping[str, Value]]]) -> None:
        """Write the files' own facts, (path, facts by name) each, on nodes whose vectors stay as they are."""
        self._write(SET_FACTS, rows=[fact_row(*row) for row in rows], facts=READING)

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

    def vectors(self, space: VectorSpace) -> dict[str, np.ndarray]:
        """Every stored vector of `space`'s model by path (for evaluation and exact search; large collections cost memory)."""
        return {
            r["path"]: np.asarray(r["vector"], dtype=np.float32) for r in self._query(VECTORS, {"prop": space.vector_property})
        }

    def vectors_of(self, space: VectorSpace, paths: Iterable[str]) -> dict[str, np.ndarray]:
        rows = self._query(VECTORS_OF, {"prop": space.vector_property}, paths=list(paths))
        return {r["path"]: np.asarray(r["vector"], dtype=np.float32) for r in rows}

    def facts_of(self, paths: Iterable[str]) -> dict[str, PhotoFacts]:
        """The stored facts of the images at `paths` (paths without a node are left out)."""
        rows = self._query(FACTS_OF, paths=list(paths))
        return {
            r["path"]: PhotoFacts({f.name: native(r[f.name]) for f in FACTS if r[f.name] is not None}, r["width"], r["height"])
            for r in rows
        }

    def count_vectors(self, space: VectorSpace, facts: PhotoFilter | None = None) -> int:
        """How many images have `space`'s vector (and pass `facts`)."""
        terms, params = facts.predicates() if facts is not None else ([], {})
        template = matching_images(None, terms) + " RETURN count(node) AS n"
        return int(self._query(template, {"prop": space.vector_property}, **params)[0]["n"])

    def fact_values(self, fact: str, limit: int = 500) -> list[Value]:
        """The values a declared fact takes on the stored photos (the cameras, ...), each once as the filter
        compares them ("NIKON D750" and "nikon d750" are one camera), in order, for a filter's choices."""
        key = next(f.filtered for f in FACTS if f.name == fact)
        return [native(r["value"]) for r in self._query(FACT_VALUES, {"fact": fact, "key": key}, limit=limit)]

    def remove(self, paths: Sequence[str]) -> None:
        """Delete the images' nodes and their links."""
        self._write(REMOVE_IMAGES, paths=list(paths))


def fact_row(path: str, facts: Mapping[str, Value]) -> dict[str, object]:
    """A file's facts as a node keeps them (see `Fact.stored`), and the folder it lies in."""
    return {"path": path, **stored_facts(facts), "folder": os.path.dirname(path)}


def native(value: object) -> Value:
    """A stored fact as Python has it: Neo4j's datetime as a `datetime`."""
    to_native = getattr(value, "to_native", None)
    return to_native() if callable(to_native) else value  # type: ignore[return-value]
