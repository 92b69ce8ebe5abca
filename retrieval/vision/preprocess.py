"""The seed recipe's preprocessing, Resize(256), CenterCrop(224), ToTensor, Normalize, in PIL and
numpy: the same float32 values torchvision's transforms give a PIL image (tests/test_embed.py
compares them), without importing torch, so a command whose model runs on OpenVINO starts in a
fraction of torch's import time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

RESIZE = 256
CROP = 224


@dataclass(frozen=True)
class Preprocess:
    """An RGB picture to a (3, CROP, CROP) float32 array normalised with the model's mean and std."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def __call__(self, image: Image.Image) -> np.ndarray:
        width, height = image.size
        if (width, height) != (size := _resized(width, height)):  # torchvision leaves an image of that size as it is
            image = image.resize(size, Image.Resampling.BILINEAR)
        width, height = image.size
        top, left = round((height - CROP) / 2.0), round((width - CROP) / 2.0)
        pixels = np.asarray(image.crop((left, top, left + CROP, top + CROP)), dtype=np.uint8)
        scaled = pixels.astype(np.float32) / np.float32(255)
        mean, std = np.asarray(self.mean, dtype=np.float32), np.asarray(self.std, dtype=np.float32)
        normalised: np.ndarray = ((scaled - mean) / std).transpose(2, 0, 1)
        return np.ascontiguousarray(normalised)


def _resized(width: int, height: int) -> tuple[int, int]:
    """The size torchvision's Resize(RESIZE) gives: the short side RESIZE, the long one scaled and truncated."""
    if width <= height:
        return RESIZE, int(RESIZE * height / width)
    return int(RESIZE * width / height), RESIZE
