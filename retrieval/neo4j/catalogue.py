"""The user's own catalogue nodes, `(o:Owner)-[:HAS_IMAGE]->(image)`: attaching images to them, reading
who owns an image, and searching only the images of part of the catalogue (see retrieval/catalogue.py
for reading attachments from a CSV or a rule)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import numpy as np
from neo4j import SummaryCounters

from retrieval.core.errors import RetrievalError
from retrieval.core.spaces import VectorSpace
from retrieval.neo4j.base import Row, checked_identifier, parameter
from retrieval.neo4j.images import COUNT_IMAGES, RANK_EXACTLY, Ask, Images, candidate_count, checked_count, returning

# One row per attachment: the image and every node of the label whose key equals the value
# (as text or as the number it reads as); a relationship is merged only when both exist.
ATTACH = """
UNWIND $rows AS row
OPTIONAL MATCH (i:`{label}` {{path: row.path}})
OPTIONAL MATCH (o:`{owner}`) WHERE o.`{key}` IN row.values
WITH row, i, collect(o) AS owners
FOREACH (o IN CASE WHEN i IS NULL THEN [] ELSE owners END | MERGE (o)-[:HAS_IMAGE]->(i))
RETURN row.line AS line, i IS NOT NULL AS image, size(owners) AS owners
"""
OWNERS = """
UNWIND $paths AS path
MATCH (o)-[:HAS_IMAGE]->(:`{label}` {{path: path}})
RETURN path, labels(o) AS labels, properties(o) AS properties
"""
# From the relationship count store: instant, so the app can ask on every rerun.
ANY_ATTACHED = "MATCH ()-[r:HAS_IMAGE]->() RETURN count(r) > 0 AS any"
ATTACHED = "MATCH ()-[r:HAS_IMAGE]->() RETURN count(r) AS n"
OWNER_LABELS = "MATCH (o)-[:HAS_IMAGE]->(:`{label}`) UNWIND labels(o) AS owner RETURN DISTINCT owner ORDER BY owner"
OWNER_KEYS = """
MATCH (o:`{owner}`)-[:HAS_IMAGE]->(:`{label}`) WITH DISTINCT o LIMIT 1000
UNWIND keys(o) AS key RETURN DISTINCT key ORDER BY key
"""
OWNER_VALUES = """
MATCH (o:`{owner}`)-[:HAS_IMAGE]->(:`{label}`) WITH DISTINCT o[$key] AS value
WHERE value IS NOT NULL RETURN value ORDER BY value LIMIT $limit
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

# The two limits are measured (docs/QUALITY.md, "the over-fetch rule"): up to EXACT_OWNED_LIMIT
# matching images, exact ranking costs about what a filtered index search does; above it, OVERFETCH
# is the smallest factor that kept recall@10 at 1 for every matching share measured.
EXACT_OWNED_LIMIT = 500  # at most this many matching images are ranked exactly (recall 1)

OVERFETCH = 4.0  # above it, the index is asked for OVERFETCH * k / (share of images matching) candidates


INTEGERS = range(-(2**63), 2**63)  # Neo4j's integers, 64 bits: the driver cannot send a larger one


def value_forms(text: str) -> list[str | int | float]:
    """A value read from a CSV, a command line, a file stem or the app's filter, as text and as the
    number it reads as, so that `sku = "1042"` finds a node whose sku is the integer 1042 as well as
    the string. A whole number too large for 64 bits is no Neo4j integer: it stays text only."""
    forms: list[str | int | float] = [text]
    try:
        whole = int(text)
    except ValueError:
        with suppress(ValueError):
            forms.append(float(text))
    else:
        if whole in INTEGERS:
            forms.append(whole)
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


class Catalogue(Images):
    """The user's nodes that own images, and search within part of them."""

    def _nearest_rows(self, space: VectorSpace, vector: np.ndarray, ask: Ask) -> list[Row]:
        """With a filter, up to `exact_limit` matching images are ranked exactly; more are found through
        the index, asked for `overfetch` times k over the matching share of candidates."""
        if (within := ask.within) is None:
            return super()._nearest_rows(space, vector, ask)
        exact_limit = EXACT_OWNED_LIMIT if ask.exact_limit is None else ask.exact_limit
        overfetch = OVERFETCH if ask.overfetch is None else ask.overfetch
        k, vectors = checked_count(ask.k), ask.vectors
        candidates = max(ask.candidates or candidate_count(k), k)
        names = {**self._search_names(space), "owner": within.label, "key": within.key}
        params: dict[str, Any] = {"index": self.index_name(space), "vector": parameter(vector), "k": k}
        params["values"] = value_forms(within.value)
        matching = self._query(COUNT_OWNED, names, values=params["values"])[0]["n"]
        if matching <= exact_limit:
            return self._query(returning(EXACT_OWNED, vectors), names, **params) if matching else []
        # Matches are spread through the ranking at about the share `matching / total`: widen the
        # index's search by its inverse, and again (x4) in the rare case fewer than k survive.
        total = self._query(COUNT_IMAGES)[0]["n"]  # from the count store: instant
        candidates = min(total, max(candidates, math.ceil(overfetch * k * total / matching)))
        while True:
            rows = self._query(returning(NEAREST_OWNED, vectors), names, **params, candidates=candidates)
            if len(rows) >= k or candidates >= total:
                return rows
            candidates = min(total, 4 * candidates)

    def attach_rows(self, label: str, key: str, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], SummaryCounters]:
        """Merge (o:label)-[:HAS_IMAGE]->(image) for rows {line, path, values} in one transaction: per
        row whether its image was found and how many nodes own it, and the counters of what changed."""
        return self._write(ATTACH, {"owner": label, "key": key}, rows=rows)

    def owner_rows(self, paths: Sequence[str]) -> list[dict[str, Any]]:
        """(path, labels, properties) of each node that has one of the images."""
        return self._query(OWNERS, paths=list(paths))

    def has_catalogue(self) -> bool:
        return bool(self._query(ANY_ATTACHED)[0]["any"])

    def attachment_count(self) -> int:
        """How many HAS_IMAGE relationships there are, from the count store: it changes with every
        attachment made or removed, so a reader can key what it keeps of the catalogue on it."""
        return int(self._query(ATTACHED)[0]["n"])

    def owner_labels(self) -> list[str]:
        return [r["owner"] for r in self._query(OWNER_LABELS)]

    def owner_keys(self, label: str) -> list[str]:
        return [r["key"] for r in self._query(OWNER_KEYS, {"owner": label})]

    def owner_values(self, label: str, key: str, limit: int) -> list[object]:
        return [r["value"] for r in self._query(OWNER_VALUES, {"owner": label}, key=key, limit=limit)]
