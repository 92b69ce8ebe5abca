"""Benchmark: the two server lines side by side in one run, each on the Java `find_java` picks for it
(5.26 LTS, and the newest release), each on a server of the benchmark's own (heap 2 GB, page cache
3 GB), one after the other. Per line: writes of 2,000 vectors of 2,048 floats into an indexed label;
search at 10,000 and 100,000 real-based vectors (the bench photos' EfficientNet-Lite0 vectors and
noisy copies, as in test_search_scale.py): index build time, p50 and p95 of our top-10 search and its
recall@10 against exact search for 40 and 100 candidates, numpy's exact brute force over the same
vectors alternated query by query, and the server's memory; on a Bolt 6 server, the query vector
sent as a list of floats against `neo4j.vector.Vector`, alternated; and one photo file to its top 12
among the 1,965 bench photos. The tables go into docs/BENCHMARKS.md.
Run with `./test.sh bench -s -k side_by_side` (part of the speed suite)."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from neo4j import GraphDatabase
from neo4j.vector import Vector

from retrieval.indexing import index_folder
from retrieval.neo4j.base import parameter
from retrieval.neo4j.java import VERSIONS, find_java
from retrieval.neo4j.nearest import NEAREST
from retrieval.neo4j.schema import CREATE_CONSTRAINT
from retrieval.neo4j.store import ImageStore
from retrieval.search import search_file
from retrieval.vision.models import MODELS
from tests.support.machine import cpu_flags
from tests.support.paths import BENCH
from tests.support.photos import bench_vectors, brute_force_seconds, noisy_copies
from tests.support.server import fresh_server, write_vectors

SIZES = (10_000, 100_000)
CANDIDATES = (40, 100)
QUERIES = 50
K = 10
WRITES = 2000
PHOTO_QUERIES = 20


@dataclass
class Search:
    size: int
    build: float
    memory: float  # server RSS, MiB, after the searches
    brute_p50: float
    figures: dict[int, tuple[float, float, float]] = field(default_factory=dict)  # candidates -> recall, p50, p95


@dataclass
class Line:
    version: str
    java: str
    writes: float = 0.0
    searches: list[Search] = field(default_factory=list)
    vector_param: tuple[float, float] | None = None  # p50 ms: list of floats, Vector
    photo_p50: tuple[float, float] = (0.0, 0.0)  # plain, default


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024


def p50_p95(seconds: list[float]) -> tuple[float, float]:
    return statistics.median(seconds) * 1000, statistics.quantiles(seconds, n=20)[-1] * 1000


def measure_line(version: str, lite, vectors: np.ndarray, queries: np.ndarray) -> Line:
    spec = lite.spec
    line = Line(version, str(find_java(version)))
    server = fresh_server("bench-lines", heap="2g", pagecache="3g", version=version)
    server.start()
    auth = ("neo4j", server.password())
    try:
        with GraphDatabase.driver(server.uri, auth=auth, notifications_min_severity="OFF") as driver:
            wide = MODELS["resnet50"]
            writes = ImageStore(driver, label="WriteBench")
            writes.ensure_schema(wide.space)
            rng = np.random.default_rng(3)
            wide_vectors = rng.normal(size=(WRITES, wide.dimensions)).astype(np.float32)
            line.writes = write_vectors(
                writes, wide, wide_vectors / np.linalg.norm(wide_vectors, axis=1, keepdims=True), 500, "w"
            )

            store = ImageStore(driver, label="Scale")
            store._write(CREATE_CONSTRAINT)
            written = 0
            for size in SIZES:  # grown from one size to the next; the index built over the data each time
                write_vectors(store, spec, vectors[:size], 1000, "scale", first=written)
                written = size
                store._write("DROP INDEX `{index}` IF EXISTS", {"index": store.index_name(spec.space)})
                started = time.perf_counter()
                store.ensure_schema(spec.space, timeout=3600)
                search = Search(size, time.perf_counter() - started, 0.0, 0.0)
                line.searches.append(search)
                subset = vectors[:size]
                truths = [set(np.argsort(-(subset @ q))[:K]) for q in queries]
                for _ in range(2):  # the first pass warms up; the second is kept
                    brute, timings = [], {c: ([], []) for c in CANDIDATES}
                    for q, truth in zip(queries, truths, strict=True):
                        brute.append(brute_force_seconds(subset, q, K))
                        for candidates, (latency, recall) in timings.items():
                            t = time.perf_counter()
                            hits = store.nearest(spec.space, q, K, candidates=candidates)
                            latency.append(time.perf_counter() - t)
                            recall.append(len(truth & {int(h.name.split(".")[0]) for h in hits}) / K)
                search.brute_p50 = statistics.median(brute) * 1000
                search.figures = {c: (float(np.mean(r)), *p50_p95(lat)) for c, (lat, r) in timings.items()}
                search.memory = rss_mib(server.status().pid)
            if driver.get_server_info().protocol_version >= (6, 0):
                line.vector_param = vector_parameter_p50(store, spec, queries)
            photos = ImageStore(driver)
            index_folder(photos, lite, BENCH / "images")
            line.photo_p50 = photo_to_top_12(photos, lite)
    finally:
        server.stop()
    return line


def vector_parameter_p50(store: ImageStore, spec, queries: np.ndarray) -> tuple[float, float]:
    """p50 (ms) of one top-10 search with the query vector sent as a list of floats and as a Vector
    (Bolt 6's vector type), alternated query by query, each including its conversion from numpy."""
    names = {"prop": spec.space.vector_property, "index": store.index_name(spec.space)}
    params = {"index": store.index_name(spec.space), "k": K, "candidates": 40}
    as_list, as_vector = [], []
    for _ in range(2):
        as_list.clear()
        as_vector.clear()
        for q in queries:
            t = time.perf_counter()
            store._query(NEAREST, names, vector=parameter(q), **params)
            as_list.append(time.perf_counter() - t)
            t = time.perf_counter()
            store._query(NEAREST, names, vector=Vector(q.astype(np.float32)), **params)
            as_vector.append(time.perf_counter() - t)
    return statistics.median(as_list) * 1000, statistics.median(as_vector) * 1000


def photo_to_top_12(store: ImageStore, lite) -> tuple[float, float]:
    """p50 (ms) of a photo file to its top 12 (decode, embed, search), plain and default, alternated."""
    photos = sorted((BENCH / "images").rglob("*.jpg"))[:: 1965 // (PHOTO_QUERIES + 2)][: PHOTO_QUERIES + 2]
    seconds: dict[bool, list[float]] = {True: [], False: []}
    for i, photo in enumerate(photos):
        for plain in (True, False):
            started = time.perf_counter()
            assert len(search_file(store, lite, photo, k=12, plain=plain)) == 12
            if i >= 2:
                seconds[plain].append(time.perf_counter() - started)
    return statistics.median(seconds[True]) * 1000, statistics.median(seconds[False]) * 1000


@pytest.mark.bench
@pytest.mark.speed
def test_both_server_lines_side_by_side(lite):
    rng = np.random.default_rng(11)
    real = bench_vectors(lite)
    queries = noisy_copies(real[rng.choice(len(real), QUERIES, replace=False)], 2 * QUERIES, rng)[QUERIES:]
    vectors = noisy_copies(real, max(SIZES), rng)
    lines = [measure_line(version, lite, vectors, queries) for version in VERSIONS]

    print(f"\nCPU flags: {cpu_flags()}")
    print("| Neo4j | Java | 2,000 writes | vectors | index build | candidates | recall@10 | p50 | p95 | numpy p50 | server RSS |")
    print("| --- " * 11 + "|")
    for line in lines:
        for s in line.searches:
            for candidates, (recall, p50, p95) in s.figures.items():
                print(
                    f"| {line.version} | {line.java.split(' (')[0]} | {line.writes:.2f} s | {s.size:,} | {s.build:.1f} s "
                    f"| {candidates} | {recall:.3f} | {p50:.1f} ms | {p95:.1f} ms | {s.brute_p50:.1f} ms | {s.memory:,.0f} MiB |"
                )
    print("\n| Neo4j | photo -> top 12, plain p50 | default p50 | query vector as floats, p50 | as Vector, p50 |")
    print("| --- " * 5 + "|")
    for line in lines:
        floats, vector = line.vector_param or (None, None)
        shown = f"{floats:.1f} ms | {vector:.1f} ms" if floats else "- | - (Bolt 5)"
        print(f"| {line.version} | {line.photo_p50[0]:.0f} ms | {line.photo_p50[1]:.0f} ms | {shown} |")
    for line in lines:
        print(f"{line.version}: {line.java}")
