"""What an image file says about itself, besides its pixels: the facts declared in core/facts.py
(when it was taken, with which camera, ...), read from its EXIF header only, so an image whose vector
is current gets them without decoding (a camera RAW's from its own TIFF directories or its embedded
preview, raw.py)."""

from __future__ import annotations

import io

from PIL import Image

from retrieval.core.facts import EXIF_IFD, FACTS, IFD0, Value
from retrieval.vision.jxl import is_jxl, jxl_exif
from retrieval.vision.raw import raw_exif

Facts = dict[str, Value]  # each fact the file says, by name (those it does not say are left out)


def read_facts(data: bytes) -> Facts:
    """The declared facts in an image file's EXIF, from its header (the pixels are not decoded)."""
    if (exif := _exif(data)) is None:
        return {}
    try:
        inner = exif.get_ifd(EXIF_IFD)
    except Exception:
        inner = {}
    directories = {IFD0: exif, EXIF_IFD: inner}
    found = {fact.name: fact.read(*(directories[tag.ifd].get(tag.number) for tag in fact.tags)) for fact in FACTS}
    return {name: value for name, value in found.items() if value is not None}


def _exif(data: bytes) -> Image.Exif | None:
    if is_jxl(data):  # pillow-jxl-plugin would decode the whole picture to open it (jxl.py)
        exif = Image.Exif()
        if (tiff := jxl_exif(data)) is not None:
            try:
                exif.load(tiff)
            except Exception:
                return None
        return exif
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.getexif()
    except Exception:
        return raw_exif(data)  # a camera RAW Pillow cannot open
