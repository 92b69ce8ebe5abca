"""What an image file says about itself, besides its pixels: when it was taken and with which camera
(EXIF), read from the header only, so an image whose vector is current gets them without decoding
(a camera RAW's from its own TIFF directories or its embedded preview, raw.py).

EXIF is the file's author's text: any field that is missing, of the wrong type, too long, not a
real date (0000:00:00 00:00:00), or a date that cannot be a Neo4j datetime (0001:01:01 at +14:59 is
in year 0 in UTC) is left out for that field alone, never an error."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from PIL import Image

from retrieval.vision.raw import raw_exif

DATE_TIME = 0x0132  # IFD0 DateTime: when the file was last changed (by the camera, usually the capture)
EXIF_IFD = 0x8769
MAKE, MODEL = 0x010F, 0x0110
DATE_TIME_ORIGINAL, OFFSET_TIME, OFFSET_TIME_ORIGINAL = 0x9003, 0x9010, 0x9011

MAX_TEXT = 64  # longer makes and models are not a camera's name
EXIF_TIME = re.compile(r"^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
EXIF_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


@dataclass(frozen=True)
class Facts:
    """When the photo was taken (with the offset EXIF gives, else as UTC) and the camera (make and model)."""

    taken: datetime | None = None
    camera: str | None = None


def read_facts(data: bytes) -> Facts:
    """The facts in an image file's EXIF, from its header (the pixels are not decoded)."""
    if (exif := _exif(data)) is None:
        return Facts()
    try:
        inner = exif.get_ifd(EXIF_IFD)
    except Exception:
        inner = {}
    taken = _when(inner.get(DATE_TIME_ORIGINAL), inner.get(OFFSET_TIME_ORIGINAL)) or _when(
        exif.get(DATE_TIME), inner.get(OFFSET_TIME)
    )
    return Facts(taken, camera_name(_text(exif.get(MAKE)), _text(exif.get(MODEL))))


def _exif(data: bytes) -> Image.Exif | None:
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.getexif()
    except Exception:
        return raw_exif(data)  # a camera RAW Pillow cannot open


def camera_name(make: str | None, model: str | None) -> str | None:
    """Make and model as one name: "NIKON CORPORATION" + "NIKON D750" is "NIKON D750", "Canon" + "Canon EOS R5"
    is "Canon EOS R5", "Apple" + "iPhone 12" is "Apple iPhone 12". Single spaces; None when both are missing."""
    if make and model and (model.lower().startswith(make.split()[0].lower())):
        return model
    return " ".join(part for part in (make, model) if part) or None


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "ignore")
    if not isinstance(value, str):
        return None
    text = " ".join(value.replace("\x00", " ").split())
    return text if 0 < len(text) <= MAX_TEXT and text.isprintable() else None


def _when(value: object, offset: object) -> datetime | None:
    """An EXIF time ("2021:07:14 18:02:33") as a datetime: with its offset ("+02:00") when given, else UTC."""
    text = _text(value)
    if text is None or (match := EXIF_TIME.match(text)) is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError:  # 0000:00:00, month 13, ...
        return None
    zone = UTC
    if (shift := _text(offset)) and (found := EXIF_OFFSET.match(shift)):
        sign, hours, minutes = found.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        if delta < timedelta(hours=15):
            zone = timezone(-delta if sign == "-" else delta)
    return storable(moment.replace(tzinfo=zone))


def storable(moment: datetime) -> datetime | None:
    """`moment` if Neo4j can keep it, else None. The driver sends a datetime as its instant in UTC
    (seconds since 1970) and its offset, converting through Python's years 1 to 9999: an instant in
    UTC outside them ("Ticks out of range", "Ordinal out of range") cannot be sent. The server takes
    wider years (±999,999,999) and offsets (±18:00) than EXIF can give, whole seconds here."""
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return None
    return moment
