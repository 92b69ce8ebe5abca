"""Benchmark: the app's first page at 100,000 images. A new session opens on the catalogue, newest
first: timed from the page request until the count and every thumbnail of the first page have
drawn; and the listing's own queries, the first page, a page deep in the catalogue (keyset: after
the last image of the page before) and, for scale, SKIP to the same depth. Not part of the default
tests; run with `./test.sh bench -s -k first_paint`.

The set: the 30 demo photos indexed last (the newest, so the first page shows their thumbnails),
after 100,000 images stored with copies of the bench photos' real vectors, one transaction per
1,000 as indexing does (so images share their batch's `indexed_at` and ties are ordered by path)."""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest

from app.catalogue import GRID_PAGE
from retrieval.indexing import index_folder
from tests.support.machine import cpu_flags
from tests.support.paths import DEMO_IMAGES
from tests.support.photos import bench_vectors, noisy_copies
from tests.support.server import empty_store, write_vectors

pytest_plugins = ["tests.support.browser"]  # the app in Chromium: only these tests load Playwright

SIZE = 100_000
LOADS = 7
WARM_UP = 2
DEEP = 99_000
SKIP_PAGE = (
    "MATCH (node:Image) WHERE node.embedding_efficientnet_lite0 IS NOT NULL AND node.indexed_at IS NOT NULL "
    "RETURN node.path AS path ORDER BY node.indexed_at DESC, node.path SKIP $skip LIMIT $limit"
)
DRAWN = (
    "(n) => Array.from(document.querySelectorAll('p')).some(p => p.innerText.includes(n + ' images in the catalogue'))"
    " && document.querySelectorAll(\"[class*='st-key-pick-'] img\").length === " + str(GRID_PAGE) + " &&"
    " Array.from(document.querySelectorAll(\"[class*='st-key-pick-'] img\")).every(i => i.complete && i.naturalWidth > 0)"
)


def p50(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} ms (max {max(values) * 1000:.1f})"


@pytest.mark.bench
def test_first_paint_of_the_catalogue_at_100k(driver, lite, app_url, browser_page):
    store = empty_store(driver)
    store.ensure_schema(lite.spec.space)
    write_vectors(store, lite.spec, noisy_copies(bench_vectors(lite), SIZE, np.random.default_rng(5)), 1000, "scale")
    index_folder(store, lite, DEMO_IMAGES)
    total = f"{SIZE + 30:,}"
    page = browser_page
    seconds = []
    for i in range(WARM_UP + LOADS):
        started = time.perf_counter()
        page.goto(app_url)  # a new session each time
        page.wait_for_function(DRAWN, arg=total, timeout=120_000)
        if i >= WARM_UP:
            seconds.append(time.perf_counter() - started)

    space = lite.spec.space
    first, deep, skipped, counted = [], [], [], []
    after = None
    for _ in range(DEEP // GRID_PAGE):  # walk to the depth once, then time from there
        after = store.newest(space, GRID_PAGE, after).last
    for _ in range(20):
        t = time.perf_counter()
        store.newest(space, GRID_PAGE)
        first.append(time.perf_counter() - t)
        t = time.perf_counter()
        store.newest(space, GRID_PAGE, after)
        deep.append(time.perf_counter() - t)
        t = time.perf_counter()
        store.query(SKIP_PAGE, skip=DEEP, limit=GRID_PAGE + 1)
        skipped.append(time.perf_counter() - t)
        t = time.perf_counter()
        store.count_listed(space)
        counted.append(time.perf_counter() - t)
    print(f"\n{SIZE + 30:,} images, CPU flags: {cpu_flags()}")
    print(
        f"first paint (page request -> count and {GRID_PAGE} thumbnails drawn), {LOADS} new sessions: "
        f"p50 {statistics.median(seconds):.3f} s, min {min(seconds):.3f} s, max {max(seconds):.3f} s"
    )
    print(f"first page {p50(first)}; page at {DEEP:,} (keyset) {p50(deep)}; SKIP {DEEP:,} {p50(skipped)}; count {p50(counted)}")
    assert statistics.median(deep) < statistics.median(skipped)  # keyset pages do not walk the images before them
