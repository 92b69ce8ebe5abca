"""From the previous releases' databases to this one's, once, by the first `index` or `link` (searches
work on either before it, reading each node's vector where it has no compact copy yet).

The previous release kept, per model, a blended vector on every image with a vector index of its own,
and link markers (the list's length and lowest score): the search now blends inside its own
candidates, so they go. Each image gets its vector's compact copy. The SIMILAR_TO lists and the
content hash each was made from (`linked_<model>`) mean what they meant, so they stay.

The previous release also named the precision (fp32, bf16) in a space's fingerprint, so a database
indexed on a machine with bf16 was refused by one with fp32 only. A fingerprint now names the
weights and preprocessing: the first `index` renames a space's fingerprint of the same weights
(`refingerprint`), re-embedding nothing, and keeps the precision it named on the space
(`precision_before`) for the images of that time, which record none of their own.

The releases before this one marked no list short (links.py): a run that started on a catalogue of
FORMER_NEIGHBOURS or fewer images ended by scanning every list instead. Such a catalogue's lists are
marked short once, by the first `index` or `link` (the lists' index is then made), and filled as it
grows; a larger catalogue's lists are left as they were (a list left short by an interrupted run of
those releases is filled by `link`, as it was then)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from retrieval.core.spaces import VectorSpace
from retrieval.neo4j.base import StoreBase, checked_identifier
from retrieval.neo4j.images import compact

CHUNK = 1000  # nodes per transaction: bounded memory and transaction size at any collection size
FORMER_NEIGHBOURS = 10  # what the releases before this one listed per image

# Every list of a catalogue of `$small` or fewer images: at most that many nodes are read.
MARK_FORMER_SHORT = """
MATCH (i:`{label}`) WHERE i.`{prop}` IS NOT NULL
WITH i LIMIT $small + 1
WITH collect(i) AS images WHERE size(images) <= $small
UNWIND images AS i
SET i.`{short}` = $small
"""

# Found through the path constraint's index, in path order, so each chunk costs its own size.
OLD_NODES = """
MATCH (i:`{label}`) WHERE i.path > $after
WITH i ORDER BY i.path LIMIT $limit
RETURN i.path AS path, CASE WHEN i.`{compact}` IS NULL THEN i.`{prop}` END AS vector
"""

UPGRADE_NODES = """
UNWIND $rows AS row
MATCH (i:`{label}` {path: row.path})
SET i.`{compact}` = coalesce(row.compact, i.`{compact}`)
REMOVE i.`{blended}`, i.`{blended_norm}`, i.`{linked_count}`, i.`{linked_floor}`
"""

OLD_INDEX = "SHOW VECTOR INDEXES YIELD name WHERE name = $index RETURN name"

OLD_SPACE = "MATCH (s:VectorSpace {index: $index}) RETURN s.index AS index"

DROP_OLD_INDEX = "DROP INDEX `{blended_index}` IF EXISTS"

FORGET_OLD_SPACE = "MATCH (s:VectorSpace {index: $index}) DELETE s"

# `$former` maps the previous release's fingerprints of these weights to the precision each named.
REFINGERPRINT = """
MATCH (s:VectorSpace {index: $index}) WHERE s.fingerprint IN keys($former)
WITH s, $former[s.fingerprint] AS precision
SET s.fingerprint = $fingerprint, s.precision_before = precision
RETURN precision
"""


@dataclass(frozen=True)
class Upgraded:
    images: int  # nodes looked at
    copies: int  # compact copies made
    index: str  # the dropped index

    def summary(self) -> str:
        return (
            f"Upgraded the database from the previous release: compact vector copies for {self.copies} of {self.images} "
            f"images; the blended vectors, their index {self.index} and the link markers, no longer used, are removed."
        )


@dataclass(frozen=True)
class Refingerprinted:
    index: str
    precision: str  # what the previous release's fingerprint named, and the stored vectors were made in

    def summary(self) -> str:
        return (
            f"Upgraded {self.index} from the previous release: its fingerprint now names the model's weights and "
            f"preprocessing, not the precision; its vectors (made in {self.precision}) are kept, and every admitted "
            "precision adds to them."
        )


class Upgrades(StoreBase):
    """Bringing a database of the previous release to this one's layout."""

    def upgrade(self, space: VectorSpace) -> Upgraded | None:
        """Upgrade `space`'s images if the previous release's blended vectors are still there (their
        index or their VectorSpace node), else nothing. Safe to run from several processes at once and
        to interrupt: each step is idempotent, and the old index is dropped last, so a rerun finishes."""
        blended = checked_identifier(f"{self.index_name(space)}_blended")  # e.g. image_efficientnet_lite0_blended
        if not (self._query(OLD_INDEX, index=blended) or self._query(OLD_SPACE, index=blended)):
            return None
        names = {
            **self._search_names(space),
            "blended": f"{space.vector_property}_blended",
            "blended_norm": f"{space.vector_property}_blended_norm",
            "linked_count": f"{space.linked_property}_count",
            "linked_floor": f"{space.linked_property}_floor",
        }
        images = copies = 0
        after = ""
        while rows := self._query(OLD_NODES, names, after=after, limit=CHUNK):
            updates = [
                {"path": r["path"], "compact": None if r["vector"] is None else compact(np.asarray(r["vector"], np.float32))}
                for r in rows
            ]
            self._write(UPGRADE_NODES, names, rows=updates)
            images += len(rows)
            copies += sum(u["compact"] is not None for u in updates)
            after = rows[-1]["path"]
        self._write(DROP_OLD_INDEX, {"blended_index": blended})
        self._write(FORGET_OLD_SPACE, index=blended)
        return Upgraded(images, copies, blended)

    def mark_former_short_lists(self, space: VectorSpace) -> None:
        """Mark short the lists of a catalogue of FORMER_NEIGHBOURS or fewer images, which the releases
        before this one left unmarked: the first run of this release does it, once (schema.py)."""
        self._write(MARK_FORMER_SHORT, self._link_names(space), small=FORMER_NEIGHBOURS)

    def refingerprint(self, space: VectorSpace, fingerprint: str, former: Mapping[str, str]) -> Refingerprinted | None:
        """Rename `space`'s fingerprint to `fingerprint` if it is one of `former` (the previous release's
        fingerprints of the same weights and preprocessing, each with the precision it named), else
        nothing. Idempotent, and safe from several processes at once (the space node is locked by the write)."""
        if not former:
            return None
        index = self.index_name(space)
        rows = self._write(REFINGERPRINT, index=index, former=dict(former), fingerprint=fingerprint)[0]
        return Refingerprinted(index, rows[0]["precision"]) if rows else None
