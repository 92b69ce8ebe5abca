"""Benchmark: search inside part of a catalogue. Neo4j 5.26's vector index cannot filter, so a
filtered search either ranks every matching image exactly or over-fetches from the index and
filters with MATCH. This measures both, side by side in one run, against exact filtered search in
numpy: recall@10 and p50 latency per share of the catalogue matching, and per over-fetch factor.
The table goes into docs/QUALITY.md; it set EXACT_OWNED_LIMIT and OVERFETCH in store.py.
Not part of the default tests; run with `./test.sh bench -s -k catalogue_filter`.

The set: the 1,965 bench photos' real EfficientNet-Lite0 vectors, and beyond them copies of those
vectors with Gaussian noise (cosine ~0.9 to their source), up to SIZE images; one :BenchProduct
per image, its category drawn at random with shares 1/2, 1/4, ... 1/256 (unrelated to the photo)."""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest

from retrieval.catalogue import Attachment, attach
from retrieval.neo4j.catalogue import CatalogueFilter
from retrieval.neo4j.images import ImageRecord
from retrieval.neo4j.store import ImageStore
from tests.support.photos import bench_vectors, noisy_copies

SIZE = 20_000
CATEGORIES = 8  # category c shares 2^-(c+1) of the products; the rest is "other"
QUERIES = 30
K = 10
OVERFETCH = (1, 2, 4, 8)
PRODUCTS = "UNWIND $rows AS row CREATE (:BenchProduct {sku: row.sku, category: row.category})"


@pytest.mark.bench
def test_filtered_search_recall_and_latency(driver, lite):
    spec = lite.spec
    rng = np.random.default_rng(7)
    vectors = noisy_copies(bench_vectors(lite), SIZE, rng)

    store = ImageStore(driver, label="FilterBench")
    store.ensure_schema(spec.space)
    paths = [f"/bench/filter/{i}.jpg" for i in range(SIZE)]
    for start in range(0, SIZE, 1000):
        rows = range(start, start + 1000)
        store.upsert(spec.space, [ImageRecord(paths[i], f"{i}.jpg", 0, 0, "", 0, 0, vectors[i]) for i in rows])
    shares = [2.0 ** -(c + 1) for c in range(CATEGORIES)]
    categories = rng.choice([*range(CATEGORIES), -1], size=SIZE, p=[*shares, 1 - sum(shares)])
    rows = [{"sku": i, "category": f"c{c}" if c >= 0 else "other"} for i, c in enumerate(categories)]
    driver.execute_query("CREATE INDEX bench_product_sku IF NOT EXISTS FOR (p:BenchProduct) ON (p.sku)")
    driver.execute_query(PRODUCTS, rows=rows)
    started = time.perf_counter()
    report = attach(store, [Attachment(p, "BenchProduct", "sku", str(i)) for i, p in enumerate(paths)])
    attach_seconds = time.perf_counter() - started
    assert report.attached == SIZE

    queries = noisy_copies(vectors[rng.choice(1965, QUERIES, replace=False)], 2 * QUERIES, rng)[QUERIES:]  # near, not in the set
    print(f"\n{SIZE} images; attached {SIZE} in {attach_seconds:.1f} s; top {K}, {QUERIES} queries per cell")
    header = " | ".join(f"over-fetch {f}: recall, p50" for f in OVERFETCH)
    print(f"| share | matching | default: recall, p50 | exact: p50 | {header} |\n" + "| --- " * (4 + len(OVERFETCH)) + "|")
    for c in range(CATEGORIES):
        within = CatalogueFilter("BenchProduct", "category", f"c{c}")
        members = np.flatnonzero(categories == c)
        cells = []
        timings: dict[str, list[float]] = {}
        recalls: dict[str, list[float]] = {}
        for q in queries:
            truth = {paths[i] for i in members[np.argsort(-(vectors[members] @ q))[:K]]}
            settings = [("default", {}), ("exact", {"exact_limit": SIZE})]
            for name, kwargs in [*settings, *((f, {"exact_limit": 0, "overfetch": f}) for f in OVERFETCH)]:
                t = time.perf_counter()
                hits = store.nearest(spec.space, q, K, within=within, **kwargs)
                timings.setdefault(str(name), []).append(time.perf_counter() - t)
                recalls.setdefault(str(name), []).append(len(truth & {h.path for h in hits}) / K)
        for name in ["default", "exact", *map(str, OVERFETCH)]:
            p50 = statistics.median(timings[name]) * 1000
            cells.append(f"{p50:.0f} ms" if name == "exact" else f"{np.mean(recalls[name]):.3f}, {p50:.0f} ms")
        assert np.mean(recalls["exact"]) == 1.0
        assert np.mean(recalls["default"]) >= 0.98
        print(f"| 1/{2 ** (c + 1)} | {len(members)} | " + " | ".join(cells) + " |")
