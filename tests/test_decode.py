"""Decoding gives upright RGB pictures, and a reason instead of a crash for anything else."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from retrieval.core.errors import UnreadableImage
from retrieval.vision.decode import decode, load_image
from tests.support.paths import DEMO_IMAGES

PHOTO = DEMO_IMAGES / "car_ferrari_red_01.jpg"


def jpeg_bytes(image: Image.Image, **save_args: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", **save_args)
    return out.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_exif_rotation_is_applied():
    photo = Image.open(PHOTO)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the camera was turned; show rotated 90 degrees clockwise
    upright = decode(jpeg_bytes(photo, exif=exif), "rotated.jpg")
    assert upright.size == (photo.height, photo.width)


def test_greyscale_becomes_rgb():
    grey = decode(jpeg_bytes(Image.open(PHOTO).convert("L")), "grey.jpg")
    assert grey.mode == "RGB"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"hello, I am text", "not a recognised image format"),
        (PHOTO.read_bytes()[:5000], "damaged or truncated"),
    ],
    ids=["zero-bytes", "text", "truncated-jpeg"],
)
def test_bad_data_gives_a_reason(data, reason):
    with pytest.raises(UnreadableImage, match=reason):
        decode(data, "bad.jpg")


def test_too_many_pixels_is_refused_before_decoding(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)
    with pytest.raises(UnreadableImage, match="too many pixels"):
        load_image(PHOTO)


def test_transparency_is_laid_on_white_exactly_as_an_alpha_composite():
    alphas = np.arange(256, dtype=np.uint8).repeat(3)
    colours = np.random.default_rng(0).integers(0, 256, (alphas.size, 3), dtype=np.uint8)
    rgba = Image.fromarray(np.column_stack([colours, alphas]).reshape(1, -1, 4), "RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    expected = Image.alpha_composite(white, rgba).convert("RGB")
    assert np.array_equal(np.asarray(decode(png_bytes(rgba), "rgba.png")), np.asarray(expected))
