"""The catalogue as a list, newest first, a page at a time: what the app shows before any search.

Pages are keyset pages: each starts after the last image of the one before it (its `indexed_at`,
ties by path), read along a range index on `indexed_at`, so the thousandth page costs what the first
does, where SKIP would walk every image before it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from retrieval.core.spaces import VectorSpace
from retrieval.neo4j.catalogue import COUNT_OWNED, OWNED, CatalogueFilter, value_forms
from retrieval.neo4j.images import Images

# Made by indexing, with the path constraint (schema.py); without it a page is still right, only slower.
CREATE_NEWEST_INDEX = "CREATE RANGE INDEX `{newest}` IF NOT EXISTS FOR (i:`{label}`) ON (i.indexed_at)"

ALL = "MATCH (node:`{label}`) WHERE node.`{prop}` IS NOT NULL"
# The time travels as text: a datetime sent back as a parameter is not read as the same instant by every server.
AFTER = " AND (node.indexed_at < datetime($at) OR (node.indexed_at = datetime($at) AND node.path > $path))"
DATED = " AND node.indexed_at IS NOT NULL"
DISTINCT = "\nWITH DISTINCT node"  # an image of two owners of the value is listed once
PAGE = """
RETURN node.path AS path, node.name AS name, toString(node.indexed_at) AS at ORDER BY node.indexed_at DESC, node.path LIMIT $limit
"""


@dataclass(frozen=True)
class Listed:
    """One image of a page of the catalogue."""

    path: str
    name: str
    at: str  # when it was indexed (ISO 8601): with the path, where the next page starts


@dataclass(frozen=True)
class CataloguePage:
    images: list[Listed]
    more: bool  # whether another page follows this one

    @property
    def last(self) -> Listed | None:
        return self.images[-1] if self.images else None


class Listing(Images):
    """The indexed images of a space newest first, optionally only those of part of the user's catalogue."""

    def newest(
        self, space: VectorSpace, limit: int, after: Listed | None = None, within: CatalogueFilter | None = None
    ) -> CataloguePage:
        """Up to `limit` images indexed before `after` (the previous page's last), newest first."""
        names = {"prop": space.vector_property}
        params: dict[str, Any] = {"limit": limit + 1}
        if within is not None:
            names |= {"owner": within.label, "key": within.key}
            params["values"] = value_forms(within.value)
        if after is not None:
            params |= {"at": after.at, "path": after.path}
        where = (ALL if within is None else OWNED) + DATED + (AFTER if after else "")
        template = where + ("" if within is None else DISTINCT) + PAGE
        rows = self.query(template, names, **params)
        listed = [Listed(r["path"], r["name"], r["at"]) for r in rows[:limit]]
        return CataloguePage(listed, more=len(rows) > limit)

    def count_listed(self, space: VectorSpace, within: CatalogueFilter | None = None) -> int:
        """How many images `newest` lists in all."""
        if within is None:
            return self.count_vectors(space)
        names = {"prop": space.vector_property, "owner": within.label, "key": within.key}
        return int(self.query(COUNT_OWNED, names, values=value_forms(within.value))[0]["n"])
