"""Small JPEG thumbnails, made once per file version and kept on disk, so a gallery never
re-decodes full-size originals on every page view."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from PIL import Image

from retrieval.core.errors import UnreadableImage
from retrieval.core.files import NOT_SHOWN, may_read
from retrieval.vision.decode import decode, read_file

THUMBNAIL_PIXELS = 320


def thumbnail(path: Path, cache_dir: Path, pixels: int = THUMBNAIL_PIXELS, *, roots: tuple[Path, ...] | None) -> Path:
    """Path of a thumbnail of `path` no larger than `pixels` on its long side, if `roots` let it be read
    (core/files.py, `may_read`: looked at before anything of the file is); raises UnreadableImage."""
    if not may_read(path, roots):
        raise UnreadableImage(str(path), NOT_SHOWN)
    target = thumbnail_file(path, cache_dir, pixels)
    if not target.exists():
        image = decode(read_file(path), str(path))
        image.thumbnail((pixels, pixels), Image.Resampling.LANCZOS)
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(image, target)
    return target


def thumbnail_file(path: Path, cache_dir: Path, pixels: int) -> Path:
    """Where the thumbnail of this version of `path` (its size and modification time) is kept in `cache_dir`."""
    stat = path.stat()
    key = hashlib.sha1(f"{path.absolute()}|{stat.st_size}|{stat.st_mtime_ns}|{pixels}".encode()).hexdigest()
    return cache_dir / key[:2] / f"{key}.jpg"


def _write_atomically(image: Image.Image, target: Path) -> None:
    """Write into a temporary file of this writer's own, then rename it over `target`: sessions drawing
    the same thumbnail at once never write into one file, and a reader never sees half of one."""
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=f"{target.stem}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as out:
            image.save(out, "JPEG", quality=85)
        os.replace(partial, target)
    except BaseException:
        os.unlink(partial)
        raise
