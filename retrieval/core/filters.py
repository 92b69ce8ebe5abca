"""A search's filter on the photos' own facts: when they were taken, the folder they lie under, the
camera. The CLI and the app read the same words into the same `PhotoFilter`; retrieval/neo4j/nearest.py
turns it into Cypher (inside the vector index where the server can, else after it)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from retrieval.core.errors import RetrievalError


@dataclass(frozen=True)
class PhotoFilter:
    """Only photos taken on or after `taken_from` and on or before `taken_to` (days in UTC; either may be
    open), lying below the folder `under` (an absolute path), and taken with `camera` (any case)."""

    taken_from: date | None = None
    taken_to: date | None = None
    under: str | None = None
    camera: str | None = None

    def __post_init__(self) -> None:
        if self.taken_from and self.taken_to and self.taken_from > self.taken_to:
            raise RetrievalError(f"The date range {self.taken_from}..{self.taken_to} ends before it starts.")

    @classmethod
    def of(cls, taken: str | None = None, under: str | None = None, camera: str | None = None) -> PhotoFilter | None:
        """The filter the CLI's `--taken FROM..TO`, `--under FOLDER` and `--camera NAME` say (None: no filter)."""
        start, end = parse_taken(taken) if taken else (None, None)
        folder = os.path.abspath(os.path.expanduser(under)) if under else None
        name = " ".join(camera.split()) if camera else None
        found = cls(start, end, folder, name or None)
        return found if found.active else None

    @property
    def active(self) -> bool:
        return any((self.taken_from, self.taken_to, self.under, self.camera))

    def predicates(self) -> tuple[list[str], dict[str, object]]:
        """The filter as predicates on the image `node`, to be joined by AND (equality and ranges only,
        as a vector index's filter takes them), and their parameters."""
        terms: list[str] = []
        params: dict[str, object] = {}
        if self.taken_from:
            terms.append("node.taken >= $taken_from")
            params["taken_from"] = datetime.combine(self.taken_from, time(), UTC)
        if self.taken_to:
            terms.append("node.taken < $taken_until")
            params["taken_until"] = datetime.combine(self.taken_to + timedelta(days=1), time(), UTC)
        if self.under:
            # Below the folder: every path from "folder/" up to "folder0" ("0" is the character after "/").
            prefix = self.under.rstrip(os.sep) + os.sep
            terms += ["node.path >= $under", "node.path < $under_end"]
            params |= {"under": prefix, "under_end": prefix[:-1] + chr(ord(os.sep) + 1)}
        if self.camera:
            terms.append("node.camera_key = $camera")
            params["camera"] = camera_key(self.camera)
        return terms, params

    def __str__(self) -> str:
        parts = []
        if self.taken_from or self.taken_to:
            parts.append(f"taken {self.taken_from or ''}..{self.taken_to or ''}")
        if self.under:
            parts.append(f"under {self.under}")
        if self.camera:
            parts.append(f"camera {self.camera}")
        return ", ".join(parts)


def camera_key(camera: str) -> str:
    """What a camera is compared by: its name in lower case, single-spaced (stored beside the name)."""
    return " ".join(camera.split()).lower()


def parse_taken(text: str) -> tuple[date | None, date | None]:
    """`FROM..TO` in ISO dates, either end left out (`2021-01-01..`, `..2019-12-31`); one date alone is that day."""
    start, sep, end = text.strip().partition("..")
    if not sep:
        day = _day(start, text)
        return day, day
    if not (start.strip() or end.strip()):
        raise RetrievalError(
            f"{text!r} is not a date range: give FROM..TO, FROM.. or ..TO (ISO dates, e.g. 2021-01-01..2021-12-31)."
        )
    return (_day(start, text) if start.strip() else None), (_day(end, text) if end.strip() else None)


def _day(text: str, whole: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise RetrievalError(
            f"{whole!r} is not a date range: give FROM..TO, FROM.. or ..TO in ISO dates (e.g. 2021-01-01..2021-12-31)."
        ) from None
