"""The photos' own facts, each declared once, in `FACTS`: its name, where EXIF keeps it and how it is
read, how a search filters by it, and whether the vector index filters by it.

Everything else is derived from that tuple: what indexing reads from a file (vision/facts.py) and
keeps on its node (neo4j/images.py, `stored`), the range indexes and the vector index's filtered
properties (neo4j/schema.py, neo4j/filters.py), the filter (core/filters.py) with the CLI's options
and the app's widgets that build it, and the keys of `search --json`. A fact added here is read on
the next `index` of every file whose node holds an older reading, without re-embedding (`READING`).

EXIF is the file's author's text: a field that is missing, of the wrong type, too long, not a real
date (0000:00:00 00:00:00), or a date that cannot be a Neo4j datetime (0001:01:01 at +14:59 is in year
0 in UTC) is left out for that fact alone, never an error."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any, ClassVar, Generic, TypeVar

from retrieval.core.errors import RetrievalError

Value = datetime | str  # a fact as a node keeps it
Condition = TypeVar("Condition")  # what a filter on one fact asks, read from the user's words

IFD0, EXIF_IFD = 0, 0x8769  # where a tag lives: the image's first directory, or its Exif directory


@dataclass(frozen=True)
class Tag:
    ifd: int
    number: int


@dataclass(frozen=True)
class Fact(Generic[Condition]):
    """One fact of a photo. `name` is its node property, its key in `search --json`, the CLI's option
    (`--name`) and the app's filter; `read` makes it from the raw values of `tags` (None where the
    file has no such field), or says None; `label` and `help` are what the app and `--help` show.
    With `indexed`, the vector index is made with its filtered property (2026.01 and later) and a
    range index finds it where the vector index cannot filter (5.26, or an index made before)."""

    name: str
    tags: tuple[Tag, ...]
    read: Callable[..., Value | None]
    label: str
    help: str
    indexed: bool = True
    metavar: ClassVar[str] = "VALUE"  # the CLI's word for the condition

    @property
    def filtered(self) -> str:
        """The node property a filter compares."""
        return self.name

    def stored(self, value: Value | None) -> dict[str, Value | None]:
        """The node properties that keep `value` (all of them None when the file did not say)."""
        return {self.name: value}

    def condition(self, text: str) -> Condition:
        """The user's words as a condition, or a `RetrievalError` saying what is wrong with them."""
        raise NotImplementedError

    def predicates(self, condition: Condition) -> tuple[list[str], dict[str, object]]:
        """The condition as predicates on the image `node` (equality and ranges only, as a vector
        index's filter takes them), and their parameters."""
        raise NotImplementedError

    def described(self, condition: Condition) -> str:
        raise NotImplementedError

    def plain(self, value: Value) -> str:
        """`value` as JSON text."""
        return value.isoformat() if isinstance(value, datetime) else value


DayRange = tuple[date | None, date | None]


@dataclass(frozen=True)
class Moment(Fact[DayRange]):
    """A time, filtered by a range of days in UTC (`FROM..TO`, either end open)."""

    metavar: ClassVar[str] = "FROM..TO"

    def condition(self, text: str) -> DayRange:
        start, end = parse_days(text)
        if start and end and start > end:
            raise RetrievalError(f"The date range {start}..{end} ends before it starts.")
        return start, end

    def predicates(self, condition: DayRange) -> tuple[list[str], dict[str, object]]:
        start, end = condition
        terms: list[str] = []
        params: dict[str, object] = {}
        if start:
            terms.append(f"node.{self.name} >= ${self.name}_from")
            params[f"{self.name}_from"] = datetime.combine(start, time(), UTC)
        if end:
            terms.append(f"node.{self.name} < ${self.name}_until")
            params[f"{self.name}_until"] = datetime.combine(end + timedelta(days=1), time(), UTC)
        return terms, params

    def described(self, condition: DayRange) -> str:
        start, end = condition
        return f"{self.name} {start or ''}..{end or ''}"


@dataclass(frozen=True)
class Name(Fact[str]):
    """A name, kept as written and compared in any case (by `{name}_key`, kept beside it)."""

    metavar: ClassVar[str] = "NAME"

    @property
    def filtered(self) -> str:
        return f"{self.name}_key"

    def stored(self, value: Value | None) -> dict[str, Value | None]:
        return {self.name: value, self.filtered: name_key(value) if isinstance(value, str) else None}

    def condition(self, text: str) -> str:
        if not (name := " ".join(text.split())):
            raise RetrievalError(f"The {self.name} to filter by is empty: give its name.")
        return name

    def predicates(self, condition: str) -> tuple[list[str], dict[str, object]]:
        return [f"node.{self.filtered} = ${self.name}"], {self.name: name_key(condition)}

    def described(self, condition: str) -> str:
        return f"{self.name} {condition}"


def name_key(name: str) -> str:
    """What a name is compared by: in lower case, single-spaced."""
    return " ".join(name.split()).lower()


MAX_TEXT = 64  # longer makes, models and lenses are not a name
EXIF_TIME = re.compile(r"^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
EXIF_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


def text(value: object) -> str | None:
    """An EXIF text field as one line of printable text, or None."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "ignore")
    if not isinstance(value, str):
        return None
    found = " ".join(value.replace("\x00", " ").split())
    return found if 0 < len(found) <= MAX_TEXT and found.isprintable() else None


def when(value: object, offset: object) -> datetime | None:
    """An EXIF time ("2021:07:14 18:02:33") as a datetime: with its offset ("+02:00") when given, else UTC."""
    found = text(value)
    if found is None or (match := EXIF_TIME.match(found)) is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError:  # 0000:00:00, month 13, ...
        return None
    zone = UTC
    if (shift := text(offset)) and (shifted := EXIF_OFFSET.match(shift)):
        sign, hours, minutes = shifted.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        if delta < timedelta(hours=15):
            zone = timezone(-delta if sign == "-" else delta)
    return storable(moment.replace(tzinfo=zone))


def storable(moment: datetime) -> datetime | None:
    """`moment` if Neo4j can keep it, else None. The driver sends a datetime as its instant in UTC
    (seconds since 1970) and its offset, converting through Python's years 1 to 9999: an instant in
    UTC outside them ("Ticks out of range", "Ordinal out of range") cannot be sent. The server takes
    wider years (+-999,999,999) and offsets (+-18:00) than EXIF can give, whole seconds here."""
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return None
    return moment


def taken(original: object, original_offset: object, changed: object, changed_offset: object) -> datetime | None:
    """When the photo was taken: EXIF DateTimeOriginal, else DateTime (when the file was last changed,
    by the camera usually the capture), each with its offset."""
    return when(original, original_offset) or when(changed, changed_offset)


def camera_name(make: object, model: object) -> str | None:
    """Make and model as one name: "NIKON CORPORATION" + "NIKON D750" is "NIKON D750", "Canon" + "Canon EOS R5"
    is "Canon EOS R5", "Apple" + "iPhone 12" is "Apple iPhone 12". Single spaces; None when both are missing."""
    make, model = text(make), text(model)
    if make and model and (model.lower().startswith(make.split()[0].lower())):
        return model
    return " ".join(part for part in (make, model) if part) or None


FACTS: tuple[Fact[Any], ...] = (
    Moment(
        "taken",
        (Tag(EXIF_IFD, 0x9003), Tag(EXIF_IFD, 0x9011), Tag(IFD0, 0x0132), Tag(EXIF_IFD, 0x9010)),
        taken,
        label="Taken between",
        help="only photos taken in this range of ISO dates (days in UTC), either end open: 2021-01-01..2021-12-31, ..2019-12-31",
    ),
    Name(
        "camera",
        (Tag(IFD0, 0x010F), Tag(IFD0, 0x0110)),
        camera_name,
        label="Camera",
        help='only photos taken with this camera, any case, e.g. "NIKON D750"',
    ),
    Name(
        "lens",
        (Tag(EXIF_IFD, 0xA434),),
        text,
        label="Lens",
        help='only photos taken through this lens (EXIF LensModel), any case, e.g. "EF24-105mm f/4L IS USM"',
    ),
)

# Which reading of the facts a node holds (`facts` on it): a node without this one's is read again
# on the next `index`, its vector kept.
READING = " ".join(fact.name for fact in FACTS)


def stored_facts(found: Mapping[str, Value]) -> dict[str, Value | None]:
    """Every fact's node properties for the facts `found` in a file (None for those it did not say)."""
    return {prop: value for fact in FACTS for prop, value in fact.stored(found.get(fact.name)).items()}


def parse_days(words: str) -> DayRange:
    """`FROM..TO` in ISO dates, either end left out (`2021-01-01..`, `..2019-12-31`); one date alone is that day."""
    start, sep, end = words.strip().partition("..")
    if not sep:
        day = _day(start, words)
        return day, day
    if not (start.strip() or end.strip()):
        raise RetrievalError(
            f"{words!r} is not a date range: give FROM..TO, FROM.. or ..TO (ISO dates, e.g. 2021-01-01..2021-12-31)."
        )
    return (_day(start, words) if start.strip() else None), (_day(end, words) if end.strip() else None)


def _day(words: str, whole: str) -> date:
    try:
        return date.fromisoformat(words.strip())
    except ValueError:
        raise RetrievalError(
            f"{whole!r} is not a date range: give FROM..TO, FROM.. or ..TO in ISO dates (e.g. 2021-01-01..2021-12-31)."
        ) from None
