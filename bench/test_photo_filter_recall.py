"""Benchmark: a search filtered by the photos' own facts at 10,000 and then 100,000 images (the same
collection grown), on both server lines, one after the other, each on a server of the benchmark's own
(heap 2 GB, page cache 3 GB): inside the vector index on the newest release, after it with over-fetch
on 5.26. For filters keeping 50 %, 5 % and 0.5 % of the images (capture dates spread evenly over
1,000 days), p50 and p95 of the top-10 search and its recall@10 against the exact top 10 of the
images passing the filter, how often fewer than 10 came back, and each p50's growth with the
collection. Vectors: the bench photos' EfficientNet-Lite0 vectors and noisy copies (as in
test_search_scale.py). The table goes into docs/BENCHMARKS.md.
Run with `$V/bin/python -m pytest bench/test_photo_filter_recall.py -m bench -s` (one 100k bench at a time)."""

from __future__ import annotations

import statistics
import time
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from neo4j import GraphDatabase

from retrieval.core.batches import chunks
from retrieval.core.filters import PhotoFilter
from retrieval.neo4j.images import ImageRecord
from retrieval.neo4j.server import VERSIONS
from retrieval.neo4j.store import ImageStore
from tests.support.machine import cpu_flags
from tests.support.photos import bench_vectors, noisy_copies
from tests.support.server import fresh_server

SIZES = (10_000, 100_000)  # the same server's collection, grown
DAYS = 1000
SHARES = {"50 %": 500, "5 %": 50, "0.5 %": 5}  # the filter keeps the images of the first N of DAYS days
QUERIES = 50
K = 10
FIRST = date(2000, 1, 1)


def write_images(store: ImageStore, spec, vectors: np.ndarray, days: np.ndarray, numbers: range) -> None:
    """The images `numbers`, each with its vector and capture date, as indexing stores them."""
    for rows in chunks(numbers, 1000):
        store.upsert(
            spec.space,
            [
                ImageRecord(
                    f"/bench/{i}.jpg",
                    f"{i}.jpg",
                    0,
                    0,
                    "",
                    0,
                    0,
                    vectors[i],
                    {"taken": datetime.combine(FIRST + timedelta(days=int(days[i])), datetime.min.time(), UTC)},
                )
                for i in rows
            ],
        )


def measure_filters(store: ImageStore, spec, vectors: np.ndarray, days: np.ndarray, queries: np.ndarray) -> list[tuple]:
    """(share, passing, recall@10, p50 ms, p95 ms, fewer than 10) of each filter over the stored `vectors`."""
    figures = []
    for share, kept_days in SHARES.items():
        keep = np.flatnonzero(days < kept_days)
        photo_filter = PhotoFilter.of(taken=f"{FIRST}..{FIRST + timedelta(days=kept_days - 1)}")
        truths = [set(keep[np.argsort(-(vectors[keep] @ q))[:K]].tolist()) for q in queries]
        for _ in range(2):  # the first pass warms up; the second is kept
            latency, recall, short = [], [], 0
            for q, truth in zip(queries, truths, strict=True):
                t = time.perf_counter()
                hits = store.nearest(spec.space, q, K, facts=photo_filter)
                latency.append(time.perf_counter() - t)
                recall.append(len(truth & {int(h.name.split(".")[0]) for h in hits}) / K)
                short += len(hits) < K
        p95 = statistics.quantiles(latency, n=20)[-1] * 1000
        figures.append((share, len(keep), float(np.mean(recall)), statistics.median(latency) * 1000, p95, short))
    return figures


def measure_line(version: str, spec, vectors: np.ndarray, days: np.ndarray, queries: np.ndarray) -> list[tuple]:
    """The filters at each of SIZES on one server, the collection grown between them."""
    server = fresh_server("bench-filters", heap="2g", pagecache="3g", version=version)
    server.start()
    try:
        with GraphDatabase.driver(server.uri, auth=("neo4j", server.password()), notifications_min_severity="OFF") as driver:
            store = ImageStore(driver)
            store.ensure_schema(spec.space, timeout=3600)
            figures, written = [], 0
            for size in SIZES:
                store._write("DROP INDEX `{index}` IF EXISTS", {"index": store.index_name(spec.space)})  # built over all
                started = time.perf_counter()
                write_images(store, spec, vectors, days, range(written, size))
                store.ensure_schema(spec.space, timeout=3600)
                written = size
                print(f"\n{version}: {size:,} images written and indexed in {time.perf_counter() - started:.0f} s")
                inside = store.filters_in_index(spec.space)
                figures += [
                    (version, inside, size, *f) for f in measure_filters(store, spec, vectors[:size], days[:size], queries)
                ]
            return figures
    finally:
        server.stop()


@pytest.mark.bench
def test_filtered_search_inside_the_index_and_after_it_at_10000_and_100000_images(lite):
    rng = np.random.default_rng(29)
    real = bench_vectors(lite)
    queries = noisy_copies(real[rng.choice(len(real), QUERIES, replace=False)], 2 * QUERIES, rng)[QUERIES:]
    vectors = noisy_copies(real, SIZES[-1], rng)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    days = rng.permutation(np.arange(SIZES[-1]) % DAYS)
    rows = [row for version in VERSIONS for row in measure_line(version, lite.spec, vectors, days, queries)]

    print(f"\nCPU flags: {cpu_flags()}")
    print("| Neo4j | filter | images | kept | images passing | recall@10 | p50 | p95 | fewer than 10 |")
    print("| --- " * 9 + "|")
    p50s = {}
    for version, inside, size, share, passing, recall, p50, p95, short in rows:
        how = "in the index" if inside else "after the index (over-fetch, or exact at most 500)"
        print(f"| {version} | {how} | {size:,} | {share} | {passing:,} | {recall:.3f} | {p50:.1f} ms | {p95:.1f} ms | {short} |")
        p50s[version, share, size] = p50
    print(f"| Neo4j | kept | p50 at {SIZES[0]:,} | p50 at {SIZES[-1]:,} | ratio |\n" + "| --- " * 5 + "|")
    for version in VERSIONS:
        for share in SHARES:
            small, large = p50s[version, share, SIZES[0]], p50s[version, share, SIZES[-1]]
            print(f"| {version} | {share} | {small:.1f} ms | {large:.1f} ms | {large / small:.2f} |")
    for *_, passing, _recall, _p50, _p95, short in rows:
        assert short == 0 and passing >= K
