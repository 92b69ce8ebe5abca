"""Thumbnails drawn by several sessions at once: each writer has a file of its own until the atomic
rename, so every one finishes, and what is kept is a whole JPEG with nothing left behind."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from PIL import Image

from retrieval.vision.thumbnails import thumbnail
from tests.support.paths import DEMO_IMAGES

WRITERS = 6


def draw_all(photos: list[Path], cache: Path) -> list[Path]:
    return [thumbnail(photo, cache) for photo in photos]


def test_concurrent_writers_of_the_same_thumbnails_each_finish_and_leave_whole_jpegs(tmp_path):
    photos = sorted(DEMO_IMAGES.glob("*.jpg"))
    cache = tmp_path / "thumbnails"
    with ProcessPoolExecutor(WRITERS, mp_context=get_context("spawn")) as pool:
        # Every writer draws the same photos in the same order, into an empty cache: they collide on each.
        results = list(pool.map(draw_all, [photos] * WRITERS, [cache] * WRITERS))
    assert all(result == results[0] for result in results)
    for target in results[0]:
        with Image.open(target) as picture:
            picture.load()  # a whole file: a truncated or interleaved one fails here
            assert picture.format == "JPEG" and max(picture.size) == 320
    assert sorted(p.suffix for p in cache.rglob("*") if p.is_file()) == [".jpg"] * len(photos)
