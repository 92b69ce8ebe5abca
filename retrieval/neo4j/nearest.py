"""The search of `Image` nodes through the space's vector index: the index's candidates near a vector,
rescored exactly, filtered inside the index where it can and after it otherwise (`_nearest_rows`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

import numpy as np

from retrieval.core.filters import PhotoFilter
from retrieval.core.limits import checked_k
from retrieval.core.spaces import VectorSpace
from retrieval.neo4j.base import Row, parameter
from retrieval.neo4j.filters import (
    EXACT_LIMIT,
    FILTER_PROPERTIES,
    OVERFETCH,
    OWNED_EXISTS,
    CatalogueFilter,
    matching_images,
    value_forms,
)
from retrieval.neo4j.images import COUNT_IMAGES, Hit, Images, compact_vector

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

INDEX_PROPERTIES = "SHOW VECTOR INDEXES YIELD name, properties WHERE name = $index RETURN properties"


class Narrowing(TypedDict, total=False):
    """Which stored images a search may return: those attached to catalogue nodes that `within`
    matches, and whose photo facts pass `facts`; each left out (or None) keeps every image."""

    within: CatalogueFilter | None
    facts: PhotoFilter | None


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
class Candidates:
    """An index's candidates near a vector, best first by exact cosine, with their vectors (one row each)."""

    hits: list[Hit]
    vectors: np.ndarray


class Nearest(Images):
    """The nearest stored images to a vector."""

    def nearest(
        self,
        space: VectorSpace,
        vector: np.ndarray,
        k: int,
        candidates: int | None = None,
        *,
        exact_limit: int | None = None,
        overfetch: float | None = None,
        **narrowing: Unpack[Narrowing],
    ) -> list[Hit]:
        """The k stored images most cosine-similar to `vector`, best first, `within` a part of the
        user's catalogue and passing `facts` if given (`exact_limit` and `overfetch` tune how: see
        `_nearest_rows`). The index is asked for `candidates` (default `candidate_count(k)`)
        neighbours: in Neo4j 5.26 the k given to the index is also its search width, so asking for
        more buys recall."""
        ask = Ask(k, candidates, exact_limit=exact_limit, overfetch=overfetch, **narrowing)
        return self._hits(self._nearest_rows(space, vector, ask))

    def neighbourhood(
        self,
        space: VectorSpace,
        vector: np.ndarray,
        k: int,
        *,
        rescored: bool = True,
        **narrowing: Unpack[Narrowing],
    ) -> Candidates:
        """`nearest`'s k images with their vectors (compact copies), for arithmetic on the candidates.
        Without `rescored`, the index's k candidates as they come, each scored by its compact copy."""
        ask = Ask(k, k, vectors=True, rescored=rescored, **narrowing)
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
        stays right without them, filtering by those it lacks after the index with over-fetch, and by
        those it has inside it (`_nearest_rows`). To get
        the in-index filter, drop the index (DROP INDEX name) and run `index` again (docs/NEO4J.md)."""
        return set(FILTER_PROPERTIES) <= self._index_filters(space)

    def _index_filters(self, space: VectorSpace) -> set[str]:
        """The properties `space`'s index filters by itself: none on a server whose SEARCH clause takes
        no WHERE; on an index made before a fact was declared (the lens), all but that fact's."""
        if not self.dialect.search_filter:
            return set()
        rows = self._query(INDEX_PROPERTIES, index=self.index_name(space))
        return set(rows[0]["properties"]) if rows else set()

    def _nearest_rows(self, space: VectorSpace, vector: np.ndarray, ask: Ask) -> list[Row]:
        """The rows of `nearest`, composed in this one place: the index's candidate step as the
        server's dialect says it, with each part of the photo filter inside it that the index can
        evaluate (`_index_filters`); any other filter (the catalogue's always) after it, where up to
        `exact_limit` matching images are ranked exactly, and more are found through the index asked
        for `overfetch` times k over the matching share of candidates, widened until k pass."""
        k = checked_k(ask.k)
        candidates = max(ask.candidates or candidate_count(k), k)
        names = self._search_names(space)
        params: dict[str, Any] = {"index": self.index_name(space), "vector": parameter(vector), "k": k}
        inside: list[str] = []
        after: list[str] = []
        if ask.facts is not None and ask.facts.active:
            indexed = self._index_filters(space)
            for prop, terms, values in ask.facts.parts():
                (inside if prop in indexed else after).extend(terms)
                params |= values
        if (within := ask.within) is not None:
            names |= {"owner": within.label, "key": within.key}
            params["values"] = value_forms(within.value)
        step = self.dialect.candidates("$vector", " AND ".join(inside))
        if not (after or within):
            template = step + "\n" + (returning(RANK_EXACTLY, ask.vectors) if ask.rescored else CANDIDATES_TAIL)
            return self._query(template, names, **params, candidates=candidates)
        exact_limit = EXACT_LIMIT if ask.exact_limit is None else ask.exact_limit
        overfetch = OVERFETCH if ask.overfetch is None else ask.overfetch
        matching = matching_images(within, [*inside, *after])
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

    def index_ranking(self, space: VectorSpace, vector: np.ndarray, k: int) -> list[str]:
        """Paths of the index's k nearest in its own order, without exact rescoring (for evaluation)."""
        rows = self._query(
            INDEX_RANKING, self._search_names(space), index=self.index_name(space), candidates=k, vector=parameter(vector)
        )
        return [r["path"] for r in rows]


def candidate_count(k: int) -> int:
    """How many candidates the index is asked for to return k results: 4k, and at least 40 (docs/NEO4J.md)."""
    return max(4 * k, 40)


def returning(template: str, vectors: bool) -> str:
    """A template that ends in RANK_EXACTLY's RETURN, with each row's vector as well when `vectors`."""
    return template.rstrip() + WITH_VECTORS if vectors else template
