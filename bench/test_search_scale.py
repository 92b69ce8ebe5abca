"""Benchmark: search and storage as the collection grows to 1,000, 10,000 and 100,000 images, on a
Neo4j of the benchmark's own (heap 2 GB, page cache 3 GB). For each size: write time (our batched
upsert), vector index build time (created after the data, until ONLINE), top-10 latency through
the index (p50, p95) and its recall@10 against exact search, for several candidate counts asked of
the index (in 5.26 that count is also the search width), exact numpy brute force over the same
vectors, and the server's memory. The tables go into docs/BENCHMARKS.md.
Not part of the default tests; run with `./test.sh bench -s -k search_scale`.

The set: the 1,965 bench photos' real EfficientNet-Lite0 vectors, and beyond them copies of those
with Gaussian noise (cosine ~0.9 to their source). Queries: 50 noisy copies not in the set."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from neo4j import Driver, GraphDatabase

from retrieval.core.batches import chunks
from retrieval.neo4j.schema import CREATE_CONSTRAINT
from retrieval.neo4j.server import LocalNeo4j
from retrieval.neo4j.store import ImageStore
from retrieval.vision.decode import load_image
from tests.support.paths import BENCH
from tests.support.photos import bench_vectors, brute_force_seconds, noisy_copies
from tests.support.server import fresh_server, write_vectors

SIZES = (1_000, 10_000, 100_000)
CANDIDATES = (10, 20, 40, 100, 200)
DEFAULT_CANDIDATES = 40  # what ImageStore.nearest asks for top 10
QUERIES = 50
K = 10
BATCH = 1000
EMBED_SAMPLE = 300


@pytest.fixture(scope="module")
def scale_server() -> Iterator[tuple[LocalNeo4j, Driver]]:
    server = fresh_server("bench-scale", heap="2g", pagecache="3g")
    server.start()
    with GraphDatabase.driver(server.uri, auth=("neo4j", server.password()), notifications_min_severity="OFF") as driver:
        yield server, driver
    server.stop()


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024


def disk_mib(folder: Path) -> float:
    return int(subprocess.run(["du", "-sk", str(folder)], capture_output=True, text=True, check=True).stdout.split()[0]) / 1024


def embed_seconds_per_image(lite) -> float:
    """Our decode + embed time per bench photo (batches of 32), to put the embedding cost in the growth table."""
    paths = sorted((BENCH / "images").rglob("*.jpg"))[:EMBED_SAMPLE]
    started = time.perf_counter()
    for batch in chunks(paths, 32):
        lite.embed([load_image(p) for p in batch])
    return (time.perf_counter() - started) / len(paths)


@pytest.mark.bench
@pytest.mark.speed
def test_search_at_1k_10k_100k(scale_server, lite):
    server, driver = scale_server
    spec = lite.spec
    rng = np.random.default_rng(11)
    real = bench_vectors(lite)
    queries = noisy_copies(real[rng.choice(len(real), QUERIES, replace=False)], 2 * QUERIES, rng)[QUERIES:]
    per_image = embed_seconds_per_image(lite)
    growth, tradeoff = [], []
    for size in SIZES:
        with driver.session() as session:  # IN TRANSACTIONS needs an implicit transaction
            session.run("MATCH (i:Scale) CALL (i) { DETACH DELETE i } IN TRANSACTIONS OF 10000 ROWS").consume()
        for record in driver.execute_query("SHOW INDEXES YIELD name, type WHERE type = 'VECTOR' RETURN name").records:
            driver.execute_query(f"DROP INDEX `{record['name']}`")  # bench-made names only
        vectors = noisy_copies(real, size, rng)
        store = ImageStore(driver, label="Scale")
        store._write(CREATE_CONSTRAINT)
        write = write_vectors(store, spec, vectors, BATCH, "scale")
        started = time.perf_counter()
        store.ensure_schema(spec.space, timeout=3600)
        build = time.perf_counter() - started

        truths = [set(np.argsort(-(vectors @ q))[:K]) for q in queries]
        brute = [brute_force_seconds(vectors, q, K) for q in queries]
        for candidates in CANDIDATES:
            latency, recall = [], []
            for q, truth in zip(queries, truths, strict=True):
                t = time.perf_counter()
                hits = store.nearest(spec.space, q, K, candidates=candidates)
                latency.append(time.perf_counter() - t)
                recall.append(len(truth & {int(h.name.split(".")[0]) for h in hits}) / K)
            p50, p95 = statistics.median(latency) * 1000, statistics.quantiles(latency, n=20)[-1] * 1000
            tradeoff.append((size, candidates, float(np.mean(recall)), p50, p95))
        brute_p50 = statistics.median(brute) * 1000
        default = next(row for row in tradeoff if row[:2] == (size, DEFAULT_CANDIDATES))
        memory = rss_mib(server.status().pid)
        growth.append(
            (size, per_image * size, write, build, default[3], default[2], brute_p50, memory, disk_mib(server.home / "data"))
        )

    print(f"\nembedding (ours, EfficientNet-Lite0, decode + embed, batches of 32): {per_image * 1000:.1f} ms per bench photo")
    print(
        "| images | embed (estimated) | write | index build | search p50 (top 10) | recall@10 | numpy brute force p50 "
        "| server RSS | data on disk |\n" + "| --- " * 9 + "|"
    )
    for size, embed, write, build, p50, recall, brute_p50, memory, disk in growth:
        print(
            f"| {size:,} | {embed:.0f} s | {write:.1f} s | {build:.1f} s | {p50:.1f} ms | {recall:.3f} | {brute_p50:.1f} ms "
            f"| {memory:,.0f} MiB | {disk:,.0f} MiB |"
        )
    print("\n| images | candidates | recall@10 | p50 | p95 |\n| --- | --- | --- | --- | --- |")
    for size, candidates, recall, p50, p95 in tradeoff:
        print(f"| {size:,} | {candidates} | {recall:.3f} | {p50:.1f} ms | {p95:.1f} ms |")
    at_100k = next(row for row in growth if row[0] == 100_000)
    assert at_100k[5] >= 0.98
