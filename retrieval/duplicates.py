"""Duplicate groups in tiers a person can act on: images joined by SIMILAR_TO links scoring at least a
tier's threshold, largest first, a page at a time.

How links make groups: a copy of a copy is a copy, so links at the near-duplicate cosine or above
join images transitively (connected components). Likeness does not carry over that way (a photo like
one that is like a third need not be like the third), and components of weaker links chain across a
collection into a few huge mixed groups; so a weaker link joins a picture (with its near-duplicates)
only to a group's centre (star clustering), never wider (docs/QUALITY.md, "Duplicate tiers").

A tier holds the closer ones too: every same-picture pair is also a near-duplicate pair. Groups are
formed from the links alone; the facts people compare (size in pixels, bytes, date) are read only for
the groups on the page asked for, so the first page of a large library opens as fast as of a small one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from math import ceil
from pathlib import Path
from typing import Any, TypeVar

from retrieval.core.errors import RetrievalError
from retrieval.neo4j.base import Row
from retrieval.neo4j.store import ImageStore
from retrieval.vision.models import ModelSpec

SAME_PICTURE = 0.94
"""Cosine of the same picture re-saved or resized (and light edits, which cosine cannot tell apart):
chosen in docs/QUALITY.md, "Duplicate tiers"."""
NEAR_DUPLICATE = 0.89
"""Cosine of near-duplicates (crops, bursts): chosen in docs/QUALITY.md, "Duplicate tiers"."""
SIMILAR = 0.60
"""Cosine of similar photos (the same thing, another photo): chosen in docs/QUALITY.md, "Duplicate tiers"."""

PER_PAGE = 20  # groups on a page

T = TypeVar("T")


@dataclass(frozen=True)
class Tier:
    name: str  # as typed on the command line and stored in JSON
    title: str  # as shown to people
    word: str  # what one image in it is to another, as said beside a score (search results, group members)
    threshold: float  # the lowest cosine of a link that joins a group
    means: str  # what lands in it, in a few words
    transitive_from: float = -1.0  # links this close join transitively; weaker ones only to a group's centre


TIERS = (
    Tier("same", "Same picture", "same picture", SAME_PICTURE, "the same picture re-saved, resized or lightly edited"),
    Tier(
        "near", "Near-duplicates", "near-duplicate", NEAR_DUPLICATE, "crops, bursts and edits of one shot, and the same picture"
    ),
    Tier(
        "similar",
        "Similar",
        "similar",
        SIMILAR,
        "a photo and the photos of the same thing linked to it, and everything closer",
        NEAR_DUPLICATE,
    ),
)
DEFAULT_TIER = TIERS[1]


def tier_of(score: float) -> Tier | None:
    """The closest tier a cosine reaches (the same picture before near-duplicates before similar), None
    under them all: the words for a score, the same on every tab and in `search --json`."""
    return next((tier for tier in TIERS if score >= tier.threshold), None)


def tier_named(name: str, threshold: float | None = None) -> Tier:
    """The tier called `name`, its threshold replaced by `threshold` when one is given."""
    for tier in TIERS:
        if tier.name == name:
            return tier if threshold is None else replace(tier, threshold=threshold)
    raise RetrievalError(f"No duplicate tier {name!r}: choose one of {', '.join(t.name for t in TIERS)}.")


@dataclass(frozen=True)
class Outline:
    """A group as the links give it: enough to rank it and to page, no file's facts."""

    paths: tuple[str, ...]  # sorted
    matches: dict[str, float]  # each path's best link to the rest of the group
    lowest: float  # every member has a link this close to another member
    best: float


def outlines(
    pairs: Iterable[tuple[str, str, float]], transitive_from: float = -1.0, marks: Sequence[Sequence[str]] = ()
) -> list[Outline]:
    """The groups of the linked pairs, largest first (then by best score, then first path). Links
    scoring at least `transitive_from` join images transitively into units; weaker links join units
    into stars (see `_stars`). Images of one of `marks` (sets marked "not duplicates") are never
    joined by their own link, nor put in one star."""
    marked: dict[str, set[int]] = {}
    for n, paths in enumerate(marks):
        for path in paths:
            marked.setdefault(path, set()).add(n)
    linked: dict[str, dict[str, float]] = {}  # each image's linked images and the best score of their links
    for a, b, score in pairs:
        if marked.get(a, set()) & marked.get(b, set()):
            continue
        for one, other in ((a, b), (b, a)):
            scores = linked.setdefault(one, {})
            scores[other] = max(score, scores.get(other, score))
    found = []
    for members in _stars(linked, _units(linked, transitive_from), marked):
        matches = {p: max(s for q, s in linked[p].items() if q in members) for p in members}
        found.append(Outline(tuple(sorted(members)), matches, min(matches.values()), max(matches.values())))
    return sorted(found, key=lambda g: (-len(g.paths), -g.best, g.paths[0]))


def _units(linked: dict[str, dict[str, float]], at_least: float) -> list[set[str]]:
    """The connected components of the links scoring `at_least`, each other image a unit of its own."""
    import networkx as nx  # here, not at the top: its import is slow, and only this needs it

    graph: nx.Graph[str] = nx.Graph()
    graph.add_nodes_from(linked)
    graph.add_edges_from((a, b) for a, others in linked.items() for b, s in others.items() if s >= at_least)
    return list(nx.connected_components(graph))


def _stars(linked: dict[str, dict[str, float]], units: list[set[str]], marked: dict[str, set[int]]) -> list[set[str]]:
    """Star clustering of the units, greedy: the unit linked to the most others (then by the highest
    sum of their best scores, then its first path) that is in no group yet is a centre, and its group
    is it and the units linked to it that are in no group yet, closest first, less those sharing a
    "not duplicates" mark (`marked`: each path's marks) with the group so far. Every unit is linked to
    its centre, so a group cannot chain. Units linked to none are groups as they are."""
    unit_of = {path: n for n, unit in enumerate(units) for path in unit}
    near: list[dict[int, float]] = [{} for _ in units]  # each unit's linked units, by their best score
    for a, others in linked.items():
        for b, score in others.items():
            if (one := unit_of[a]) != (other := unit_of[b]):
                near[one][other] = max(score, near[one].get(other, score))
    first = [min(unit) for unit in units]
    placed: set[int] = set()
    groups = []
    for centre in sorted(range(len(units)), key=lambda n: (-len(near[n]), -sum(near[n].values()), first[n])):
        if centre in placed:
            continue
        members = set(units[centre])
        marks = set().union(*(marked.get(p, set()) for p in members))
        for n in sorted(near[centre], key=lambda n: (-near[centre][n], first[n])):
            theirs = set().union(*(marked.get(p, set()) for p in units[n]))
            if n not in placed and not marks & theirs:
                placed.add(n)
                members |= units[n]
                marks |= theirs
        placed.add(centre)
        if len(members) > 1:
            groups.append(members)
    return groups


@dataclass(frozen=True)
class Member:
    """One file of a group and the facts a person compares before keeping one."""

    path: str
    match: float  # its best link to the rest of the group
    width: int | None
    height: int | None
    size: int | None  # bytes
    date: datetime | None
    dated_by: str  # "taken" (the photo's EXIF date) or "modified" (the file's time); "" with no date

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def pixels(self) -> str:
        return f"{self.width}x{self.height}" if self.width and self.height else "unknown size"

    def facts(self) -> str:
        """Size in pixels, bytes and date, in one line."""
        when = f"{self.dated_by} {self.date:%Y-%m-%d %H:%M}" if self.date else "no date"
        return f"{self.pixels} px · {_bytes(self.size)} · {when}"

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "match": round(self.match, 4),
            "width": self.width,
            "height": self.height,
            "size": self.size,
            "date": self.date.isoformat() if self.date else None,
            "dated_by": self.dated_by or None,
        }


@dataclass(frozen=True)
class Group:
    tier: str
    number: int  # 1 for the largest group
    lowest: float
    best: float
    members: list[Member]  # by path

    @property
    def paths(self) -> list[str]:
        return [m.path for m in self.members]

    def differences(self) -> list[str]:
        """What the files differ in: size in pixels, bytes and date, each as a range or 'same'."""
        largest_first = sorted(self.members, key=lambda m: -(m.width or 0) * (m.height or 0))
        pixels = list(dict.fromkeys(m.pixels for m in largest_first))
        sizes = sorted({m.size for m in self.members if m.size is not None})
        dates = sorted({m.date for m in self.members if m.date is not None}, key=_comparable)
        return [
            f"pixels: {', '.join(pixels)}" if len(pixels) > 1 else f"same size in pixels ({pixels[0]})",
            f"bytes: {_span(sizes, _bytes, lambda n: f'{n:,} bytes')}" if len(sizes) > 1 else "same number of bytes",
            f"dates: {_span(dates, lambda d: f'{d:%Y-%m-%d %H:%M}', lambda d: f'{d:%Y-%m-%d %H:%M:%S}')}"
            if len(dates) > 1
            else "same date",
        ]

    def as_json(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "group": self.number,
            "score": {"lowest": round(self.lowest, 4), "best": round(self.best, 4)},
            "members": [m.as_json() for m in self.members],
        }


@dataclass(frozen=True)
class DuplicatePage:
    tier: Tier
    page: int  # from 1
    per_page: int
    total_groups: int
    total_images: int  # in all groups
    groups: list[Group]

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total_groups / self.per_page))


def duplicate_page(
    store: ImageStore, spec: ModelSpec, tier: Tier = DEFAULT_TIER, page: int = 1, per_page: int | None = PER_PAGE
) -> DuplicatePage:
    """Page `page` of `tier`'s groups, largest first (`per_page` None: every group on one page).
    Images marked "not duplicates" of each other are kept apart. Only the page's members are read
    from the nodes."""
    ranked = outlines(store.similar_pairs(spec.space, tier.threshold), tier.transitive_from, store.distinct_sets())
    size = per_page or max(1, len(ranked))
    first = (page - 1) * size
    shown = ranked[first : first + size]
    facts = store.member_facts([p for group in shown for p in group.paths])
    groups = [
        Group(tier.name, first + n, g.lowest, g.best, [_member(p, g.matches[p], facts.get(p, {})) for p in g.paths])
        for n, g in enumerate(shown, 1)
    ]
    return DuplicatePage(tier, page, size, len(ranked), sum(len(g.paths) for g in ranked), groups)


def group_paths(groups: Sequence[Group]) -> str:
    """The groups' paths, one a line, a blank line between groups: a list to act on elsewhere."""
    return "\n\n".join("\n".join(g.paths) for g in groups) + "\n" if groups else ""


def _member(path: str, match: float, row: Row) -> Member:
    taken = _date(row.get("taken"))
    mtime = row.get("mtime_ns")
    modified = datetime.fromtimestamp(mtime / 1e9, tz=UTC) if isinstance(mtime, int) else None
    dated_by = "taken" if taken else "modified" if modified else ""
    return Member(path, match, row.get("width"), row.get("height"), row.get("size"), taken or modified, dated_by)


def _date(value: object) -> datetime | None:
    """An EXIF date as stored: a Neo4j temporal value or ISO text; anything else is no date."""
    native = value.to_native() if hasattr(value, "to_native") else value
    if isinstance(native, str):
        try:
            native = datetime.fromisoformat(native)
        except ValueError:
            return None
    if isinstance(native, datetime):
        return native
    if isinstance(native, date):
        return datetime(native.year, native.month, native.day)
    return None


def _comparable(when: datetime) -> datetime:
    """A photo's EXIF date has no zone: compared with files' times as if it were UTC."""
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _span(values: Sequence[T], short: Callable[[T], str], full: Callable[[T], str]) -> str:
    """The first and last of `values`, rounded; in full when rounding would show the two alike."""
    low, high = short(values[0]), short(values[-1])
    return f"{low} to {high}" if low != high else f"{full(values[0])} to {full(values[-1])}"


def _bytes(size: int | None) -> str:
    if size is None:
        return "unknown bytes"
    return f"{size:,} bytes" if size < 10_000 else f"{size / 1000:,.0f} kB"
