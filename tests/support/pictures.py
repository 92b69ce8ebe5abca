"""Pictures of extreme shapes, and the peak memory the library's handling of one costs, measured in
a process of its own (the tests' own process has held larger things before)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

from tests.support.paths import PROJECT

# PNG colour type, bit depth and bytes per pixel of each mode written
PNG_MODES = {"L": (0, 8, 1), "I;16": (0, 16, 2), "RGB": (2, 8, 3), "RGBA": (6, 8, 4)}


def write_png(path: Path, width: int, height: int, mode: str = "RGB", value: int = 90) -> Path:
    """A PNG of one colour, complete and valid, of any size for its few kilobytes: the rows are deflated
    a block at a time, each block ended by a full flush (which empties the compressor's window, so the
    next identical block deflates to the same bytes), so one block is compressed and its bytes repeated;
    zlib's checksum of all the rows is combined from the block's, as zlib's adler32_combine does."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    colour_type, depth, size = PNG_MODES[mode]
    row = b"\0" + bytes([value]) * (width * size)
    per_block = min(height, max(1, 2**22 // len(row)))
    blocks, rest = divmod(height, per_block)
    block = row * per_block
    deflated = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: the zlib header and checksum are written here
    repeated = deflated.compress(block) + deflated.flush(zlib.Z_FULL_FLUSH)
    tail = deflated.compress(row * rest) + deflated.flush()
    checksum = _adler32_repeated(zlib.adler32(block), len(block), blocks)
    checksum = _adler32_combine(checksum, zlib.adler32(row * rest), len(row) * rest)
    data = b"\x78\xda" + repeated * blocks + tail + struct.pack(">I", checksum)
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


ADLER_BASE = 65521


def _adler32_combine(first: int, second: int, second_length: int) -> int:
    """The Adler-32 of two byte strings one after the other, from each one's and the second's length (zlib's adler32_combine)."""
    rem = second_length % ADLER_BASE
    low = (first & 0xFFFF) + (second & 0xFFFF) + ADLER_BASE - 1
    high = (rem * (first & 0xFFFF) + (first >> 16) + (second >> 16) + ADLER_BASE - rem) % ADLER_BASE
    return (high << 16) | (low % ADLER_BASE)


def _adler32_repeated(checksum: int, length: int, times: int) -> int:
    """The Adler-32 of a byte string repeated `times` times, from its own and its length, by doubling."""
    total, doubled, doubled_length = 1, checksum, length  # 1: the checksum of nothing
    while times:
        if times & 1:
            total = _adler32_combine(total, doubled, doubled_length)
        doubled, doubled_length, times = _adler32_combine(doubled, doubled, doubled_length), 2 * doubled_length, times >> 1
    return total


# Run in a fresh interpreter: what indexing (decode_picture, preprocess), searching (load_image, a box
# of it, preprocess) and the app's gallery (thumbnail) do with one file, and the peak RSS they reach.
_HANDLE_ONE = """
import json, sys, tempfile
from pathlib import Path
from retrieval.core.errors import UnreadableImage
from retrieval.region import Box
from retrieval.vision.decode import decode_picture, load_image, read_file
from retrieval.vision.models import IMAGENET_MEAN, IMAGENET_STD
from retrieval.vision.preprocess import Preprocess
from retrieval.vision.thumbnails import thumbnail

def high_water():  # bytes; this process's own (ru_maxrss would count what the parent held when it forked)
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) * 1024

before = high_water()
path, preprocess, outcome = Path(sys.argv[1]), Preprocess(IMAGENET_MEAN, IMAGENET_STD), "handled"
try:
    picture = decode_picture(read_file(path), str(path))
    shapes = [preprocess(picture.image).shape]
    del picture
    image = load_image(path)
    box = Box(0, 0, max(image.width // 2, 8), max(image.height // 2, 8)) if min(image.size) >= 16 else None
    shapes += [preprocess(box.crop(image) if box else image).shape]
    del image
    with tempfile.TemporaryDirectory() as cache:
        thumbnail(path, Path(cache), roots=None)
    assert shapes == [(3, 224, 224)] * 2, shapes
except UnreadableImage as e:
    outcome = e.reason
after = high_water()
print(json.dumps({"outcome": outcome, "extra_bytes": after - before, "peak_bytes": after}))
"""


def picture_cost(path: Path) -> dict[str, object]:
    """{outcome: "handled" or the reason it was refused, extra_bytes: peak RSS above the process's
    start, peak_bytes} for indexing, searching (with a box) and thumbnailing `path`."""
    done = subprocess.run(
        [sys.executable, "-c", _HANDLE_ONE, str(path)], cwd=PROJECT, capture_output=True, text=True, check=True, timeout=600
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result
