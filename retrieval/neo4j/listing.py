"""The catalogue as a list, newest first, a page at a time: what the app shows before any search.

Pages are keyset pages: each starts after the last image of the one before it (its `indexed_at`,
ties by path), read along a range index on `indexed_at`, so the thousandth page costs what the first
does, where SKIP would walk every image before it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from retrieval.core.filters import PhotoFilter
from retrieval.core.spaces import VectorSpace
from retrieval.neo4j.filters import CatalogueFilter, matching_images, value_forms
from retrieval.neo4j.images import Images

# Made by indexing, with the path constraint (schema.py); without it a page is still right, only slower.
CREATE_NEWEST_INDEX = "CREATE RANGE INDEX `{newest}` IF NOT EXISTS FOR (i:`{label}`) ON (i.indexed_at)"

# The time travels as text: a datetime sent back as a parameter is not read as the same instant by every server.
AFTER = "(node.indexed_at < datetime($at) OR (node.indexed_at = datetime($at) AND node.path > $path))"
DISTINCT = "\nWITH DISTINCT node"  # an image of two owners of the value is listed once
PAGE = """
RETURN node.path AS path, node.name AS name, toString(node.indexed_at) AS at ORDER BY node.indexed_at DESC, node.path LIMIT $limit
"""
COUNT = "\nRETURN count(DISTINCT node) AS n"  # an image of two owners of the value counts once


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


@dataclass(frozen=True)
class Matching:
    """The images a view of the catalogue lists, as a MATCH ... WHERE with its names and parameters."""

    cypher: str
    names: dict[str, str]
    params: dict[str, Any]


def matching(
    space: VectorSpace, within: CatalogueFilter | None, facts: PhotoFilter | None, after: Listed | None = None
) -> Matching:
    """The indexed images of `space` (of part of the catalogue, passing the photo filter), indexed before `after`."""
    names = {"prop": space.vector_property}
    terms, params = facts.predicates() if facts is not None else ([], {})
    conditions = ["node.indexed_at IS NOT NULL", *terms]
    if within is not None:
        names |= {"owner": within.label, "key": within.key}
        params["values"] = value_forms(within.value)
    if after is not None:
        conditions.append(AFTER)
        params |= {"at": after.at, "path": after.path}
    return Matching(matching_images(within, conditions), names, params)


class Listing(Images):
    """The indexed images of a space newest first, optionally only those of part of the user's catalogue
    and those whose photo facts pass a filter."""

    def newest(
        self,
        space: VectorSpace,
        limit: int,
        after: Listed | None = None,
        within: CatalogueFilter | None = None,
        facts: PhotoFilter | None = None,
    ) -> CataloguePage:
        """Up to `limit` images indexed before `after` (the previous page's last), newest first."""
        listed = matching(space, within, facts, after)
        distinct = DISTINCT if within is not None else ""
        rows = self._query(listed.cypher + distinct + PAGE, listed.names, **listed.params, limit=limit + 1)
        images = [Listed(r["path"], r["name"], r["at"]) for r in rows[:limit]]
        return CataloguePage(images, more=len(rows) > limit)

    def count_listed(self, space: VectorSpace, within: CatalogueFilter | None = None, facts: PhotoFilter | None = None) -> int:
        """How many images `newest` lists in all."""
        if within is None:
            return self.count_vectors(space, facts)
        listed = matching(space, within, facts)
        return int(self._query(listed.cypher + COUNT, listed.names, **listed.params)[0]["n"])
