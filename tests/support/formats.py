"""Real files of the formats a camera roll holds, made from a photo by the test: HEIC (pillow-heif,
libheif's x265), AVIF (Pillow's libavif), JPEG XL (pillow-jxl-plugin), DNG (PiDNG, with or without an
embedded JPEG preview), and the hostile ones: a file that claims more pixels than it holds, a HEIC grid
of thousands of tiles."""

from __future__ import annotations

import io
import struct
from datetime import datetime
from pathlib import Path

import numpy as np
import pillow_heif
import pillow_jxl  # noqa: F401  (registers JPEG XL with Pillow, for writing)
from pidng.core import RAW2DNG, DNGTags, Tag
from pidng.defs import CalibrationIlluminant, CFAPattern, DNGVersion, Orientation, PhotometricInterpretation
from PIL import Image
from pillow_heif.constants import HeifCompressionFormat
from pillow_heif.misc import CtxEncode

MAKE, MODEL, DATE_TIME, EXIF_IFD, DATE_TIME_ORIGINAL = 0x010F, 0x0110, 0x0132, 0x8769, 0x9003
pillow_heif.register_heif_opener()


def exif_bytes(make: str, model: str, taken: datetime) -> bytes:
    exif = Image.Exif()
    exif[MAKE], exif[MODEL], exif[DATE_TIME] = make, model, taken.strftime("%Y:%m:%d %H:%M:%S")
    exif.get_ifd(EXIF_IFD)[DATE_TIME_ORIGINAL] = taken.strftime("%Y:%m:%d %H:%M:%S")
    return exif.tobytes()


def save_as(photo: Image.Image, path: Path, exif: bytes = b"", **options: object) -> Path:
    """`photo` written at `path` in the format its extension names (HEIC, AVIF, JXL, JPEG, ...)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    kind = {".heic": "HEIF", ".avif": "AVIF", ".jxl": "JXL"}.get(path.suffix.lower())
    photo.convert("RGB").save(path, kind, **({"exif": exif} if exif else {}), **options)
    return path


def write_dng(
    path: Path,
    size: tuple[int, int] = (400, 300),
    *,
    preview: bytes | None = None,
    make: str = "Canon",
    model: str = "Canon EOS R5",
    taken: datetime | None = None,
    orientation: int = Orientation.Horizontal,
) -> Path:
    """A DNG whose sensor data is `size` (an RGGB mosaic, 16-bit, made from noise), with `preview` (a JPEG)
    as a reduced-resolution image chained after the main one, as cameras store theirs."""
    width, height = size
    mosaic = (np.random.default_rng(7).random((height, width)) * 4095).astype(np.uint16)
    tags = DNGTags()
    for tag, value in [
        (Tag.ImageWidth, width),
        (Tag.ImageLength, height),
        (Tag.TileWidth, width),
        (Tag.TileLength, height),
        (Tag.Orientation, orientation),
        (Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array),
        (Tag.SamplesPerPixel, 1),
        (Tag.BitsPerSample, 16),
        (Tag.CFARepeatPatternDim, [2, 2]),
        (Tag.CFAPattern, CFAPattern.RGGB),
        (Tag.BlackLevel, 0),
        (Tag.WhiteLevel, 4095),
        (Tag.ColorMatrix1, [[1, 1], [0, 1], [0, 1], [0, 1], [1, 1], [0, 1], [0, 1], [0, 1], [1, 1]]),
        (Tag.CalibrationIlluminant1, CalibrationIlluminant.D65),
        (Tag.AsShotNeutral, [[1, 1], [1, 1], [1, 1]]),
        (Tag.Make, make),
        (Tag.Model, model),
        (Tag.DNGVersion, DNGVersion.V1_4),
        (Tag.DNGBackwardVersion, DNGVersion.V1_2),
    ]:
        tags.set(tag, value)
    if taken is not None:
        tags.set(Tag.DateTime, taken.strftime("%Y:%m:%d %H:%M:%S"))
    writer = RAW2DNG()
    writer.options(tags, path="", compress=False)
    data = bytes(writer.convert(mosaic))
    if preview is not None:
        data = _with_preview(data, preview)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _with_preview(dng: bytes, jpeg: bytes) -> bytes:
    """`dng` with an IFD of the JPEG `jpeg` (NewSubFileType 1: reduced resolution) chained after its first."""
    at = jpeg.index(b"\xff\xc0")  # the frame header (baseline): its size, as it claims it
    height, width = struct.unpack_from(">HH", jpeg, at + 5)
    buf = bytearray(dng)
    (first,) = struct.unpack_from("<I", buf, 4)
    (count,) = struct.unpack_from("<H", buf, first)
    next_at = first + 2 + 12 * count
    buf += b"\0" * (-len(buf) % 4)
    jpeg_at = len(buf)
    buf += jpeg + b"\0" * (-len(jpeg) % 4)
    ifd_at = len(buf)
    long, short = 4, 3
    entries = [(254, long, 1), (256, long, width), (257, long, height), (259, short, 7), (262, short, 6)]
    entries += [(273, long, jpeg_at), (277, short, 3), (279, long, len(jpeg))]
    buf += struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        buf += struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", value, 0) if kind == short else struct.pack("<I", value))
    buf += struct.pack("<I", 0)
    struct.pack_into("<I", buf, next_at, ifd_at)
    return bytes(buf)


def jpeg_of(photo: Image.Image, size: tuple[int, int] | None = None, quality: int = 85) -> bytes:
    out = io.BytesIO()
    (photo.resize(size) if size else photo).convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def claiming(jpeg: bytes, width: int, height: int) -> bytes:
    """A JPEG whose frame header claims `width` x `height` (its data is the smaller picture's)."""
    data = bytearray(jpeg)
    at = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, at + 5, height, width)
    return bytes(data)


def heif_claiming(path: Path, width: int, height: int) -> Path:
    """A HEIC or AVIF file rewritten so that its every image-size property (ispe) claims `width` x `height`."""
    data = bytearray(path.read_bytes())
    at = data.find(b"ispe")
    while at != -1:
        struct.pack_into(">II", data, at + 8, width, height)  # after the box type: version and flags, then the size
        at = data.find(b"ispe", at + 4)
    path.write_bytes(bytes(data))
    return path


def dng_claiming(path: Path, width: int, height: int) -> Path:
    """A DNG rewritten so that its main image claims `width` x `height` (its data is the smaller one's)."""
    data = bytearray(path.read_bytes())
    (first,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, first)
    for entry in range(count):
        at = first + 2 + 12 * entry
        (tag,) = struct.unpack_from("<H", data, at)
        if tag in (256, 322):  # ImageWidth, TileWidth
            struct.pack_into("<I", data, at + 8, width)
        elif tag in (257, 323):  # ImageLength, TileLength
            struct.pack_into("<I", data, at + 8, height)
    path.write_bytes(bytes(data))
    return path


def heic_grid(path: Path, size: tuple[int, int], tile: int) -> Path:
    """A HEIC of one grid of `tile`-pixel tiles, as phones write (512-pixel tiles), but of any count:
    pillow-heif refuses to write more than the 1,000 items libheif reads by default, which is the point."""
    encoder = CtxEncode(HeifCompressionFormat.HEVC, quality=30)
    encoder._items_count = -1_000_000  # the writer's own count of items, checked against 1,000
    encoder.add_image(size, "RGB", Image.new("RGB", size, (120, 30, 200)).tobytes(), tile_size=tile)
    out = io.BytesIO()
    encoder.save(out)
    path.write_bytes(out.getvalue())
    return path
