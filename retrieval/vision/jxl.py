"""JPEG XL headers, read without decoding. pillow-jxl-plugin decodes the whole picture as soon as a
file is opened, before Pillow's pixel limit or ours is checked: a 14 KB file claiming 12,000 x 12,000
pixels cost 1 GB and 2 s that way. So a JPEG XL's size is read here from its codestream's SizeHeader
(ISO/IEC 18181-1, section D.2) and checked before Pillow sees the file, and its EXIF is read from the
container's `Exif` box (18181-2), so reading a file's facts never decodes it."""

from __future__ import annotations

from collections.abc import Iterator

CODESTREAM = b"\xff\x0a"
CONTAINER = b"\x00\x00\x00\x0cJXL \r\n\x87\n"
HEADER_BYTES = 2 + 9  # the signature, then a SizeHeader of at most 1 + 2 x (2 + 30) + 3 bits
MAX_BOXES = 1000  # a real file has a handful: the walk through a hostile one stays short
TIFF = (b"II*\x00", b"MM\x00*")  # a TIFF header's first bytes, little- and big-endian
RATIOS = {1: (1, 1), 2: (12, 10), 3: (4, 3), 4: (3, 2), 5: (16, 9), 6: (5, 4), 7: (2, 1)}  # width : height


def is_jxl(data: bytes) -> bool:
    return data.startswith(CODESTREAM) or data.startswith(CONTAINER)


def jxl_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) as the file's SizeHeader declares them, or None if it has none that can be read."""
    stream = _codestream(data)
    if stream is None or not stream.startswith(CODESTREAM):
        return None
    bits = _Bits(stream[2:HEADER_BYTES])
    try:
        small = bits.read(1)
        height = _dimension(bits, small)
        ratio = bits.read(3)
        if ratio:
            wide, high = RATIOS[ratio]
            return height * wide // high, height
        return _dimension(bits, small), height
    except IndexError:  # the header ends too soon
        return None


def jxl_exif(data: bytes) -> bytes | None:
    """The TIFF data of the container's `Exif` box (its first 4 bytes give the offset to it, though
    some writers, pillow-jxl-plugin among them, start the TIFF data at once), or None."""
    for kind, payload in _boxes(data):
        if kind == b"Exif" and len(payload) >= 4:
            if payload[:4] in TIFF:
                return payload
            return payload[4 + int.from_bytes(payload[:4], "big") :]
    return None


def _dimension(bits: _Bits, small: int) -> int:
    if small:
        return (bits.read(5) + 1) * 8
    return 1 + bits.read((9, 13, 18, 30)[bits.read(2)])


def _codestream(data: bytes) -> bytes | None:
    """The codestream's start, HEADER_BYTES of it at least where the file has them: the file itself, or
    the container's `jxlc` box, or its `jxlp` boxes joined (each after its 4-byte index; a writer may
    split the codestream anywhere, pillow-jxl-plugin 5 bytes in)."""
    if data.startswith(CODESTREAM):
        return data
    parts: list[bytes] = []
    for kind, payload in _boxes(data):
        if kind == b"jxlc":
            return payload
        if kind == b"jxlp":
            parts.append(payload[4:])
            if sum(map(len, parts)) >= HEADER_BYTES:
                break
    return b"".join(parts) if parts else None


def _boxes(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The container's boxes, (type, payload), up to MAX_BOXES; a bare codestream has none."""
    if not data.startswith(CONTAINER):
        return
    position = 0
    for _ in range(MAX_BOXES):
        if position + 8 > len(data):
            return
        size, kind, start = int.from_bytes(data[position : position + 4], "big"), data[position + 4 : position + 8], position + 8
        if size == 1:  # a 64-bit size follows the type
            size, start = int.from_bytes(data[start : start + 8], "big"), start + 8
        end = len(data) if size == 0 else position + size  # 0: to the end of the file
        if end < start:
            return  # a size smaller than its own header: damaged
        yield kind, data[start:end]
        position = end


class _Bits:
    """Bits read least significant first, as JPEG XL packs them."""

    def __init__(self, data: bytes) -> None:
        self.data, self.position = data, 0

    def read(self, count: int) -> int:
        value = 0
        for i in range(count):
            value |= ((self.data[self.position >> 3] >> (self.position & 7)) & 1) << i
            self.position += 1
        return value
