"""The seed recipe's preprocessing, Resize(256), CenterCrop(224), ToTensor, Normalize, in PIL and
numpy: the same float32 values torchvision's transforms give a PIL image (tests/test_embed.py
compares them), without importing torch, so a command whose model runs on OpenVINO starts in a
fraction of torch's import time.

Resize(256) scales the short side to 256, so a long thin picture (1 x 60,000 pixels) would grow to
256 x 15,360,000 pixels, gigabytes, before CenterCrop keeps 224 x 224 of them. Such a picture is
resized only in the part of it that maps onto the crop (PIL's `box`), a bounded amount of work
whatever the shape. Pictures whose resized long side is at most FULL_RESIZE_MAX_SIDE, every usual
photo, are resized whole as before: their values stay exactly torchvision's. The region resize's
values differ from them by at most one level of 255 on a share of the pixels (PIL takes the box in
single precision), which tests/test_embed.py bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

RESIZE = 256
CROP = 224
FULL_RESIZE_MAX_SIDE = 8 * RESIZE  # a longer resized side: only the crop's region is resized


@dataclass(frozen=True)
class Preprocess:
    """An RGB picture to a (3, CROP, CROP) float32 array normalised with the model's mean and std."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def __call__(self, image: Image.Image) -> np.ndarray:
        pixels = np.asarray(resized_crop(image), dtype=np.uint8)
        scaled = pixels.astype(np.float32) / np.float32(255)
        mean, std = np.asarray(self.mean, dtype=np.float32), np.asarray(self.std, dtype=np.float32)
        normalised: np.ndarray = ((scaled - mean) / std).transpose(2, 0, 1)
        return np.ascontiguousarray(normalised)


def resized_crop(image: Image.Image) -> Image.Image:
    """Resize(RESIZE) then CenterCrop(CROP), resizing no more of the picture than the crop needs."""
    width, height = image.size
    size = _resized(width, height)
    left, top = round((size[0] - CROP) / 2.0), round((size[1] - CROP) / 2.0)
    crop = (left, top, left + CROP, top + CROP)
    if max(size) > FULL_RESIZE_MAX_SIDE:
        x, y = width / size[0], height / size[1]  # source pixels per resized pixel
        return image.resize((CROP, CROP), Image.Resampling.BILINEAR, box=(left * x, top * y, crop[2] * x, crop[3] * y))
    if (width, height) != size:  # torchvision leaves an image of that size as it is
        image = image.resize(size, Image.Resampling.BILINEAR)
    return image.crop(crop)


def _resized(width: int, height: int) -> tuple[int, int]:
    """The size torchvision's Resize(RESIZE) gives: the short side RESIZE, the long one scaled and truncated."""
    if width <= height:
        return RESIZE, int(RESIZE * height / width)
    return int(RESIZE * width / height), RESIZE
