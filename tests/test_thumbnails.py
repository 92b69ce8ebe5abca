"""Thumbnails drawn by several sessions at once: each writer has a file of its own until the atomic
rename, so every one finishes, and what is kept is a whole JPEG with nothing left behind."""

from __future__ import annotations

import subprocess
import sys

from PIL import Image

from tests.support.paths import DEMO_IMAGES, PROJECT

WRITERS = 6
# One writer, in a process of its own: every photo's thumbnail, drawn in the same order as the others.
DRAW_ALL = """
import sys
from pathlib import Path
from retrieval.vision.thumbnails import thumbnail
for photo in sorted(Path(sys.argv[1]).glob("*.jpg")):
    print(thumbnail(photo, Path(sys.argv[2]), roots=None))
"""


def test_concurrent_writers_of_the_same_thumbnails_each_finish_and_leave_whole_jpegs(tmp_path):
    cache = tmp_path / "thumbnails"
    command = [sys.executable, "-c", DRAW_ALL, str(DEMO_IMAGES), str(cache)]
    writers = [subprocess.Popen(command, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)]
    writers += [
        subprocess.Popen(command, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(WRITERS - 1)
    ]
    outputs = [writer.communicate(timeout=300) for writer in writers]
    assert [writer.returncode for writer in writers] == [0] * WRITERS, [err for _, err in outputs]
    drawn = outputs[0][0].split()
    assert len(drawn) == len(list(DEMO_IMAGES.glob("*.jpg"))) and all(out.split() == drawn for out, _ in outputs)
    for target in drawn:
        with Image.open(target) as picture:
            picture.load()  # a whole file: a truncated or interleaved one fails here
            assert picture.format == "JPEG" and max(picture.size) == 320
    assert sorted(p.suffix for p in cache.rglob("*") if p.is_file()) == [".jpg"] * len(drawn)
