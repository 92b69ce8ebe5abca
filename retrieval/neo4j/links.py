"""The similarity graph: each image's nearest neighbours as (:Image)-[:SIMILAR_TO {model, score}]->(:Image).

A layer derived from the vectors, for people to explore (Neo4j Browser, the app's graph of thumbnails)
and for near-duplicate groups; the search does not read it. Each image's own list is made from the
index after its vector was committed and written with the content hash it was made from
(`{linked}`), so a list is never taken for current once its vector changed (retrieval/neighbours.py
says when lists are made). No lock: writing a list first sets its own node's `{linked}`, which
takes that node's write lock, so two runs writing one image's list leave one list, not two, and
a list never replaces one read later (`{listed_at}`, the server's clock at the read): of two runs
that stored the same image, the one that read its list first, with fewer images in the index, may
write last. A list that holds fewer than the k it was read for, uncut by a minimum score, held every
other image then stored: it is marked short (`{short}`: that k), and found through its index to be
read again once more images are stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.core.spaces import VectorSpace
from retrieval.neo4j.images import Hit, Images
from retrieval.neo4j.nearest import candidate_count

IS_UNLISTED = "i.`{prop}` IS NOT NULL AND coalesce(i.`{linked}` <> coalesce(i.`{made_from}`, i.sha256), true)"

UNLISTED = "MATCH (i:`{label}`) WHERE " + IS_UNLISTED + " RETURN i.path AS path"

COUNT_UNLISTED = "MATCH (i:`{label}`) WHERE " + IS_UNLISTED + " RETURN count(i) AS n"

WITH_VECTOR = "MATCH (i:`{label}`) WHERE i.`{prop}` IS NOT NULL RETURN i.path AS path"

# How many images have the vector, counted up to `$limit` only: the cost of a small catalogue's count.
VECTORS_UP_TO = "MATCH (i:`{label}`) WHERE i.`{prop}` IS NOT NULL WITH i LIMIT $limit RETURN count(i) AS n"

# The images whose list is marked short, with the k it was read for and how many it holds: an index
# seek (schema.py), so its cost is the number of short lists, whatever the catalogue's size.
SHORT_LISTS = """
MATCH (i:`{label}`) WHERE i.`{short}` IS NOT NULL
RETURN i.path AS path, i.`{short}` AS k, COUNT { (i)-[:SIMILAR_TO {model: $model}]->() } AS held
"""

# Each stored image at `paths` with the content its vector was made from and its k nearest other
# images: the index's candidates around its own vector (the image itself among them), scored exactly.
# An image with no other at `$min_score` or more gets its row too, with no neighbours: an empty list
# replaces its old one, and the only image of a catalogue has a list, empty.
NEIGHBOUR_LISTS = """
UNWIND $paths AS path
MATCH (i:`{label}` {path: path}) WHERE i.`{prop}` IS NOT NULL
{own_candidates}
WITH i, node, 2 * vector.similarity.cosine(node.`{prop}`, i.`{prop}`) - 1 AS cosine
ORDER BY cosine DESC
RETURN i.path AS path, coalesce(i.`{made_from}`, i.sha256) AS made_from,
       collect(CASE WHEN node <> i AND cosine >= $min_score THEN {path: node.path, score: cosine} END)[..$k] AS neighbours,
       timestamp() AS read_at
"""

# A list is written only if the image's vector is still the one it was made from, and no list read
# later is there (only a list of that same vector can have been). The first SET takes the node's
# lock, so `{listed_at}` is then read as the last writer committed it.
WRITE_LISTS = """
UNWIND $rows AS row
MATCH (i:`{label}` {path: row.path}) WHERE coalesce(i.`{made_from}`, i.sha256) = row.made_from
SET i.`{linked}` = row.made_from
WITH i, row WHERE coalesce(i.`{listed_at}`, 0) <= row.read_at
SET i.`{listed_at}` = row.read_at, i.`{short}` = row.short
WITH i, row
CALL (i) { MATCH (i)-[old:SIMILAR_TO {model: $model}]->() DELETE old }
WITH i, row
UNWIND row.neighbours AS neighbour
MATCH (other:`{label}` {path: neighbour.path})
CREATE (i)-[:SIMILAR_TO {model: $model, score: neighbour.score}]->(other)
"""

# The images whose lists hold any of `paths`: to be listed again when those change or go.
LINKING_TO = """
UNWIND $paths AS path
MATCH (other:`{label}`)-[:SIMILAR_TO {model: $model}]->(:`{label}` {path: path})
RETURN DISTINCT other.path AS path
"""

SIMILAR_PAIRS = """
MATCH (a:`{label}`)-[r:SIMILAR_TO {model: $model}]->(b:`{label}`) WHERE r.score >= $threshold
RETURN a.path AS a, b.path AS b, r.score AS score
"""

LINKS_AMONG = """
MATCH (a:`{label}`)-[r:SIMILAR_TO {model: $model}]->(b:`{label}`) WHERE a.path IN $paths AND b.path IN $paths
RETURN a.path AS a, b.path AS b, r.score AS score
"""

COUNT_LINKS = "MATCH (:`{label}`)-[r:SIMILAR_TO {model: $model}]->() RETURN count(r) AS n"


@dataclass(frozen=True)
class NeighbourList:
    """An image's nearest neighbours, best first, the content hash of the vector they were found for,
    when they were read (the server's clock, in milliseconds) and, if they are fewer than the k asked
    for with no minimum score (every other image then stored), that k."""

    made_from: str
    neighbours: list[Hit]
    read_at: int = 0
    short: int | None = None


class Links(Images):
    """SIMILAR_TO lists: read from the index, written per image."""

    def unlisted(self, space: VectorSpace) -> list[str]:
        """Images whose SIMILAR_TO list is missing or was made from another vector than theirs now."""
        return [r["path"] for r in self._query(UNLISTED, self._link_names(space))]

    def count_unlisted(self, space: VectorSpace) -> int:
        return int(self._query(COUNT_UNLISTED, self._link_names(space))[0]["n"])

    def paths_with_vectors(self, space: VectorSpace) -> list[str]:
        return [r["path"] for r in self._query(WITH_VECTOR, {"prop": space.vector_property})]

    def short_lists(self, space: VectorSpace) -> dict[int, list[str]]:
        """The images whose list is marked short (it held every other image then stored) and holds
        fewer than the catalogue now allows, by the k each was read for."""
        rows = self._query(SHORT_LISTS, self._link_names(space), model=space.model)
        if not rows:
            return {}
        others = self.vectors_up_to(space, max(r["k"] for r in rows) + 1) - 1
        found: dict[int, list[str]] = {}
        for r in rows:
            if r["held"] < min(r["k"], others):
                found.setdefault(int(r["k"]), []).append(r["path"])
        return found

    def vectors_up_to(self, space: VectorSpace, limit: int) -> int:
        """How many images have `space`'s vector, counted up to `limit`: whether the catalogue is that small."""
        return int(self._query(VECTORS_UP_TO, {"prop": space.vector_property}, limit=limit)[0]["n"])

    def neighbour_lists(self, space: VectorSpace, paths: Sequence[str], k: int, min_score: float) -> dict[str, NeighbourList]:
        """Each stored image's k nearest others (exact cosine of over-fetched index candidates); a read."""
        params = {
            "paths": list(paths),
            "index": self.index_name(space),
            "candidates": candidate_count(k + 1),
            "k": k,
            "min_score": min_score,
        }
        rows = self._query(NEIGHBOUR_LISTS, self._link_names(space), **params)
        lists = {}
        for r in rows:
            neighbours = [Hit(n["path"], Path(n["path"]).name, float(n["score"])) for n in r["neighbours"]]
            short = k if len(neighbours) < k and min_score <= -1 else None  # not cut by a score: all there was
            lists[r["path"]] = NeighbourList(r["made_from"], neighbours, int(r["read_at"]), short)
        return lists

    def write_lists(self, space: VectorSpace, lists: Mapping[str, NeighbourList]) -> int:
        """Replace the SIMILAR_TO lists of the images in `lists`, in one transaction, each only if its
        vector is still the one its list was made from. Returns how many lists were offered."""
        rows = [
            {
                "path": path,
                "made_from": found.made_from,
                "neighbours": [{"path": h.path, "score": h.score} for h in found.neighbours],
                "read_at": found.read_at,
                "short": found.short,
            }
            for path, found in sorted(lists.items())  # one order everywhere: fewer deadlocks between runs
        ]
        if rows:
            self._write(WRITE_LISTS, self._link_names(space), model=space.model, rows=rows)
        return len(rows)

    def linking_to(self, space: VectorSpace, paths: Sequence[str]) -> list[str]:
        """Images whose SIMILAR_TO list holds any of `paths`."""
        return [r["path"] for r in self._query(LINKING_TO, paths=list(paths), model=space.model)] if paths else []

    def similar_pairs(self, space: VectorSpace, threshold: float) -> list[tuple[str, str, float]]:
        """(from, to, cosine) of every SIMILAR_TO link scoring at least `threshold`."""
        rows = self._query(SIMILAR_PAIRS, model=space.model, threshold=threshold)
        return [(r["a"], r["b"], float(r["score"])) for r in rows]

    def links_among(self, space: VectorSpace, paths: Sequence[str]) -> list[tuple[str, str, float]]:
        """(from, to, cosine) of the SIMILAR_TO links between the given images."""
        rows = self._query(LINKS_AMONG, model=space.model, paths=list(paths))
        return [(r["a"], r["b"], float(r["score"])) for r in rows]

    def count_links(self, space: VectorSpace) -> int:
        return int(self._query(COUNT_LINKS, model=space.model)[0]["n"])
