"""Duplicate groups in tiers a person can act on: images joined by SIMILAR_TO links scoring at least a
tier's threshold, taken as connected components (Neo4j Community has no Graph Data Science library, so
networkx does it), largest first, a page at a time.

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
    threshold: float  # the lowest cosine of a link that joins a group
    means: str  # what lands in it, in a few words


TIERS = (
    Tier("same", "Same picture", SAME_PICTURE, "the same picture re-saved, resized or lightly edited"),
    Tier("near", "Near-duplicates", NEAR_DUPLICATE, "crops, bursts and edits of one shot, and the same picture"),
    Tier("similar", "Similar", SIMILAR, "other photos of the same thing, and everything closer"),
)
DEFAULT_TIER = TIERS[1]


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
    lowest: float  # the weakest link that joins the group
    best: float


def outlines(pairs: Iterable[tuple[str, str, float]]) -> list[Outline]:
    """Connected components of the linked pairs, largest first (then by best score, then first path)."""
    import networkx as nx  # here, not at the top: its import is slow, and only this needs it

    scores: dict[tuple[str, str], float] = {}
    for a, b, score in pairs:
        key = (a, b) if a < b else (b, a)
        scores[key] = max(score, scores.get(key, score))
    best: dict[str, float] = {}
    for (a, b), score in scores.items():
        best[a], best[b] = max(score, best.get(a, score)), max(score, best.get(b, score))
    graph: nx.Graph[str] = nx.Graph()
    graph.add_edges_from(scores)
    components = list(nx.connected_components(graph))
    component_of = {path: n for n, component in enumerate(components) for path in component}
    lowest = [1.0] * len(components)
    for (a, _), score in scores.items():
        lowest[component_of[a]] = min(score, lowest[component_of[a]])
    found = [
        Outline(tuple(sorted(c)), {p: best[p] for p in c}, lowest[n], max(best[p] for p in c)) for n, c in enumerate(components)
    ]
    return sorted(found, key=lambda g: (-len(g.paths), -g.best, g.paths[0]))


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
    Only the page's members are read from the nodes."""
    ranked = outlines(store.similar_pairs(spec.space, tier.threshold))
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
