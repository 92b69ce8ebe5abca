"""The facts of duplicate groups' members: what a person compares before keeping one file of a group.

Groups are formed from the links alone (`Links.similar_pairs`: paths and scores); only the members of
the groups on show are read here, so a page costs the same however many groups there are.
"""

from __future__ import annotations

from collections.abc import Sequence

from retrieval.neo4j.base import Row, StoreBase

# `taken` (the EXIF date, when the photo had one) is read as stored: absent on most nodes.
MEMBERS = """
UNWIND $paths AS path
MATCH (i:`{label}` {path: path})
RETURN i.path AS path, i.width AS width, i.height AS height, i.size AS size, i.taken AS taken, i.mtime_ns AS mtime_ns
"""


class DuplicateReads(StoreBase):
    """Reads for the duplicate groups' pages."""

    def member_facts(self, paths: Sequence[str]) -> dict[str, Row]:
        """Each stored image's size in pixels, bytes, EXIF date and file time, by path."""
        return {r["path"]: r for r in self._query(MEMBERS, paths=list(paths))} if paths else {}
