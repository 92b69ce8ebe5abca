"""Camera RAW files through LibRaw (rawpy): the camera's own embedded JPEG preview when it is large
enough for the model, else a half-size decode of the sensor data, each within the memory bound of
docs/RELIABILITY.md, and the EXIF a RAW carries (in its own TIFF directories, or in its preview).

A RAW holds the sensor's samples, one per pixel, which must be demosaiced into a picture; nearly
every camera also stores a JPEG it rendered itself (a "preview", often full size). The model sees
a picture scaled to a short side of 256 (preprocess.RESIZE), so a preview at least that large gives
what the model needs without the decode; digiKam and rclip read RAW the same way. Without one, LibRaw's
half-size decode (each 2 x 2 block of the sensor one pixel, no interpolation) is what is read; what it
holds is counted before the sensor data is unpacked.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TypeVar

import rawpy
from PIL import Image

from retrieval.core.errors import UnreadableImage

# The RAW types LibRaw reads that cameras write today; tests make DNG (PiDNG), the rest share LibRaw's path.
RAW_EXTENSIONS = frozenset(
    {".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf", ".rw2", ".rwl", ".pef", ".srw"}
    | {".3fr", ".iiq", ".erf", ".mrw", ".x3f"}
)
# LibRaw's half-size decode holds per sensor pixel its 16-bit sample, a 16-bit 4-channel half-size
# buffer (a quarter of the pixels) and the 8-bit RGB result (a quarter): about 5 bytes, against an
# RGB pixel's 3 in Pillow's limit.
RAW_BYTES_PER_PIXEL = 5
# LibRaw's orientation codes, as the Pillow transposition that turns the picture upright.
FLIPS = {3: Image.Transpose.ROTATE_180, 5: Image.Transpose.ROTATE_90, 6: Image.Transpose.ROTATE_270}
TIFF_HEADERS = (b"II*\x00", b"MM\x00*")

Decoded = TypeVar("Decoded")


def is_raw(name: str) -> bool:
    """Whether a file of this name is a camera RAW (by extension: LibRaw cannot be asked cheaply)."""
    return name.lower().endswith(tuple(RAW_EXTENSIONS))


def decode_raw(
    data: bytes,
    name: str,
    preview: Callable[[bytes, Image.Transpose | None, tuple[int, int]], Decoded | None],
    whole: Callable[[Image.Image, tuple[int, int]], Decoded],
    limit: int | None,
) -> Decoded:
    """A RAW file's picture: `preview(jpeg, flip, size)` of its embedded JPEG preview, or when that gives
    None (too small, or refused), `whole(half_size_rgb, size)` of LibRaw's half-size decode; `size` is the
    upright size of the full sensor picture. The half-size decode is refused when what it holds would pass
    `limit` RGB pixels (Pillow's limit), before the sensor data is read."""
    try:
        with rawpy.RawPy() as raw:
            raw.open_buffer(io.BytesIO(data))  # the header only
            sizes = raw.sizes
            size = (sizes.height, sizes.width) if sizes.flip in (5, 6) else (sizes.width, sizes.height)
            if (jpeg := _jpeg_preview(raw)) is not None and (picture := preview(jpeg, FLIPS.get(sizes.flip), size)):
                return picture
            cost = sizes.raw_width * sizes.raw_height * RAW_BYTES_PER_PIXEL // 3
            if limit is not None and cost > limit:
                raise UnreadableImage(
                    name,
                    f"too many pixels for safe decoding (a RAW of {sizes.raw_width} x {sizes.raw_height} without a usable "
                    f"preview; its decode would hold {cost:,} pixels' worth, limit {limit:,})",
                )
            raw.unpack()
            rgb = raw.postprocess(half_size=True, output_bps=8, use_camera_wb=True)
            return whole(Image.fromarray(rgb, "RGB"), size)
    except rawpy.LibRawError as e:
        raise UnreadableImage(name, f"damaged, truncated or unsupported RAW data ({_said(e)})") from e


def _jpeg_preview(raw: rawpy.RawPy) -> bytes | None:
    """The camera's embedded JPEG preview (the largest LibRaw finds), or None. LibRaw refuses a preview
    that claims to reach beyond the file, so it costs at most the file's own size."""
    try:
        thumb = raw.extract_thumb()
    except rawpy.LibRawError:
        return None
    return thumb.data if thumb.format == rawpy.ThumbFormat.JPEG and isinstance(thumb.data, bytes) else None


def raw_exif(data: bytes) -> Image.Exif | None:
    """The EXIF of a RAW file Pillow cannot open: from its own TIFF directories (DNG, CR2, NEF, ARW,
    PEF, SRW are TIFF inside), else from its embedded preview (RAF, CR3, RW2, ORF ...); None when neither."""
    if data[:4] in TIFF_HEADERS:
        exif = Image.Exif()
        try:
            exif.load(data)
            return exif
        except Exception:
            pass
    try:
        with rawpy.RawPy() as raw:
            raw.open_buffer(io.BytesIO(data))
            jpeg = _jpeg_preview(raw)
        if jpeg is None:
            return None
        with Image.open(io.BytesIO(jpeg)) as img:
            return img.getexif()
    except Exception:
        return None


def _said(error: rawpy.LibRawError) -> str:
    """LibRaw's message (rawpy gives it as bytes)."""
    said = error.args[0] if error.args else error
    return said.decode(errors="replace") if isinstance(said, bytes) else str(said)
