"""The similarity graph: each image's nearest neighbours as (:Image)-[:SIMILAR_TO {model, score}]->(:Image),
and the blended vectors made from the same lists (see retrieval/neighbours.py for when lists are redone).

Every write to a space's links first locks the space (see `StoreBase.write`): the neighbours are
found and the lists rewritten or merged under the lock, so no interleaving of runs leaves a list
short, stale or doubled (docs/RELIABILITY.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from neo4j import ManagedTransaction

from retrieval.core.blending import blend_sum, weight
from retrieval.core.spaces import VectorSpace
from retrieval.neo4j.base import parameter
from retrieval.neo4j.images import RANK_EXACTLY, Hit, Images

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

# Each stored image at `paths` with its index candidates (other images), each scored exactly.
OWN_CANDIDATES_SCORED = """
UNWIND $paths AS path
MATCH (i:`{label}` {{path: path}}) WHERE i.`{prop}` IS NOT NULL
{own_candidates}
WITH i, node WHERE node <> i
WITH i, node, 2 * vector.similarity.cosine(node.`{prop}`, i.`{prop}`) - 1 AS cosine
"""

NEIGHBOURS = (
    OWN_CANDIDATES_SCORED
    + """WHERE cosine >= $min_score
ORDER BY cosine DESC
RETURN i.path AS path, collect({{path: node.path, score: cosine}})[..$k] AS neighbours
"""
)

# The images whose lists each image at `paths` may enter: its index candidates, scored exactly,
# whose lists are not full of better neighbours (a list's lowest score is kept on its node, null
# when the list is short or was written before floors were kept: such lists are always offered).
ENTERING = (
    OWN_CANDIDATES_SCORED
    + """WHERE cosine >= $min_score AND cosine > coalesce(node.`{linked_floor}`, -2.0)
RETURN i.path AS path, collect({{path: node.path, score: cosine}}) AS neighbours
"""
)

WRITE_LINKS = """
UNWIND $rows AS row
MATCH (i:`{label}` {{path: row.path}})
CALL (i) {{ MATCH (i)-[old:SIMILAR_TO {{model: $model}}]->() DELETE old }}
SET i.`{linked}` = coalesce(i.`{made_from}`, i.sha256), i.`{linked_count}` = size(row.neighbours),
    i.`{blended_norm}` = row.norm, i.`{linked_floor}` = row.floor
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

COUNT_LINKS = "MATCH (:`{label}`)-[r:SIMILAR_TO {{model: $model}}]->() RETURN count(r) AS n"


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
        if self.whole or self.norm is None:
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


class Links(Images):
    """SIMILAR_TO lists and blended vectors, rewritten or merged under the space's lock."""

    def unlinked(self, space: VectorSpace) -> list[tuple[str, bool]]:
        """(path, changed) of images not linked since they were (re-)embedded; `changed` if linked before."""
        rows = self.query(UNLINKED, self._link_names(space))
        return [(r["path"], r["changed"]) for r in rows]

    def count_unlinked(self, space: VectorSpace) -> int:
        """How many images have a vector but no up-to-date neighbour links yet (an index run still
        going, or one stopped before it linked): searches still find them, by their own vector."""
        return int(self.query(COUNT_UNLINKED, self._link_names(space))[0]["n"])

    def mislinked(self, space: VectorSpace) -> list[str]:
        """Images whose links are not the ones written: a neighbour was removed since, or a link is duplicated."""
        rows = self.query(MISLINKED, self._link_names(space), model=space.model)
        return [r["path"] for r in rows]

    def linking_to(self, space: VectorSpace, paths: Sequence[str]) -> list[str]:
        """Images with a SIMILAR_TO link to any of `paths`."""
        return [r["path"] for r in self.query(LINKING_TO, paths=list(paths), model=space.model)]

    def neighbours(self, space: VectorSpace, paths: Sequence[str], k: int, min_score: float) -> dict[str, list[Hit]]:
        """Each stored image's k nearest others (exact cosine of over-fetched index candidates), best first."""
        return self._neighbours(None, space, paths, k, min_score)

    def entering(self, space: VectorSpace, paths: Sequence[str], candidates: int, min_score: float) -> dict[str, list[Hit]]:
        """Per stored image, the lists it may enter: its `candidates` index candidates, scored
        exactly, but for those whose lists are full of closer neighbours (see ENTERING)."""
        params = {"paths": list(paths), "index": self.index_name(space), "candidates": candidates, "min_score": min_score}
        return self._hits_of(self.query(ENTERING, {**self._link_names(space), **self._search_names(space)}, **params), paths)

    def _neighbours(
        self, tx: ManagedTransaction | None, space: VectorSpace, paths: Sequence[str], k: int, min_score: float
    ) -> dict[str, list[Hit]]:
        params = {
            "paths": list(paths),
            "index": self.index_name(space),
            "candidates": max(4 * (k + 1), 40),
            "k": k,
            "min_score": min_score,
        }
        return self._hits_of(self._read(tx, NEIGHBOURS, self._search_names(space), **params), paths)

    @staticmethod
    def _hits_of(rows: Sequence[Mapping[str, Any]], paths: Sequence[str]) -> dict[str, list[Hit]]:
        found = {r["path"]: [Hit(n["path"], Path(n["path"]).name, float(n["score"])) for n in r["neighbours"]] for r in rows}
        return {path: found.get(path, []) for path in paths}

    def link_floors(self, space: VectorSpace, paths: Sequence[str]) -> dict[str, tuple[int, float | None]]:
        """Per image: how many SIMILAR_TO links it has and the lowest score among them."""
        rows = self.query(LINK_FLOORS, self._link_names(space), paths=list(paths), model=space.model)
        return {r["path"]: (r["links"], r["floor"]) for r in rows}

    def rewrite_links(self, space: VectorSpace, paths: Sequence[str], *, k: int, min_score: float) -> int:
        """Replace the SIMILAR_TO links of the images at `paths` with their k nearest neighbours, and
        their blended vectors, in one transaction under the space's lock: the neighbours are found,
        and the old links deleted, only once every earlier write to the space has committed, so no
        interleaving of runs leaves a list short, stale or doubled. Returns how many were relinked."""

        def work(tx: ManagedTransaction) -> int:
            self._lock(tx, self._spaces(space))
            neighbours = self._neighbours(tx, space, paths, k, min_score)
            vectors = self._vectors(tx, space, {*paths, *(h.path for hits in neighbours.values() for h in hits)})
            lists = {
                path: ([(h.path, h.score) for h in hits], blend_sum(vectors[path], [(vectors[h.path], h.score) for h in hits]))
                for path, hits in neighbours.items()
                if path in vectors
            }
            return self._write_lists(tx, space, lists, k)

        return self._write_transaction(work)

    def merge_links(self, space: VectorSpace, offers: Mapping[str, Mapping[str, float]], *, k: int) -> int:
        """Offer new or changed images to the lists of the images at `offers`' keys (image -> {new image:
        cosine}): under the space's lock, each linked image's list becomes the k best of the links it
        has now and those offered, and its blended vector is updated from the neighbours that came and
        went. Images not linked yet ignore offers (see CURRENT_LISTS). The list as
        it is now is exact for every image written before it, and each later image is offered by the
        run that wrote it, so the merge stays exact without asking the index again. Returns how many
        lists changed."""

        def work(tx: ManagedTransaction) -> int:
            self._lock(tx, self._spaces(space))
            changes = []
            for row in self._run(tx, CURRENT_LISTS, self._link_names(space), paths=list(offers), model=space.model):
                now = {link["path"]: link["score"] for link in row["links"]}
                best = sorted({**now, **offers[row["path"]]}.items(), key=lambda item: (-item[1], item[0]))[:k]
                if dict(best) != now:
                    changes.append(_ListChange(row["path"], best, now, row["blended"], row["norm"]))
            vectors = self._vectors(tx, space, {p for change in changes for p in change.vectors_needed})
            return self._write_lists(tx, space, {change.path: (change.best, change.blend_sum(vectors)) for change in changes}, k)

        return self._write_transaction(work)

    def _spaces(self, space: VectorSpace) -> list[str]:
        return [self.index_name(space), self.index_name(space.blended)]

    def _write_lists(
        self, tx: ManagedTransaction, space: VectorSpace, lists: Mapping[str, tuple[list[tuple[str, float]], np.ndarray]], k: int
    ) -> int:
        """Write each image's list (path, cosine), its lowest score when it holds k (see ENTERING), and
        its blended vector from the unnormalised sum."""
        rows = [
            {
                "path": path,
                "neighbours": [{"path": p, "score": score} for p, score in links],
                "floor": min(score for _, score in links) if len(links) >= k else None,
                "blended": parameter(total / np.linalg.norm(total)),
                "norm": float(np.linalg.norm(total)),
            }
            for path, (links, total) in lists.items()
        ]
        if rows:
            self._run(
                tx, WRITE_LINKS, self._link_names(space), model=space.model, blended=space.blended.vector_property, rows=rows
            )
        return len(rows)

    def nearest_unlinked(self, space: VectorSpace, vector: np.ndarray, k: int) -> list[Hit]:
        """The k images nearest `vector` by their own vectors among those not linked yet (see NEAREST_UNLINKED)."""
        params = {"index": self.index_name(space), "vector": parameter(vector), "k": k, "candidates": max(4 * k, 40)}
        return self._hits(self.query(NEAREST_UNLINKED, {**self._link_names(space), **self._search_names(space)}, **params))

    def similar_pairs(self, space: VectorSpace, threshold: float) -> list[tuple[str, str, float]]:
        """(from, to, cosine) of every SIMILAR_TO link scoring at least `threshold`."""
        rows = self.query(SIMILAR_PAIRS, model=space.model, threshold=threshold)
        return [(r["a"], r["b"], float(r["score"])) for r in rows]

    def links_among(self, space: VectorSpace, paths: Sequence[str]) -> list[tuple[str, str, float]]:
        """(from, to, cosine) of the SIMILAR_TO links between the given images."""
        rows = self.query(LINKS_AMONG, model=space.model, paths=list(paths))
        return [(r["a"], r["b"], float(r["score"])) for r in rows]

    def count_links(self, space: VectorSpace) -> int:
        return int(self.query(COUNT_LINKS, model=space.model)[0]["n"])
