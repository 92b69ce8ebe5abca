"""Decode image files and uploads into upright RGB pictures, or say in a few words why not.

Every image that reaches a model passes here, from a folder or from the app's uploader, so the
same checks apply everywhere: Pillow's pixel limit is an error (not a warning), EXIF rotation
is applied, and anything Pillow cannot read becomes an `UnreadableImage` with a reason.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from retrieval.errors import UnreadableImage

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
MAX_FILE_BYTES = 200 * 1024 * 1024


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


def decode(data: bytes, name: str) -> Image.Image:
    """Decode bytes into an upright RGB image (the first frame of an animation)."""
    if not data:
        raise UnreadableImage(name, "empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                return ImageOps.exif_transpose(img).convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise UnreadableImage(name, f"too many pixels for safe decoding ({e})") from e
    except UnidentifiedImageError as e:
        raise UnreadableImage(name, "not a recognised image format") from e
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise UnreadableImage(name, f"damaged or truncated image data ({e})") from e
    except MemoryError as e:
        raise UnreadableImage(name, "not enough memory to decode it") from e


def load_image(path: Path) -> Image.Image:
    return decode(read_file(path), str(path))
