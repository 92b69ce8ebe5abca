"""Decode image files and uploads into upright RGB pictures, or say in a few words why not.

Every image that reaches a model passes here, from a folder or from the app's uploader, so the
same checks apply everywhere: no more than Pillow's pixel limit (Image.MAX_IMAGE_PIXELS) is ever
decoded, counted after draft decoding (a 108 MP camera JPEG is decoded at 1/8 scale, so it passes),
EXIF rotation is applied, transparency is laid on white, 16-bit images are scaled (not clipped) to
8 bits, and anything Pillow cannot read becomes an `UnreadableImage` with a reason. With the pixel
limit, and preprocessing and thumbnails that work on a bounded size (preprocess.py), the memory a
picture costs is bounded whatever its shape (docs/RELIABILITY.md, "Memory per picture").

Formats: what Pillow reads itself (JPEG, PNG, WebP, BMP, GIF, TIFF, and AVIF through its libavif),
HEIC/HEIF (pillow-heif, libheif: the primary image of a multi-image file, 10- and 12-bit read as
8-bit, libheif's own security limits kept), JPEG XL (pillow-jxl-plugin), all under the same pixel
limit, and camera RAW (raw.py: its embedded preview, else a half-size decode, bounded the same way).
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pillow_heif
import pillow_jxl  # noqa: F401  (registers JPEG XL with Pillow)
from PIL import Image, ImageOps, UnidentifiedImageError

from retrieval.core.errors import UnreadableImage
from retrieval.vision.jxl import is_jxl, jxl_size
from retrieval.vision.preprocess import RESIZE
from retrieval.vision.raw import RAW_EXTENSIONS, decode_raw, is_raw

# Depth maps, auxiliary images (HDR gain maps) and thumbnails inside a HEIF are never read: the primary image is.
pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

PILLOW_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".avif"})
HEIF_EXTENSIONS = frozenset({".heic", ".heif", ".hif"})
IMAGE_EXTENSIONS = PILLOW_EXTENSIONS | HEIF_EXTENSIONS | {".jxl"} | RAW_EXTENSIONS
MAX_FILE_BYTES = 200 * 1024 * 1024
# Camera-sized JPEGs (short side >= DRAFT_FROM_SIDE) are decoded at 1/2, 1/4 or 1/8 scale (DCT
# scaling, "draft mode"), keeping the short side >= DRAFT_MIN_SIDE, twice the model's Resize(256).
# Much faster on camera photos, at a vector nearly the full decode's (docs/BENCHMARKS.md, "Figures behind
# rules in the code"). Smaller images are decoded whole, so their vectors are exactly the seed recipe's.
DRAFT_FROM_SIDE = 2048
DRAFT_MIN_SIDE = 512
# Pillow keeps a pointer (8 bytes, two RGB pixels' worth) per row besides the pixels, so a picture one
# pixel wide and millions high costs three times its pixels: the limit counts each row this much longer
# (the long side's rows, as EXIF rotation may turn a wide picture into a tall one).
ROW_COST = 2
ORIENTATION = 0x0112  # EXIF
# A progressive JPEG is decoded scan by scan, each a pass over the whole picture's coefficients, so its
# CPU cost grows with its scans, not its bytes: a 249 KB file whose last scan is repeated 5,000 times
# took 89 s. libjpeg's progressive script writes 10 scans for a colour photo (6 for a grey one), a
# baseline JPEG 1 (3 when not interleaved): past this many the file is refused before decoding.
MAX_JPEG_SCANS = 100
# A JPEG marker: 0xFF, then a byte that is none of a stuffed zero, a fill byte, TEM or a restart marker.
_JPEG_MARKER = re.compile(rb"\xff+([^\x00\x01\xd0-\xd7\xff])")
_SOS, _EOI = 0xDA, 0xD9


def decoded_cost(width: int, height: int) -> int:
    """What decoding a picture of this size holds, in RGB pixels, the measure of Pillow's pixel limit."""
    return width * height + ROW_COST * max(width, height)


@dataclass(frozen=True)
class Picture:
    """A decoded RGB image and the size of the original (larger than `image` when drafted)."""

    image: Image.Image
    width: int
    height: int


def read_file(path: Path) -> bytes:
    """The file's bytes, refusing empty, unreadable and oversized files before any decoding."""
    try:
        size = path.stat().st_size
        if size == 0:
            raise UnreadableImage(str(path), "empty file (0 bytes)")
        if size > MAX_FILE_BYTES:
            raise UnreadableImage(str(path), f"file too large ({size / 2**20:.0f} MiB, limit {MAX_FILE_BYTES // 2**20} MiB)")
        return path.read_bytes()
    except PermissionError as e:
        raise UnreadableImage(str(path), "permission denied") from e
    except FileNotFoundError as e:
        raise UnreadableImage(str(path), "file not found (a broken link?)") from e
    except IsADirectoryError as e:
        raise UnreadableImage(str(path), "a folder, not a file") from e
    except OSError as e:
        raise UnreadableImage(str(path), f"cannot read the file ({e.strerror or e})") from e


def decode_picture(data: bytes, name: str) -> Picture:
    """Decode bytes into an upright RGB picture (the first frame of an animation, the primary image of
    a HEIF); a camera RAW (told by its name) through raw.py, every other format through Pillow."""
    if not data:
        raise UnreadableImage(name, "empty file (0 bytes)")
    if is_raw(name):
        return _decode_raw(data, name)
    return _decode_with_pillow(data, name)


def _decode_with_pillow(data: bytes, name: str) -> Picture:
    if is_jxl(data):
        _check_jxl_size(data, name)
    try:
        with warnings.catch_warnings():
            # Pillow's warning counts the pixels before drafting; the limit is checked below, after it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                full_size = img.size
                if img.format in ("JPEG", "MPO"):
                    _refuse_many_scans(data, name)
                if img.format == "JPEG" and min(full_size) >= DRAFT_FROM_SIDE:
                    scale = min(full_size) / DRAFT_MIN_SIDE
                    img.draft(img.mode, (int(full_size[0] / scale), int(full_size[1] / scale)))
                _refuse_too_many_pixels(*img.size, name)
                img.load()
                shrink = full_size[0] / img.size[0]
                ImageOps.exif_transpose(img, in_place=True)
                rgb = _to_rgb(img)
    except Image.DecompressionBombError as e:
        raise UnreadableImage(name, f"too many pixels for safe decoding ({e})") from e
    except UnidentifiedImageError as e:
        raise UnreadableImage(name, _unidentified(data)) from e
    except (OSError, SyntaxError, ValueError, EOFError, RuntimeError) as e:  # RuntimeError: libjxl's and libheif's
        raise UnreadableImage(name, f"damaged or truncated image data ({str(e).strip()})") from e
    except MemoryError as e:
        raise UnreadableImage(name, "not enough memory to decode it") from e
    return Picture(rgb, round(rgb.width * shrink), round(rgb.height * shrink))


def _check_jxl_size(data: bytes, name: str) -> None:
    """A JPEG XL's pixel count from its header, before Pillow opens it (which decodes it all: jxl.py)."""
    if (size := jxl_size(data)) is None:
        raise UnreadableImage(name, "damaged or truncated JPEG XL data (no size in its header)")
    _refuse_too_many_pixels(*size, name)


def _refuse_too_many_pixels(width: int, height: int, name: str) -> None:
    if (limit := Image.MAX_IMAGE_PIXELS) is not None and decoded_cost(width, height) > limit:
        rule = f"limit {limit:,} pixels, each row of the long side counting {ROW_COST} more"
        raise UnreadableImage(name, f"too many pixels for safe decoding ({width} x {height}; {rule})")


def _unidentified(data: bytes) -> str:
    """Why Pillow found no format: a HEIF that libheif refused (its security limits: more than 1,000
    items, as a grid of thousands of tiles; a box claiming more than the file) says so in libheif's words."""
    if data[4:8] == b"ftyp" and pillow_heif.is_supported(data):
        try:
            pillow_heif.open_heif(data, convert_hdr_to_8bit=True)
        except (RuntimeError, ValueError) as e:
            return f"damaged or refused HEIF data (libheif: {str(e).strip()})"
    if data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis"):
        return "damaged or truncated AVIF data (libavif cannot read it)"
    return "not a recognised image format"


def _decode_raw(data: bytes, name: str) -> Picture:
    """A camera RAW: its embedded JPEG preview, decoded as any JPEG (draft mode, the pixel limit), when its
    short side is at least the model's Resize(RESIZE); else LibRaw's half-size decode. The size kept is the
    full sensor picture's, upright, as for a JPEG drafted smaller than the photo."""

    def preview(jpeg: bytes, flip: Image.Transpose | None, size: tuple[int, int]) -> Picture | None:
        try:
            with Image.open(io.BytesIO(jpeg)) as header:
                if min(header.size) < RESIZE:
                    return None
                oriented = header.getexif().get(ORIENTATION, 1) != 1
            image = _decode_with_pillow(jpeg, name).image
        except (UnreadableImage, Image.DecompressionBombError, OSError, SyntaxError, ValueError, EOFError):
            return None  # a damaged or hostile preview: the sensor data is read instead
        if flip is not None and not oriented:  # the preview is stored as the sensor lies; LibRaw says how to turn it
            image = image.transpose(flip)
        return Picture(image, *size)

    return decode_raw(data, name, preview, lambda image, size: Picture(image, *size), Image.MAX_IMAGE_PIXELS)


def jpeg_scans(data: bytes, limit: int = MAX_JPEG_SCANS) -> int:
    """How many scans (SOS segments) the first JPEG in `data` has, counted up to `limit` + 1 from its
    markers alone (nothing is decoded): each segment's declared length is skipped, so an EXIF thumbnail
    inside an APP segment is not counted; after a scan's header, its coded data runs to the next marker."""
    scans, position = 0, 2
    while scans <= limit and (marker := _JPEG_MARKER.search(data, position)) is not None:
        kind, position = marker[1][0], marker.end()
        if kind == _EOI:
            break
        if kind == _SOS:
            scans += 1
        position += int.from_bytes(data[position : position + 2], "big")
    return scans


def _refuse_many_scans(data: bytes, name: str) -> None:
    # Every scan starts with the bytes FF DA, which coded data never holds: their plain count, at memory
    # speed, bounds the scans from above, and only a file past the limit by it has its markers parsed.
    if data.count(b"\xff\xda") > MAX_JPEG_SCANS and jpeg_scans(data) > MAX_JPEG_SCANS:
        rule = f"more than {MAX_JPEG_SCANS}, each a pass over the whole picture; a photo has 1 to 10"
        raise UnreadableImage(name, f"too many JPEG scans for safe decoding ({rule})")


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        img = Image.fromarray(_eight_bits(img), "L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img if img.mode == "RGBA" else img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba)  # one RGB copy, not an RGBA composite and its conversion
        return background
    return img if img.mode == "RGB" else img.convert("RGB")


def _eight_bits(img: Image.Image) -> np.ndarray:
    """16-bit greyscale scaled to 8 bits (Pillow's own conversion clips everything above 255 to white),
    32-bit read as unsigned; the arrays of the steps are let go on return, before the RGB copy is made."""
    pixels = np.asarray(img)
    high = pixels >> 8 if pixels.dtype.itemsize == 2 else np.minimum(pixels.view(np.uint32) >> 8, 255)
    return high.astype(np.uint8)


def decode(data: bytes, name: str) -> Image.Image:
    return decode_picture(data, name).image


def load_image(path: Path) -> Image.Image:
    """The photo at `path`, upright RGB, as indexing reads it; an `UnreadableImage` says why it cannot be."""
    return decode(read_file(path), str(path))
