"""Duplicates resolved in the graph: copies set aside, their resolutions, and sets marked "not duplicates".

A copy set aside keeps its node, relabelled from `Image` to `ImageAside` (the label's name + "Aside"):
its vectors, compact copy, facts and SIMILAR_TO links stay on it, but no vector index, search, group,
listing or count sees it, since all of them read the `Image` label. Undo relabels it back: nothing is
embedded or linked again. The vectors are kept in the graph, not in the manifest, because that is where
a restored node must have them and a relabel is one write, whatever the vector's size.

Each resolution is a `Resolution` node (its id, manifest, state); marks are `ImageDistinct` nodes
holding the paths of a set, keyed by them, so they outlive the nodes of their images (index, link,
--reembed, --prune and an upgrade never touch them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from retrieval.core.errors import QueryFailed
from retrieval.neo4j.base import StoreBase, checked_identifier

# One group in one transaction: every member's node is write-locked in path order (SET then REMOVE of a
# marker), so two resolutions of the same group take turns; then, read again under those locks, the
# copies are relabelled only if every member, the keeper too, is still in the catalogue (the other
# resolution may have set one aside meanwhile).
SET_ASIDE = """
MATCH (i:`{label}`) WHERE i.path IN $paths
WITH i ORDER BY i.path
SET i.resolving = $id
REMOVE i.resolving
WITH count(i) AS locked
MATCH (i:`{label}`) WHERE i.path IN $paths
WITH collect(i) AS members
WHERE size(members) = size($paths)
UNWIND members AS i
WITH i WHERE i.path IN $moved
REMOVE i:`{label}`
SET i:`{aside}`, i.aside_by = $id, i.aside_at = datetime()
RETURN i.path AS path
"""

# Back into the catalogue; where a node of that path is there again (indexed meanwhile), the one set
# aside is dropped instead, so the path constraint holds.
RESTORE = """
UNWIND $paths AS path
MATCH (a:`{aside}` {path: path}) WHERE $id IS NULL OR a.aside_by = $id
OPTIONAL MATCH (i:`{label}` {path: path})
FOREACH (_ IN CASE WHEN i IS NULL THEN [1] ELSE [] END | REMOVE a:`{aside}`, a.aside_by, a.aside_at SET a:`{label}`)
FOREACH (_ IN CASE WHEN i IS NULL THEN [] ELSE [1] END | DETACH DELETE a)
RETURN path
"""

ASIDE_BELOW = """
MATCH (a:`{aside}`) WHERE a.path STARTS WITH $prefix
RETURN a.path AS path, a.aside_by AS resolution
"""

# Images whose paths are set aside do not come back through an index run that read them before.
IS_ASIDE = "UNWIND $paths AS path MATCH (a:`{aside}` {path: path}) RETURN a.path AS path"

DROP_PATHS = "UNWIND $paths AS path MATCH (i:`{label}` {path: path}) DETACH DELETE i"

START_RESOLUTION = """
CREATE (r:Resolution {id: $id, label: $label, manifest: $manifest, kind: $kind, state: 'running', at: datetime(),
                      paths: $paths})
"""

SET_STATE = "MATCH (r:Resolution {id: $id}) SET r.state = $state, r.changed_at = datetime()"

RESOLUTIONS = """
MATCH (r:Resolution {label: $label}) WHERE $states IS NULL OR r.state IN $states
RETURN r.id AS id, r.manifest AS manifest, r.kind AS kind, r.state AS state, r.at AS at, r.paths AS paths
ORDER BY r.at DESC, r.id DESC
"""

RESOLUTION = """
MATCH (r:Resolution {label: $label}) WHERE r.id = $id OR r.manifest = $manifest
RETURN r.id AS id, r.manifest AS manifest, r.kind AS kind, r.state AS state, r.at AS at, r.paths AS paths
"""

MARK = """
MERGE (d:`{distinct}` {key: $key})
ON CREATE SET d.paths = $paths, d.marked_at = datetime(), d.marked_by = $id
"""

UNMARK = """
MATCH (d:`{distinct}`) WHERE all(p IN $paths WHERE p IN d.paths) AND ($id IS NULL OR d.marked_by = $id)
DELETE d
RETURN count(d) AS n
"""

MARKS = "MATCH (d:`{distinct}`) RETURN d.paths AS paths"

CREATE_MARK_CONSTRAINT = "CREATE CONSTRAINT `{name}` IF NOT EXISTS FOR (d:`{distinct}`) REQUIRE d.key IS UNIQUE"
CREATE_RESOLUTION_CONSTRAINT = "CREATE CONSTRAINT resolution_id_unique IF NOT EXISTS FOR (r:Resolution) REQUIRE r.id IS UNIQUE"
CREATE_ASIDE_INDEX = "CREATE RANGE INDEX `{name}` IF NOT EXISTS FOR (a:`{aside}`) ON (a.path)"


@dataclass(frozen=True)
class ResolutionRecord:
    """A resolution (or a mark) as the graph keeps it."""

    id: str
    manifest: str | None  # the manifest file; None for a mark
    kind: str  # "resolution" or "distinct"
    state: str  # running, done, undone
    at: datetime
    paths: list[str]  # a mark's paths; a resolution's files set aside


def aside_label(label: str) -> str:
    """The label of a node set aside from the catalogue of `label` (ImageAside for Image)."""
    return checked_identifier(f"{label}Aside")


class Resolutions(StoreBase):
    """Copies set aside and back, resolutions and "not duplicates" marks."""

    @property
    def _resolution_names(self) -> dict[str, str]:
        return {"aside": aside_label(self.label), "distinct": checked_identifier(f"{self.label}Distinct")}

    def ensure_resolution_schema(self) -> None:
        """The constraint keying marks by their paths, resolutions by id, and the set-aside nodes' path index."""
        names = self._resolution_names
        for template, extra in (
            (CREATE_MARK_CONSTRAINT, {"name": f"{self.label.lower()}_distinct_key"}),
            (CREATE_RESOLUTION_CONSTRAINT, {}),
            (CREATE_ASIDE_INDEX, {"name": f"{self.label.lower()}_aside_path"}),
        ):
            try:
                self._write(template, {**names, **extra})
            except QueryFailed as e:  # another process creating the same at the same moment is success
                if not e.code.endswith("AlreadyExists"):
                    raise

    def set_aside(self, resolution: str, members: Sequence[str], moved: Sequence[str]) -> list[str]:
        """Take `moved` (of one group's `members`) out of the catalogue, in one transaction, if every
        member is still in it; returns the paths set aside (none when the group changed)."""
        rows, _ = self._write(SET_ASIDE, self._resolution_names, id=resolution, paths=sorted(members), moved=list(moved))
        return [r["path"] for r in rows]

    def restore(self, paths: Sequence[str], resolution: str | None = None) -> list[str]:
        """Put the nodes set aside at `paths` (by `resolution`, or by any) back in the catalogue."""
        if not paths:
            return []
        rows, _ = self._write(RESTORE, self._resolution_names, id=resolution, paths=sorted(paths))
        return [r["path"] for r in rows]

    def aside_below(self, prefix: str = "") -> dict[str, str | None]:
        """The paths set aside (under `prefix`), with the resolution that set each aside."""
        return {r["path"]: r["resolution"] for r in self._query(ASIDE_BELOW, self._resolution_names, prefix=prefix)}

    def are_aside(self, paths: Sequence[str]) -> set[str]:
        return {r["path"] for r in self._query(IS_ASIDE, self._resolution_names, paths=list(paths))} if paths else set()

    def drop_nodes(self, paths: Sequence[str]) -> None:
        """Delete the catalogue's nodes at `paths` (files that were moved away)."""
        if paths:
            self._write(DROP_PATHS, paths=list(paths))

    def start_resolution(self, resolution: str, manifest: str | None, kind: str, paths: Sequence[str] = ()) -> None:
        self._write(START_RESOLUTION, id=resolution, label=self.label, manifest=manifest, kind=kind, paths=list(paths))

    def set_resolution_state(self, resolution: str, state: str) -> None:
        self._write(SET_STATE, id=resolution, state=state)

    def resolutions(self, states: Sequence[str] | None = None) -> list[ResolutionRecord]:
        """Resolutions and marks, newest first (those in `states`, or all)."""
        rows = self._query(RESOLUTIONS, label=self.label, states=list(states) if states is not None else None)
        return [_record(r) for r in rows]

    def resolution(self, key: str) -> ResolutionRecord | None:
        """The resolution with this id or manifest path."""
        rows = self._query(RESOLUTION, label=self.label, id=key, manifest=key)
        return _record(rows[0]) if rows else None

    def mark_distinct(self, paths: Sequence[str], resolution: str | None = None) -> None:
        """Mark the images at `paths` as not duplicates of one another (once: the set is keyed by its paths)."""
        unique = sorted(set(paths))
        self._write(MARK, self._resolution_names, key="\n".join(unique), paths=unique, id=resolution)

    def unmark_distinct(self, paths: Sequence[str], resolution: str | None = None) -> int:
        """Forget every mark holding all of `paths` (made by `resolution`, when given); returns how many."""
        rows, _ = self._write(UNMARK, self._resolution_names, paths=sorted(set(paths)), id=resolution)
        return int(rows[0]["n"])

    def distinct_sets(self) -> list[list[str]]:
        """The sets marked as not duplicates."""
        return [r["paths"] for r in self._query(MARKS, self._resolution_names)]


def _record(row: dict[str, object]) -> ResolutionRecord:
    at = row["at"]
    native = at.to_native() if hasattr(at, "to_native") else at
    assert isinstance(native, datetime)
    paths = row["paths"]
    return ResolutionRecord(
        str(row["id"]),
        row["manifest"] if isinstance(row["manifest"], str) else None,
        str(row["kind"]),
        str(row["state"]),
        native,
        list(paths) if isinstance(paths, list) else [],
    )
