"""Benchmark: the scan a run started on a catalogue of 10 or fewer images ends with (the lists read
while it was that small, to fill: retrieval/neighbours.py), at 10,000 and 50,000 images with lists of
10 (how it grows), against the cost per image of indexing in the same sitting. Not part of the default tests; run with
`./test.sh bench -s -k short_list`."""

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

RANDOM_LINKS = """
UNWIND $rows AS row
MATCH (a:Image {path: row[0]}), (b:Image {path: row[1]})
CREATE (a)-[:SIMILAR_TO {model: $model, score: 0.5}]->(b)
"""


@pytest.mark.bench
def test_the_short_list_scan_at_10000_and_50000_images_costs_under_1_percent_of_indexing_them(driver, lite, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for photo in sorted((BENCH / "images").rglob("*.jpg"))[:200]:
        shutil.copy(photo, folder / f"{photo.parent.name}_{photo.name}")
    store = empty_store(driver)
    run = index_folder(store, lite, folder)
    per_image = run.seconds / run.new

    store = empty_store(driver)
    rng = np.random.default_rng(0)
    stored, shares = 0, []
    for size in SIZES:  # the catalogue grown to each size, then scanned
        vectors = rng.normal(size=(size, lite.spec.dimensions)).astype(np.float32)
        write_vectors(store, lite.spec, vectors / np.linalg.norm(vectors, axis=1, keepdims=True), 1000, "scan", first=stored)
        targets = rng.integers(0, size, (size, NEIGHBOURS))  # lists of 10, as the scan meets them
        for first in range(stored, size, 5000):
            rows = [[f"/scan/{i}.jpg", f"/scan/{j}.jpg"] for i in range(first, first + 5000) for j in targets[i]]
            driver.execute_query(RANDOM_LINKS, rows=rows, model=lite.spec.name)
        stored = size
        times = []
        for _ in range(5):
            started = time.perf_counter()
            assert store.short_lists(lite.spec.space, NEIGHBOURS) == []
            times.append(time.perf_counter() - started)
        scan = float(np.median(times))
        shares.append(scan / (size * per_image))
        print(
            f"\nindexing {run.new} photos: {per_image * 1000:.1f} ms per image; the short-list scan at {size:,} images: "
            f"median {scan:.3f} s ({scan / size * 1e6:.1f} us per image) of {', '.join(f'{t:.3f}' for t in times)} s, "
            f"{shares[-1]:.3%} of indexing them"
        )
    assert max(shares) < 0.01
