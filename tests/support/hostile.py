"""Makes a folder of awkward files, good and bad, from a real photo, for the indexing tests.

`make_corpus(folder)` returns the good files (which must end up indexed, one node each) and the
bad ones with a piece of the reason the indexer must give for skipping each.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

# Names a careless tool would paste into a query or a shell: quotes, spaces, unicode, Cypher.
TRICKY_NAMES = ["name with spaces.jpg", 'quote\'s "double".jpg', "ünïcödé 写真.jpg", "x'}) DETACH DELETE n --.jpg"]


def _jpeg(image: Image.Image, **save: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, **save)
    return out.getvalue()


def _png(image: Image.Image, **save: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", **save)
    return out.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels: enough for Pillow to refuse it as a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def make_corpus(folder: Path, photo: Path) -> tuple[list[Path], dict[Path, str]]:
    """Write the corpus into `folder`; returns (good files, {bad file: expected reason})."""
    folder.mkdir(parents=True, exist_ok=True)
    source = Image.open(photo).convert("RGB")
    small = source.resize((400, 300))
    jpeg = _jpeg(source)

    good_files: dict[str, bytes] = {
        "cmyk.jpg": _jpeg(small.convert("CMYK")),
        "sixteen_bit.png": _png(Image.fromarray(np.asarray(small.convert("L"), dtype=np.uint16) * 257)),
        "palette_transparent.png": _png(small.convert("P", palette=Image.Palette.ADAPTIVE), transparency=0),
        "greyscale.jpg": _jpeg(small.convert("L")),
        "animated.gif": _animated_gif(small),
        "rotated_exif.jpg": _jpeg(small, exif=_orientation(6)),
        "huge_photo.jpg": _jpeg(source.resize((6000, 4000))),  # 24 MP: legal, decoded in draft mode
        # A few bytes that Resize(256) alone would make gigabytes of (tests/test_picture_memory.py).
        "thin_1x20000.png": _png(source.resize((1, 20_000))),
        "flat_20000x1.png": _png(source.resize((20_000, 1))),
        "tiny_1x1.png": _png(source.resize((1, 1))),
        "formats/photo.webp": _encode(small, "WEBP"),
        "formats/photo.bmp": _encode(small, "BMP"),
        "formats/deeper/photo.tiff": _encode(small, "TIFF"),
        **{name: jpeg for name in TRICKY_NAMES},
    }
    bad_files: dict[str, tuple[bytes, str]] = {
        "zero_bytes.jpg": (b"", "empty file (0 bytes)"),
        "truncated.jpg": (jpeg[: len(jpeg) // 2], "damaged or truncated"),
        "truncated.png": (_png(small)[:3000], "damaged or truncated"),
        "random_bytes.jpg": (np.random.default_rng(0).bytes(20_000), "not a recognised image format"),
        "text.png": (b"I am a text file, not a picture.\n" * 20, "not a recognised image format"),
        "bomb.png": (_png_header_only(30_000, 30_000), "too many pixels"),
        "unreadable.jpg": (jpeg, "permission denied"),
    }
    good, bad = [], {}
    for name, data in good_files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
        good.append(folder / name)
    for name, (data, reason) in bad_files.items():
        (folder / name).write_bytes(data)
        bad[folder / name] = reason
    (folder / "unreadable.jpg").chmod(0)
    os.symlink(folder / "does-not-exist.jpg", folder / "broken_link.jpg")
    bad[folder / "broken_link.jpg"] = "broken symbolic link"
    (folder / "a_folder.jpg").mkdir()
    bad[folder / "a_folder.jpg"] = "a folder, not a file"
    (folder / "notes.txt").write_text("not an image extension: ignored, not reported")
    return good, bad


def taken_at(photo: Path, when: str, offset: str) -> bytes:
    """`photo` as a JPEG whose EXIF says it was taken at `when` ("2021:07:14 18:02:33") with `offset` ("+02:00")."""
    exif = Image.Exif()
    exif.get_ifd(0x8769).update({0x9003: when, 0x9011: offset})  # DateTimeOriginal, OffsetTimeOriginal
    return _jpeg(Image.open(photo).convert("RGB").resize((400, 300)), exif=exif)


def many_scans_jpeg(picture: Image.Image, repeats: int) -> bytes:
    """A progressive JPEG of `picture` whose last scan is written `repeats` times: of a flat picture,
    a few bytes each, and a decoder that takes them all makes that many more passes over the picture."""
    data = _jpeg(picture.convert("RGB"), progressive=True)
    last, end = data.rindex(b"\xff\xda"), data.rindex(b"\xff\xd9")
    return data[:end] + data[last:end] * (repeats - 1) + data[end:]


def _encode(image: Image.Image, kind: str) -> bytes:
    out = io.BytesIO()
    image.save(out, kind)
    return out.getvalue()


def _orientation(value: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif


def _animated_gif(image: Image.Image) -> bytes:
    out = io.BytesIO()
    frames = [image, image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()
