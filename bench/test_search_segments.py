"""Benchmark: where top-10 search time goes at 100,000 images, and what Neo4j's own Lucene settings
change. The set and the queries are those of test_search_scale.py (real EfficientNet-Lite0 vectors
and noisy copies of them); the vectors are written once, then for each configuration the server is
restarted with its settings and the vector index is dropped and built again.

- Neo4j 5.26 builds a vector index over existing data in Lucene segments of about 2,000 vectors
  (50 at 100k) and searches every segment for each query. Its internal setting
  `internal.dbms.index.vector.population_ram_buffer_size` makes the segments larger.
- `vector.quantization.enabled` (an index option) decides whether the graph is searched on int8
  copies of the vectors or on the float32 vectors.

For each: segments, build time, recall@10 against exact search, p50/p95 of our search (index
candidates rescored exactly) and numpy brute force p50, alternated query by query.
Not part of the default tests; run with `./test.sh bench -s -k search_segments`."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from neo4j import GraphDatabase

from retrieval.neo4j.schema import CREATE_CONSTRAINT, CREATE_VECTOR_INDEX
from retrieval.neo4j.server import LocalNeo4j
from retrieval.neo4j.store import ImageStore
from retrieval.vision.embed import Embedder
from retrieval.vision.models import ModelSpec
from tests.support.photos import bench_vectors, brute_force_seconds, noisy_copies
from tests.support.server import fresh_server, write_vectors

SIZE = 100_000
QUERIES = 50
K = 10
CANDIDATES = (10, 40, 100)
INDEXING_BATCH = 32  # what `index` writes per transaction
BIG_SEGMENTS = "internal.dbms.index.vector.population_ram_buffer_size=256"
CONFIGS = (  # label, server settings, int8 quantization
    ("Neo4j's defaults (int8 quantization)", (), True),
    ("quantization off", (), False),
    ("population buffer 256", (BIG_SEGMENTS,), True),
    ("population buffer 256, quantization off", (BIG_SEGMENTS,), False),
)
FEWER_SEGMENTS = "internal.dbms.index.vector.standard_merge_factor=10"
GROWTH_CONFIGS = (  # label, server settings, int8 quantization
    ("Neo4j's defaults (int8 quantization)", (), True),
    ("quantization off", (), False),
    ("merge factor 10, quantization off", (FEWER_SEGMENTS,), False),
)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalNeo4j]:
    server = fresh_server("bench-segments", heap="2g", pagecache="3g")
    yield server
    server.stop()


def segments(server: LocalNeo4j, index_id: int) -> int:
    folder = server.home / "data" / "databases" / "neo4j" / "schema" / "index" / "vector-2.0" / str(index_id)
    return len(list(folder.rglob("*.si")))


def server_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_idle(server: LocalNeo4j, timeout: float = 900.0) -> float:
    """Seconds until the server uses under 10 % of a core over 5 s: Lucene merges segments in the
    background after writes, and a search measured during that would be measuring the merge."""
    pid, started = server.status().pid, time.perf_counter()
    while time.perf_counter() - started < timeout:
        before = server_cpu_seconds(pid)
        time.sleep(5)
        if server_cpu_seconds(pid) - before < 0.5:
            break
    return time.perf_counter() - started


def bench_set(lite: Embedder) -> tuple[np.ndarray, np.ndarray]:
    """The queries and the 100,000 vectors, as test_search_scale.py makes them."""
    rng = np.random.default_rng(11)
    real = bench_vectors(lite)
    queries = noisy_copies(real[rng.choice(len(real), QUERIES, replace=False)], 2 * QUERIES, rng)[QUERIES:]
    return queries, noisy_copies(real, SIZE, rng)


@contextlib.contextmanager
def store_with(server: LocalNeo4j, settings: tuple[str, ...], label: str) -> Iterator[tuple[LocalNeo4j, ImageStore]]:
    """The server restarted with `settings`, and a store of `label` on it."""
    configured = dataclasses.replace(server, settings=settings)
    configured.stop()
    configured.start()
    auth = ("neo4j", configured.password())
    with GraphDatabase.driver(configured.uri, auth=auth, notifications_min_severity="OFF") as driver:
        yield configured, ImageStore(driver, label=label)


def create_index(store: ImageStore, spec: ModelSpec, quantized: bool) -> int:
    """Create the vector index our search asks for and wait until it is online; its id (its folder's name)."""
    names = {"index": store.index_name(spec.space), "prop": spec.space.vector_property}
    # The store's own declaration, with the quantization flag (this bench runs on 5.26).
    store._write(CREATE_VECTOR_INDEX, names, config=store.dialect.index_configs(spec.dimensions, quantized)[-1])
    store._query("CALL db.awaitIndex($index, 3600)", index=names["index"])
    return store._query("SHOW INDEXES YIELD id, name WHERE name = $index RETURN id", index=names["index"])[0]["id"]


def measure(store: ImageStore, spec: ModelSpec, vectors: np.ndarray, queries: np.ndarray, candidates: int) -> tuple[float, ...]:
    """recall@10, p50 and p95 of our search, and numpy brute force p50 (ms), the two alternated query by query."""
    truths = [set(np.argsort(-(vectors @ q))[:K]) for q in queries]
    for _ in range(2):  # the first pass warms up; the second is kept
        latency, brute, recall = [], [], []
        for q, truth in zip(queries, truths, strict=True):
            brute.append(brute_force_seconds(vectors, q, K))
            t = time.perf_counter()
            hits = store.nearest(spec.space, q, K, candidates=candidates)
            latency.append(time.perf_counter() - t)
            recall.append(len(truth & {int(h.name.split(".")[0]) for h in hits}) / K)
    p95 = statistics.quantiles(latency, n=20)[-1]
    return float(np.mean(recall)), statistics.median(latency) * 1000, p95 * 1000, statistics.median(brute) * 1000


def print_rows(columns: str, store: ImageStore, spec: ModelSpec, vectors: np.ndarray, queries: np.ndarray) -> None:
    """One table row per candidate count: the configuration's `columns`, then what `measure` finds."""
    for candidates in CANDIDATES:
        recall, p50, p95, brute = measure(store, spec, vectors, queries, candidates)
        print(f"| {columns} | {candidates} | {recall:.3f} | {p50:.1f} ms | {p95:.1f} ms | {brute:.1f} ms |", flush=True)


@pytest.mark.bench
def test_search_time_by_lucene_segments_and_quantization(server, lite):
    spec = lite.spec
    queries, vectors = bench_set(lite)
    print("\n| configuration | segments | build | candidates | recall@10 | p50 | p95 | numpy brute force p50 |")
    print("| --- " * 8 + "|")
    for label, settings, quantized in CONFIGS:
        with store_with(server, settings, "Scale") as (configured, store):
            if store._query("MATCH (i:Scale) RETURN count(i) AS n")[0]["n"] < SIZE:
                store._write(CREATE_CONSTRAINT)
                write_vectors(store, spec, vectors, 1000, "scale")
            store._write("DROP INDEX `{index}` IF EXISTS", {"index": store.index_name(spec.space)})
            started = time.perf_counter()
            index_id = create_index(store, spec, quantized)
            build = time.perf_counter() - started
            print_rows(f"{label} | {segments(configured, index_id)} | {build:.0f} s", store, spec, vectors, queries)


@pytest.mark.bench
def test_search_time_when_images_are_written_into_an_existing_index(server, lite):
    """How `index` builds it: the vector index exists first, and images arrive in transactions of 32."""
    spec = lite.spec
    queries, vectors = bench_set(lite)
    print(
        f"\n{SIZE:,} images written in transactions of {INDEXING_BATCH} into an existing index\n"
        "| configuration | write | merging after | segments | candidates | recall@10 | p50 | p95 | numpy brute force p50 |\n"
        + "| --- " * 9
        + "|"
    )
    for n, (label, settings, quantized) in enumerate(GROWTH_CONFIGS):
        with store_with(server, settings, f"Grown{n}") as (configured, store):
            store._write(CREATE_CONSTRAINT)
            index_id = create_index(store, spec, quantized)
            seconds = write_vectors(store, spec, vectors, INDEXING_BATCH, "grown")
            settle = wait_until_idle(configured)
            columns = f"{label} | {seconds:.0f} s | {settle:.0f} s | {segments(configured, index_id)}"
            print_rows(columns, store, spec, vectors, queries)
