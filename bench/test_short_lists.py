"""Benchmark: the lookup every index run ends with (the lists marked short, read while the catalogue
was smaller, to fill: retrieval/neighbours.py), at 10,000 and 50,000 images with lists of 10 and 10
of them marked short (how it grows: it should not), against the cost per image of indexing in the
same sitting. Not part of the default tests; run with `./test.sh bench -s -k short_lists`."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest

from retrieval.indexing import index_folder
from retrieval.neighbours import NEIGHBOURS
from tests.support.paths import BENCH
from tests.support.server import empty_store, write_vectors

SIZES = (10_000, 50_000)
MARKED = 10  # lists marked short at each size, each already full: found, counted and left as they are

RANDOM_LINKS = """
UNWIND $rows AS row
MATCH (a:Image {path: row[0]}), (b:Image {path: row[1]})
CREATE (a)-[:SIMILAR_TO {model: $model, score: 0.5}]->(b)
"""

MARK = "UNWIND $paths AS path MATCH (i:Image {path: path}) SET i.linked_efficientnet_lite0_short = $k"


@pytest.mark.bench
def test_the_short_lists_lookup_costs_the_same_at_10000_and_50000_images_a_sliver_of_indexing(driver, lite, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for photo in sorted((BENCH / "images").rglob("*.jpg"))[:200]:
        shutil.copy(photo, folder / f"{photo.parent.name}_{photo.name}")
    store = empty_store(driver)
    run = index_folder(store, lite, folder)  # also makes the schema, the marks' index with it
    per_image = run.seconds / run.new

    store = empty_store(driver)
    rng = np.random.default_rng(0)
    stored, medians, shares = 0, [], []
    for size in SIZES:  # the catalogue grown to each size, then asked
        vectors = rng.normal(size=(size, lite.spec.dimensions)).astype(np.float32)
        write_vectors(store, lite.spec, vectors / np.linalg.norm(vectors, axis=1, keepdims=True), 1000, "scan", first=stored)
        targets = rng.integers(0, size, (size, NEIGHBOURS))  # lists of 10
        for first in range(stored, size, 5000):
            rows = [[f"/scan/{i}.jpg", f"/scan/{j}.jpg"] for i in range(first, first + 5000) for j in targets[i]]
            driver.execute_query(RANDOM_LINKS, rows=rows, model=lite.spec.name)
        driver.execute_query(MARK, paths=[f"/scan/{i}.jpg" for i in rng.choice(size, MARKED, replace=False)], k=NEIGHBOURS)
        stored = size
        times = []
        for _ in range(5):
            started = time.perf_counter()
            assert store.short_lists(lite.spec.space) == {}
            times.append(time.perf_counter() - started)
        medians.append(float(np.median(times)))
        shares.append(medians[-1] / (size * per_image))
        print(
            f"\nindexing {run.new} photos: {per_image * 1000:.1f} ms per image; the short lists' lookup at {size:,} images "
            f"({MARKED} marked): median {medians[-1] * 1000:.2f} ms of {', '.join(f'{t * 1000:.2f}' for t in times)} ms, "
            f"{shares[-1]:.5%} of indexing them"
        )
    assert medians[-1] < 2 * medians[0] and max(shares) < 0.0001
