"""A region of a photo to search with: a box in pixels of the upright photo (after EXIF rotation,
as decode.py gives it). The region is cropped and then embedded as a photo would be (the model's
own Resize and CenterCrop), so a small object pasted in a larger scene is searched for itself."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from retrieval.core.errors import BadArgument

MIN_SIDE = 8  # pixels: a smaller box holds too little for the model to see anything


@dataclass(frozen=True)
class Box:
    """LEFT, TOP, WIDTH, HEIGHT in pixels of the upright photo."""

    left: int
    top: int
    width: int
    height: int

    @classmethod
    def parse(cls, text: str) -> Box:
        """`LEFT,TOP,WIDTH,HEIGHT`, four whole numbers, width and height at least MIN_SIDE."""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 4 or not all(p.lstrip("-").isdigit() for p in parts):
            raise BadArgument(f"a box is LEFT,TOP,WIDTH,HEIGHT in whole pixels, e.g. 40,30,200,150, not {text[:40]!r}")
        left, top, width, height = (int(p) for p in parts)
        if left < 0 or top < 0:
            raise BadArgument(f"the box's left and top must be 0 or more, not {left},{top}")
        if width < MIN_SIDE or height < MIN_SIDE:
            raise BadArgument(f"the box must be at least {MIN_SIDE} pixels wide and high, not {width}x{height}")
        return cls(left, top, width, height)

    @classmethod
    def from_corners(cls, corners: tuple[float, float, float, float], scale: float, size: tuple[int, int]) -> Box | None:
        """The box between two corners (x1, y1, x2, y2) given on a picture shown `scale` times smaller
        than the photo of `size`, clamped to the photo; None when smaller than MIN_SIDE (a click, not a drag)."""
        (x1, y1, x2, y2), (width, height) = corners, size
        left, right = sorted(min(max(round(x * scale), 0), width) for x in (x1, x2))
        top, bottom = sorted(min(max(round(y * scale), 0), height) for y in (y1, y2))
        if right - left < MIN_SIDE or bottom - top < MIN_SIDE:
            return None
        return cls(left, top, right - left, bottom - top)

    def check_within(self, size: tuple[int, int]) -> Box:
        """This box if it lies inside a photo of `size` (width, height), else a clear error."""
        width, height = size
        if self.left + self.width > width or self.top + self.height > height:
            raise BadArgument(
                f"the box {self} reaches beyond the photo, which is {width}x{height} pixels (upright, after EXIF rotation)"
            )
        return self

    def crop(self, image: Image.Image) -> Image.Image:
        self.check_within(image.size)
        return image.crop((self.left, self.top, self.left + self.width, self.top + self.height))

    def __str__(self) -> str:
        return f"{self.left},{self.top},{self.width},{self.height}"
