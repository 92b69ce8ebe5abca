"""Copies of real bench photos in the three duplicate tiers: the same picture re-saved or resized, and
near-duplicates (crops and burst-like variants: a small shift, another exposure, a slight rotation).
Different photos with the same label stand for the third tier, similar photos."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageEnhance

from tests.support.paths import BENCH

Variant = Callable[[Image.Image], tuple[Image.Image, int]]  # the altered picture and its JPEG quality


def _crop(photo: Image.Image, keep: float, shift: float = 0.0) -> Image.Image:
    """The centre `keep` of the photo, moved right and down by `shift` of its size."""
    w, h = photo.size
    left, top = int(w * ((1 - keep) / 2 + shift)), int(h * ((1 - keep) / 2 + shift))
    return photo.crop((left, top, left + int(w * keep), top + int(h * keep)))


SAME: dict[str, Variant] = {
    "quality40": lambda p: (p, 40),
    "resized75": lambda p: (p.resize((p.width * 3 // 4, p.height * 3 // 4), Image.Resampling.LANCZOS), 90),
    "resized50": lambda p: (p.resize((p.width // 2, p.height // 2), Image.Resampling.LANCZOS), 90),
}
NEAR: dict[str, Variant] = {
    "crop80": lambda p: (_crop(p, 0.8), 90),
    "shifted": lambda p: (_crop(p, 0.9, shift=0.05), 90),  # a burst: the camera moved a little
    "brighter": lambda p: (ImageEnhance.Brightness(p).enhance(1.3), 90),
    "rotated": lambda p: (_crop(p.rotate(3, resample=Image.Resampling.BICUBIC), 0.9), 90),
}


@dataclass
class Copies:
    """What was built: per tier, the groups a finder should make; and every file's label."""

    same: list[set[str]] = field(default_factory=list)  # an original with its re-saved and resized copies
    near: list[set[str]] = field(default_factory=list)  # an original with all its copies
    labels: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, tuple[str, str]] = field(default_factory=dict)  # copy -> (its original, the variant's name)


def make_tiered_copies(
    folder: Path, classes: Sequence[str], per_class: int, copied_every: int, variants: Sequence[str] = ()
) -> Copies:
    """Copy `per_class` bench photos of each class into `folder`, and beside every `copied_every`-th one
    its copies in the SAME and NEAR variants (only those named in `variants`, when given)."""
    folder.mkdir(parents=True, exist_ok=True)
    built = Copies()
    chosen = {n: v for n, v in {**SAME, **NEAR}.items() if not variants or n in variants}
    originals = [p for label in classes for p in sorted((BENCH / "images" / label).glob("*.jpg"))[:per_class]]
    for i, source in enumerate(originals):
        original = folder / f"{source.parent.name}_{source.stem}.jpg"
        shutil.copy(source, original)
        built.labels[str(original)] = source.parent.name
        if i % copied_every:
            continue
        with Image.open(source) as opened:
            photo = opened.convert("RGB")
        same, near = {str(original)}, {str(original)}
        for name, variant in chosen.items():
            copy = folder / f"{original.stem}_{name}.jpg"
            image, quality = variant(photo)
            image.save(copy, quality=quality)
            built.labels[str(copy)] = source.parent.name
            built.kinds[str(copy)] = (str(original), name)
            near.add(str(copy))
            if name in SAME:
                same.add(str(copy))
        built.same.append(same)
        built.near.append(near)
    return built
