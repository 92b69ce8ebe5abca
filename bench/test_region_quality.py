"""Benchmark: searching a region of a photo. 100 bench photos (2 of each class, from queries.csv),
each pasted small into a photo of another class (a quarter of its area, and a ninth), then searched
three ways: the photo itself, the whole composite, and the pasted region only (the box cropped and
embedded as a photo, as `search --box` and the app's box do). P@10 and mAP for the pasted photo's
class; the two source photos are left out of the ranking. Exact rankings in numpy over the bench
vectors (bench/vector_search.py). The table goes into docs/QUALITY.md.
Run with `./test.sh bench -s -k region_quality`."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from PIL import Image
from vector_search import default_scores, expand, scores

from retrieval.region import Box
from retrieval.vision.decode import load_image
from tests.support.paths import BENCH
from tests.support.photos import bench_vectors

QUERIES_PER_CLASS = 2


def composite(photo: Image.Image, background: Image.Image, share: float, rng: np.random.Generator) -> tuple[Image.Image, Box]:
    """`photo` scaled to `share` of `background`'s area (kept inside it) and pasted at a random place."""
    scale = math.sqrt(share * background.width * background.height / (photo.width * photo.height))
    scale = min(scale, background.width / photo.width, background.height / photo.height)
    small = photo.resize((max(8, round(photo.width * scale)), max(8, round(photo.height * scale))), Image.Resampling.LANCZOS)
    left = int(rng.integers(0, background.width - small.width + 1))
    top = int(rng.integers(0, background.height - small.height + 1))
    scene = background.copy()
    scene.paste(small, (left, top))
    return scene, Box(left, top, small.width, small.height)


@pytest.mark.bench
def test_searching_the_pasted_region_recovers_the_photo_s_own_precision(lite):
    rows = list(csv.DictReader((BENCH / "labels.csv").open()))
    paths, labels = [r["path"] for r in rows], np.array([r["label"] for r in rows])
    plain = bench_vectors(lite)
    row_of = {p: i for i, p in enumerate(paths)}
    chosen: dict[str, list[int]] = {}
    for query in csv.DictReader((BENCH / "queries.csv").open()):
        if len(chosen.setdefault(query["label"], [])) < QUERIES_PER_CLASS:
            chosen[query["label"]].append(row_of[query["path"]])
    queries = [i for rows_ in chosen.values() for i in rows_]
    rng = np.random.default_rng(18)
    backgrounds = [int(rng.choice(np.flatnonzero(labels != labels[i]))) for i in queries]
    wanted = [labels[i] for i in queries]
    left_out = [[q, b] for q, b in zip(queries, backgrounds, strict=True)]
    print(f"\n{len(queries)} query photos, each in a photo of another class")
    print("| pasted at | search | default: P@10 | default: mAP | plain: P@10 | plain: mAP |")
    print("| --- | --- | --- | --- | --- | --- |")

    def row(share: str, name: str, vectors: np.ndarray) -> float:
        default = default_scores(expand(vectors, plain, left_out), plain, labels, wanted, left_out)
        flat = scores(vectors, plain, labels, wanted, left_out)
        print(f"| {share} | {name} | {default[1]:.3f} | {default[0]:.3f} | {flat[1]:.3f} | {flat[0]:.3f} |")
        return default[1]

    alone = row("-", "the photo itself (not pasted)", plain[queries])
    for share in (1 / 4, 1 / 9):
        scenes, regions = [], []
        for q, b in zip(queries, backgrounds, strict=True):
            scene, box = composite(load_image(BENCH / paths[q]), load_image(BENCH / paths[b]), share, rng)
            scenes.append(scene)
            regions.append(box.crop(scene))
        name = f"1/{round(1 / share)} of the area"
        whole = row(name, "whole composite", lite.embed(scenes))
        region = row(name, "the pasted region (--box)", lite.embed(regions))
        assert region > whole and region >= 0.8 * alone
