"""The user's own catalogue nodes, `(o:Owner)-[:HAS_IMAGE]->(image)`: attaching images to them, reading
who owns an image, and searching only the images of part of the catalogue (see retrieval/catalogue.py
for reading attachments from a CSV or a rule)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neo4j import SummaryCounters

from retrieval.neo4j.filters import CatalogueFilter, value_forms
from retrieval.neo4j.images import Images

# One row per attachment: the image and every node of the label whose key equals the value
# (as text or as the number it reads as); a relationship is merged only when both exist.
ATTACH = """
UNWIND $rows AS row
OPTIONAL MATCH (i:`{label}` {path: row.path})
OPTIONAL MATCH (o:`{owner}`) WHERE o.`{key}` IN row.values
WITH row, i, collect(o) AS owners
FOREACH (o IN CASE WHEN i IS NULL THEN [] ELSE owners END | MERGE (o)-[:HAS_IMAGE]->(i))
RETURN row.line AS line, i IS NOT NULL AS image, size(owners) AS owners
"""
OWNERS = """
UNWIND $paths AS path
MATCH (o)-[:HAS_IMAGE]->(:`{label}` {path: path})
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

__all__ = ["Catalogue", "CatalogueFilter", "value_forms"]


class Catalogue(Images):
    """The user's nodes that own images, and search within part of them."""

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
