"""Benchmark: the default search at 100,000 images, side by side with the plain one in one run, and
the three ways the candidates' vectors can reach the re-ranking, alternated query by query.

- One photo file to its top 12 (decode, embed, search), plain and default alternated, p50 and p95
  over 30 bench photos (not stored; the 100,000 are their noisy copies and the others'). The plain
  search is the same code as in the previous release, so default / plain is the figure to compare
  with the previous release's default / plain (docs/BENCHMARKS.md).
- The expanded query's 300 candidates from the index with their vectors: as float lists (the stored
  vector), as the float16 copy's bytes (what the search reads), and, on a Bolt 6 server, converted
  to the VECTOR type in Cypher (`neo4j.vector.Vector`); plus the candidates' paths alone (the
  index's own cost), each until the vectors are one numpy matrix.

Not part of the default tests; run with `./test.sh bench -s -k default_search_at_scale`."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from neo4j import Driver, GraphDatabase, RoutingControl

from retrieval.core.rerank import CANDIDATES
from retrieval.neo4j.base import parameter
from retrieval.neo4j.images import compact_vector
from retrieval.neo4j.store import ImageStore
from retrieval.search import expanded_query, search_file
from retrieval.vision.decode import load_image
from tests.support.machine import cpu_flags
from tests.support.paths import BENCH
from tests.support.photos import bench_vectors, noisy_copies
from tests.support.server import fresh_server, write_vectors

SIZE = 100_000
PHOTOS = 30
SEARCH = "MATCH (node:Image) SEARCH node IN (VECTOR INDEX image_efficientnet_lite0 FOR $vector LIMIT $m)"
QUERY_NODES = "CALL db.index.vector.queryNodes('image_efficientnet_lite0', $m, $vector) YIELD node"
SHIPPED = {
    "paths only (the index alone)": ("RETURN node.path AS path", None),
    "float lists": ("RETURN node.path AS path, node.embedding_efficientnet_lite0 AS v", compact_vector),
    "float16 bytes (the search's)": ("RETURN node.path AS path, node.embedding_efficientnet_lite0_f16 AS v", compact_vector),
    "VECTOR type": (
        "RETURN node.path AS path, vector(node.embedding_efficientnet_lite0, 1280, FLOAT32) AS v",
        lambda v: v.to_numpy(),
    ),
}


@pytest.fixture(scope="module")
def big(lite, request) -> Iterator[tuple[str, Driver]]:
    server = fresh_server("bench-default-scale", heap="1g", pagecache="2g", version=request.config.getoption("--neo4j"))
    server.start()
    with GraphDatabase.driver(server.uri, auth=("neo4j", server.password()), notifications_min_severity="OFF") as driver:
        store = ImageStore(driver)
        store.ensure_schema(lite.spec.space)
        write_vectors(store, lite.spec, noisy_copies(bench_vectors(lite), SIZE, np.random.default_rng(3)), 1000, "scale")
        store.ensure_schema(lite.spec.space, timeout=3600)
        yield server.version, driver
    server.stop()


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def ms(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ms (p95 {statistics.quantiles(values, n=20)[-1]:.1f})"


@pytest.mark.bench
@pytest.mark.speed
def test_default_search_at_100k_against_plain_and_how_candidates_travel(big, lite):
    version, driver = big
    store, spec = ImageStore(driver), lite.spec
    photos = sorted((BENCH / "images").rglob("*.jpg"))[7 :: 1965 // PHOTOS][:PHOTOS]
    for photo in photos[:3]:  # warm up the page cache, the plans and the model
        search_file(store, lite, photo, 12)
    latency: dict[bool, list[float]] = {True: [], False: []}
    for photo in photos:
        for plain in (True, False):  # alternated, so the machine's noise hits both alike
            latency[plain].append(timed(lambda photo=photo, plain=plain: search_file(store, lite, photo, 12, plain=plain)))
    print(f"\nNeo4j {version}, {SIZE:,} images, CPU flags: {cpu_flags()}")
    print(f"photo -> top 12, p50: plain {ms(latency[True])}, default {ms(latency[False])}, ", end="")
    print(f"default / plain {statistics.median(latency[False]) / statistics.median(latency[True]):.2f}")

    candidate_step = SEARCH if store.dialect.search_clause else QUERY_NODES
    prefix = store.dialect.prefix
    shipped = {name: ways for name, ways in SHIPPED.items() if store.dialect.search_clause or name != "VECTOR type"}
    queries = [expanded_query(store, spec, v) for v in lite.embed([load_image(p) for p in photos])]
    times: dict[str, list[float]] = {name: [] for name in shipped}
    for query in queries:
        for name, (returned, convert) in shipped.items():

            def fetch(
                returned: str = returned, convert: Callable[..., np.ndarray] | None = convert, query: np.ndarray = query
            ) -> None:
                records, _, _ = driver.execute_query(
                    f"{prefix}{candidate_step} {returned}",
                    {"vector": parameter(query), "m": CANDIDATES},
                    routing_=RoutingControl.READ,
                )
                if convert is not None:
                    np.stack([convert(r["v"]) for r in records])

            times[name].append(timed(fetch))
    print(f"\n| the {CANDIDATES} candidates of an expanded query, with | p50 (p95) |\n| --- | --- |")
    for name, values in times.items():
        print(f"| {name} | {ms(values)} |")
