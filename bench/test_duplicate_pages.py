"""Benchmark: the first page of duplicate groups at 25,000 and 100,000 images with the same 4,000 groups,
per tier. Synthetic SIMILAR_TO lists (10 per image, as `link` writes them): 4,000 groups of 2 to 9 images
chained by links inside one tier's band, every other link below the similar tier. Not part of the
default tests; run with `pytest bench/test_duplicate_pages.py -s -m bench`."""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest

from retrieval.core.batches import chunks
from retrieval.duplicates import NEAR_DUPLICATE, PER_PAGE, SAME_PICTURE, SIMILAR, TIERS, duplicate_page, outlines
from retrieval.neo4j.store import ImageStore
from retrieval.vision.models import MODELS
from tests.support.machine import cpu_flags
from tests.support.server import empty_store

SMALL, LARGE = 25_000, 100_000  # images: the groups below take 22,000 of them
GROUPS = 4_000
LINKS = 10  # per image
SPEC = MODELS["efficientnet-lite0"]
BANDS = [(SAME_PICTURE, 1.0), (NEAR_DUPLICATE, SAME_PICTURE), (SIMILAR, NEAR_DUPLICATE)]  # one tier's scores each

NODES = """
UNWIND $rows AS row
CREATE (:Image {path: row.path, name: row.name, width: row.width, height: row.height, size: row.size, mtime_ns: row.mtime})
"""
EDGES = """
UNWIND $rows AS row
MATCH (a:Image {path: row.a}), (b:Image {path: row.b})
CREATE (a)-[:SIMILAR_TO {model: $model, score: row.score}]->(b)
"""


def synthetic_links(rng: np.random.Generator, first: int, images: int) -> list[tuple[int, int, float]]:
    """(from, to, cosine) for images `first` to `images`: when `first` is 0, each group a chain in its
    tier's band; then links below every tier to fill each image's list of LINKS."""
    links, start = [], 0
    for g in range(GROUPS if first == 0 else 0):
        size = int(rng.integers(2, 10))
        low, high = BANDS[g % len(BANDS)]
        links += [(start + i, start + i + 1, float(rng.uniform(low, high))) for i in range(size - 1)]
        start += size
    counts = np.bincount([a for a, _, _ in links], minlength=images)
    for image in range(first, images):
        others = rng.integers(0, images, LINKS - counts[image])
        links += [(image, int(o), float(s)) for o, s in zip(others, rng.uniform(0.1, SIMILAR - 0.01, len(others)), strict=True)]
    return links


def add_library(store: ImageStore, rng: np.random.Generator, first: int, images: int) -> None:
    """Images `first` to `images` as `index` stores them, with their synthetic lists."""
    for rows in chunks(range(first, images), 10_000):
        nodes = [
            {"path": f"/library/{i}.jpg", "name": f"{i}.jpg", "width": 4000, "height": 3000, "size": 3 * 10**6 + i} for i in rows
        ]
        store.driver.execute_query(NODES, rows=[{**n, "mtime": 1_700_000_000 * 10**9 + n["size"]} for n in nodes])
    links = synthetic_links(rng, first, images)
    started = time.perf_counter()
    for part in chunks(links, 20_000):
        rows = [{"a": f"/library/{a}.jpg", "b": f"/library/{b}.jpg", "score": s} for a, b, s in part]
        store.driver.execute_query(EDGES, rows=rows, model=SPEC.space.model)
    print(f"\n{images} images: {len(links)} SIMILAR_TO links written in {time.perf_counter() - started:.0f} s")


def first_pages(store: ImageStore) -> dict[str, float]:
    """Each tier's first page, median of 5 after one warm-up, with a row of the table."""
    print("| tier | groups | images in groups | links read | first page (median of 5) | of it: links read | grouping |")
    print("|" + " --- |" * 7)
    medians = {}
    for tier in TIERS:
        duplicate_page(store, SPEC, tier)  # the server's plan cache and page cache warmed once
        seconds, reads, groupings = [], [], []
        for _ in range(5):
            started = time.perf_counter()
            page = duplicate_page(store, SPEC, tier)
            seconds.append(time.perf_counter() - started)
            started = time.perf_counter()
            pairs = store.similar_pairs(SPEC.space, tier.threshold)
            reads.append(time.perf_counter() - started)
            started = time.perf_counter()
            outlines(pairs, tier.transitive_from)
            groupings.append(time.perf_counter() - started)
        assert len(page.groups) == PER_PAGE and page.total_groups >= GROUPS // len(BANDS)
        medians[tier.name] = statistics.median(seconds)
        print(
            f"| {tier.name} | {page.total_groups} | {page.total_images} | {len(pairs)} | {medians[tier.name]:.2f} s "
            f"| {statistics.median(reads):.2f} s | {statistics.median(groupings):.2f} s |"
        )
    return medians


@pytest.mark.bench
def test_the_first_page_of_each_tier_costs_the_same_in_a_library_four_times_larger(driver):
    store = empty_store(driver)
    store.ensure_schema(SPEC.space)  # as `index` leaves it: the path constraint, the links' score index
    rng = np.random.default_rng(28)
    add_library(store, rng, 0, SMALL)
    small = first_pages(store)
    add_library(store, rng, SMALL, LARGE)  # the same groups; 75,000 more images, their links below every tier
    large = first_pages(store)
    print(f"CPU flags: {cpu_flags()}\n| tier | first page at 25,000 | at 100,000 | ratio |\n| --- | --- | --- | --- |")
    for tier, seconds in large.items():
        print(f"| {tier} | {small[tier]:.2f} s | {seconds:.2f} s | {seconds / small[tier]:.2f} |")
    assert max(large.values()) < 2.0
