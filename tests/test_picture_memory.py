"""Any picture, of any shape, is indexed, searched (with a box too) and thumbnailed within a fixed
memory bound, or refused with its reason before it is decoded; a camera's 108 MP photo is neither
refused nor costly. Each picture is handled in a process of its own, whose peak RSS is measured."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from retrieval.vision.decode import ROW_COST, decode_picture, read_file
from tests.support.paths import DEMO_IMAGES
from tests.support.pictures import picture_cost, write_png

MIB = 2**20
BOUND = 1024 * MIB  # docs/RELIABILITY.md, "Memory per picture": above the process's own, whatever the shape
SMALL = 32 * MIB  # a picture of few pixels costs what a small photo does, whatever its shape
TALLEST = Image.MAX_IMAGE_PIXELS // (1 + ROW_COST)  # one pixel wide: the most rows the limit allows
SIDE = 9458  # the largest square within the limit

SHAPES = {
    "1x60000": (1, 60_000, "RGB", SMALL),
    "60000x1": (60_000, 1, "RGB", SMALL),
    "1x1": (1, 1, "RGB", SMALL),
    "3x2": (3, 2, "RGBA", SMALL),
    "1x8000 16-bit": (1, 8_000, "I;16", SMALL),
    "tallest": (1, TALLEST, "L", BOUND),
    "widest": (TALLEST, 1, "RGBA", BOUND),
    "largest square RGBA": (SIDE, SIDE, "RGBA", BOUND),
    "largest square 16-bit": (SIDE, SIDE, "I;16", BOUND),
}


@pytest.mark.parametrize(("width", "height", "mode", "bound"), SHAPES.values(), ids=SHAPES.keys())
def test_a_picture_of_any_shape_is_handled_within_the_memory_bound(tmp_path, width, height, mode, bound):
    cost = picture_cost(write_png(tmp_path / "picture.png", width, height, mode))
    assert cost["outcome"] == "handled"
    assert cost["extra_bytes"] < bound, f"{cost['extra_bytes'] / MIB:.0f} MiB"


@pytest.mark.parametrize(("width", "height"), [(1, TALLEST + 1), (SIDE + 1, SIDE), (100_000, 100_000)])
def test_a_picture_beyond_the_limit_is_refused_before_it_is_decoded(tmp_path, width, height):
    cost = picture_cost(write_png(tmp_path / "picture.png", width, height, "L"))
    assert str(cost["outcome"]).startswith("too many pixels for safe decoding")
    assert cost["extra_bytes"] < SMALL


@pytest.fixture(scope="module")
def phone_photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 108 MP JPEG (12000 x 9000) of a real photo, a few megabytes, as a phone's camera makes."""
    path = tmp_path_factory.mktemp("phone") / "108mp.jpg"
    with Image.open(DEMO_IMAGES / "car_ferrari_red_01.jpg") as photo:
        photo.convert("RGB").resize((12_000, 9_000)).save(path, quality=80)
    return path


def test_a_108_megapixel_phone_photo_is_decoded_in_draft_mode_not_refused(phone_photo):
    assert Image.MAX_IMAGE_PIXELS < 12_000 * 9_000  # Pillow's own check would call it a bomb
    picture = decode_picture(read_file(phone_photo), "108mp.jpg")
    assert (picture.width, picture.height) == (12_000, 9_000)
    assert max(picture.image.size) <= 12_000 // 4  # decoded at a fraction of its size
    cost = picture_cost(phone_photo)
    assert cost["outcome"] == "handled"
    assert cost["extra_bytes"] < 4 * SMALL, f"{cost['extra_bytes'] / MIB:.0f} MiB"


def test_a_jpeg_xl_beyond_the_limit_is_refused_from_its_header_before_it_is_decoded(tmp_path):
    # pillow-jxl-plugin decodes a JPEG XL whole as Pillow opens it: 9,500 x 9,500 grey, a 10 KB file.
    Image.new("L", (9_500, 9_500), 128).save(path := tmp_path / "picture.jxl", quality=50, effort=1)
    cost = picture_cost(path)
    assert str(cost["outcome"]).startswith("too many pixels for safe decoding (9500 x 9500;")
    assert cost["extra_bytes"] < SMALL, f"{cost['extra_bytes'] / MIB:.0f} MiB"
