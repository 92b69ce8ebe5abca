"""A camera roll's formats, decoded like a JPEG: HEIC, AVIF, JPEG XL and camera RAW (DNG made by PiDNG),
upright, with their size and EXIF facts; a RAW through its embedded preview when that is large enough for
the model, else a half-size decode; the primary image of a multi-image HEIC; 10-bit and 16-bit pictures
scaled, not clipped. And each new decoder within the memory bound of docs/RELIABILITY.md: files that claim
200 megapixels, truncated ones, a huge embedded preview, a HEIC grid of thousands of tiles, refused with
their reason (or read another bounded way) before they cost the memory, each measured in a process of its own."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from PIL import Image

from retrieval.core.errors import UnreadableImage
from retrieval.vision.decode import decode_picture, read_file
from retrieval.vision.facts import read_facts
from retrieval.vision.preprocess import RESIZE
from retrieval.vision.raw import RAW_BYTES_PER_PIXEL
from tests.support.formats import (
    claiming,
    dng_claiming,
    exif_bytes,
    heic_grid,
    heif_claiming,
    jpeg_of,
    save_as,
    write_dng,
)
from tests.support.paths import DEMO_IMAGES
from tests.support.pictures import picture_cost

MIB = 2**20
SMALL = 32 * MIB  # as tests/test_picture_memory.py: what a picture of few pixels costs
BOUND = 1024 * MIB  # docs/RELIABILITY.md, "Memory per picture"
TAKEN = datetime(2021, 7, 14, 18, 2, 33, tzinfo=UTC)
LIBHEIFS_LIMIT = "damaged or refused HEIF data (libheif: Memory allocation error: Security limit exceeded"


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    with Image.open(DEMO_IMAGES / "car_ferrari_red_01.jpg") as img:
        return img.convert("RGB").resize((480, 320))


def decoded(path: Path):
    return decode_picture(read_file(path), str(path))


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a.resize(b.size), np.float32) - np.asarray(b, np.float32)).mean())


@pytest.mark.parametrize("extension", [".heic", ".avif", ".jxl"])
def test_heic_avif_and_jpeg_xl_decode_like_the_photo_with_their_size_and_exif_facts(tmp_path, photo, extension):
    path = save_as(photo, tmp_path / f"photo{extension}", exif_bytes("Apple", "iPhone 12", TAKEN), quality=90)
    picture = decoded(path)
    assert (picture.width, picture.height) == (480, 320) and picture.image.mode == "RGB"
    assert mean_difference(picture.image, photo) < 6  # the same picture, through a lossy codec
    facts = read_facts(path.read_bytes())
    assert (facts.get("camera"), facts.get("taken")) == ("Apple iPhone 12", TAKEN)


def test_a_raw_is_read_through_its_embedded_preview_with_the_sensors_size_and_the_cameras_facts(tmp_path, photo):
    path = write_dng(tmp_path / "IMG_1.dng", (600, 400), preview=jpeg_of(photo), make="NIKON CORPORATION", model="NIKON D750")
    picture = decoded(path)
    assert (picture.width, picture.height) == (600, 400)  # the sensor's picture, as a JPEG drafted smaller keeps its size
    assert picture.image.size == (480, 320) and mean_difference(picture.image, photo) < 6  # the camera's rendering
    assert read_facts(path.read_bytes()).get("camera") == "NIKON D750"


def test_a_raw_whose_preview_is_smaller_than_the_models_resize_is_decoded_at_half_size(tmp_path, photo):
    small = jpeg_of(photo, (RESIZE * 3 // 2, RESIZE - 1))
    path = write_dng(tmp_path / "IMG_2.dng", (600, 400), preview=small, taken=datetime(2020, 1, 2, 3, 4, 5))
    picture = decoded(path)
    assert (picture.width, picture.height) == (600, 400)
    assert picture.image.size == (300, 200) and picture.image.mode == "RGB"  # LibRaw's half size, not the preview
    facts = read_facts(path.read_bytes())
    assert (facts.get("camera"), facts.get("taken")) == ("Canon EOS R5", datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC))


def test_a_raw_without_a_preview_is_decoded_at_half_size_and_turned_upright(tmp_path):
    path = write_dng(tmp_path / "IMG_3.dng", (600, 400), orientation=6)  # the camera held upright: 90 degrees clockwise
    picture = decoded(path)
    assert (picture.width, picture.height) == (400, 600)
    assert picture.image.size == (200, 300)


def test_a_multi_image_heic_gives_its_primary_image(tmp_path):
    colours = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]  # a burst, the second marked primary
    images = [Image.new("RGB", (64, 48), colour) for colour in colours]
    path = tmp_path / "burst.heic"
    images[0].save(path, "HEIF", save_all=True, append_images=images[1:], primary_index=1, quality=90)
    assert len(pillow_heif.open_heif(path)) == 3
    pixel = decoded(path).image.getpixel((32, 24))
    assert np.abs(np.subtract(pixel, colours[1])).max() < 16


def test_ten_bit_heic_and_sixteen_bit_pictures_are_scaled_to_eight_bits_not_clipped(tmp_path, photo):
    wide = np.asarray(photo, np.uint16) * 257  # the same picture in 16 bits per channel
    heif = pillow_heif.from_bytes(mode="RGB;16", size=photo.size, data=wide.tobytes())
    heif.save(tmp_path / "hdr.heic", quality=90, save_to_12bit=False)
    assert pillow_heif.open_heif(tmp_path / "hdr.heic", convert_hdr_to_8bit=False).info["bit_depth"] == 10
    assert mean_difference(decoded(tmp_path / "hdr.heic").image, photo) < 6
    grey = Image.fromarray(np.asarray(photo.convert("L"), np.uint16) * 257)  # a 16-bit greyscale PNG
    grey.save(tmp_path / "grey16.png")
    assert mean_difference(decoded(tmp_path / "grey16.png").image.convert("L"), photo.convert("L")) < 1


# What each hostile file is, and how it ends: refused with the reason's start, or "handled" another bounded way.
def hostile_files(folder: Path, photo: Image.Image) -> dict[str, tuple[Path, str]]:
    heic = save_as(photo, folder / "photo.heic", quality=60)
    avif = save_as(photo, folder / "photo.avif", quality=60)
    jxl = save_as(photo, folder / "photo.jxl", quality=60)
    dng = write_dng(folder / "photo.dng", (600, 400), preview=jpeg_of(photo))
    truncated = {}
    for path in (heic, avif, jxl, dng):
        cut = folder / f"truncated{path.suffix}"
        cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        truncated[f"truncated {path.suffix}"] = (cut, "damaged")
    return {
        "heic claiming 200 MP": (heif_claiming(save_as(photo, folder / "big.heic"), 16_384, 12_288), "too many pixels"),
        "avif claiming 200 MP": (heif_claiming(save_as(photo, folder / "big.avif"), 16_384, 12_288), "too many pixels"),
        "dng claiming 200 MP": (dng_claiming(write_dng(folder / "big.dng", (400, 300)), 16_384, 12_288), "too many pixels"),
        "dng with a preview claiming 65,000 x 65,000": (
            write_dng(folder / "huge_preview.dng", (600, 400), preview=claiming(jpeg_of(photo), 65_000, 65_000)),
            "handled",
        ),
        "heic grid of 2,048 tiles": (heic_grid(folder / "grid.heic", (1024, 512), 16), LIBHEIFS_LIMIT),
        **truncated,
    }


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, photo) -> dict[str, tuple[Path, str]]:
    return hostile_files(tmp_path_factory.mktemp("hostile"), photo)


@pytest.mark.parametrize(
    "name",
    [
        "heic claiming 200 MP",
        "avif claiming 200 MP",
        "dng claiming 200 MP",
        "dng with a preview claiming 65,000 x 65,000",
        "heic grid of 2,048 tiles",
        "truncated .heic",
        "truncated .avif",
        "truncated .jxl",
        "truncated .dng",
    ],
)
def test_a_hostile_heic_avif_jxl_or_raw_is_refused_with_its_reason_before_it_costs_the_memory(hostile, name):
    path, expected = hostile[name]
    cost = picture_cost(path)
    outcome = str(cost["outcome"])
    if expected == "handled":
        assert outcome == "handled"
    else:
        assert outcome != "handled" and outcome.startswith(expected), outcome
    assert cost["extra_bytes"] < SMALL, f"{cost['extra_bytes'] / MIB:.0f} MiB"


def test_a_raw_claiming_200_megapixels_is_refused_before_its_sensor_data_is_read(hostile):
    with pytest.raises(UnreadableImage, match=r"a RAW of 16384 x 12288 without a usable preview"):
        decoded(hostile["dng claiming 200 MP"][0])


def test_a_raw_at_the_limit_without_a_preview_is_decoded_at_half_size_within_the_memory_bound(tmp_path):
    width, height = 8460, 6344  # 53.7 MP of sensor data, 102 MiB: the most the half-size decode takes
    assert width * height * RAW_BYTES_PER_PIXEL // 3 <= Image.MAX_IMAGE_PIXELS < width * (height + 2) * RAW_BYTES_PER_PIXEL // 3
    cost = picture_cost(write_dng(tmp_path / "limit.dng", (width, height)))
    assert cost["outcome"] == "handled"
    assert cost["extra_bytes"] < BOUND, f"{cost['extra_bytes'] / MIB:.0f} MiB"


def box(kind: bytes, payload: bytes) -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


def test_a_jpeg_xl_whose_codestream_is_split_into_small_boxes_is_read_with_its_size(tmp_path, photo):
    # A container may cut the codestream anywhere (ISO/IEC 18181-2 `jxlp` boxes): here 3 bytes, then 2,
    # so its SizeHeader spans three boxes. The last box's index has its top bit set.
    stream = save_as(photo, tmp_path / "bare.jxl", quality=90).read_bytes()
    assert stream.startswith(b"\xff\x0a")
    parts = [stream[:3], stream[3:5], stream[5:]]
    container = b"\x00\x00\x00\x0cJXL \r\n\x87\n" + box(b"ftyp", b"jxl \x00\x00\x00\x00jxl ")
    for index, part in enumerate(parts):
        container += box(b"jxlp", (index | (0x80000000 if index == len(parts) - 1 else 0)).to_bytes(4, "big") + part)
    picture = decode_picture(container, "split.jxl")
    assert (picture.width, picture.height) == (480, 320) and mean_difference(picture.image, photo) < 6
