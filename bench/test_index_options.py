"""Benchmark: which vector index options keep the true neighbours of real embeddings, on each server
line. For 5.26 LTS and the newest release, each quantization the line offers (5.26: int8 or none;
2026.08+: binary, int8 or none), on the 1,965 bench photos' real EfficientNet-Lite0 vectors and on
20,000 (those and noisy copies, as in test_search_scale.py): recall@10 against exact search of the
index's own top 10, and of our search (40 candidates rescored exactly, or OPTIONS_CANDIDATES), with
its p50 beside numpy's exact search over the same vectors. OPTIONS_SIZES, OPTIONS_QUANTIZATIONS and
OPTIONS_HNSW (m:ef_construction pairs) choose what is built. The table goes into docs/NEO4J.md.
Not part of the default tests; run with `./test.sh bench -s -k index_options`."""

from __future__ import annotations

import os
import time
from itertools import product

import numpy as np
import pytest
from neo4j import GraphDatabase

from retrieval.neo4j.dialect import HNSW_EF_CONSTRUCTION, HNSW_M
from retrieval.neo4j.java import LTS_VERSION, VERSIONS
from retrieval.neo4j.schema import CREATE_CONSTRAINT, CREATE_VECTOR_INDEX
from retrieval.neo4j.store import ImageStore
from tests.support.machine import cpu_flags
from tests.support.photos import bench_vectors, brute_force_seconds, noisy_copies
from tests.support.server import fresh_server, write_vectors

SIZES = tuple(int(n) for n in os.environ.get("OPTIONS_SIZES", "1965,20000").split(","))
QUERIES = 50
K = 10
QUANTIZATIONS = {LTS_VERSION: ("int8", "none")}  # other lines: binary, int8, none
ASKED = os.environ.get("OPTIONS_QUANTIZATIONS")  # e.g. "int8": only those
# HNSW graphs to build, m:ef_construction (OPTIONS_HNSW="16:100,32:200"); the store's own by default.
CANDIDATES = tuple(int(n) for n in os.environ.get("OPTIONS_CANDIDATES", "40").split(","))  # rescored exactly by ours
GRAPHS = [
    tuple(int(x) for x in pair.split(":"))
    for pair in os.environ.get("OPTIONS_HNSW", f"{HNSW_M}:{HNSW_EF_CONSTRUCTION}").split(",")
]


def config_for(store: ImageStore, dimensions: int, quantization: str, m: int, ef_construction: int) -> dict[str, object]:
    """The index options our store writes, with `quantization` in the line's own words."""
    config = store.dialect.index_configs(dimensions, quantization == "int8", m, ef_construction)[0]
    if quantization == "binary":
        config["vector.quantization.type"] = "BINARY"
    return config


@pytest.mark.bench
@pytest.mark.parametrize("version", VERSIONS)
def test_recall_of_each_quantization_on_real_embeddings(lite, version):
    spec = lite.spec
    space = spec.space
    rng = np.random.default_rng(11)
    real = bench_vectors(lite)
    queries = noisy_copies(real[rng.choice(len(real), QUERIES, replace=False)], 2 * QUERIES, rng)[QUERIES:]
    server = fresh_server("bench-options", heap="1g", pagecache="1g", version=version)
    server.start()
    auth = ("neo4j", server.password())
    rows = []
    try:
        with GraphDatabase.driver(server.uri, auth=auth, notifications_min_severity="OFF") as driver:
            for size in SIZES:
                vectors = noisy_copies(real, size, rng)
                truths = [set(np.argsort(-(vectors @ q))[:K]) for q in queries]
                store = ImageStore(driver, label=f"Options{size}")
                store._write(CREATE_CONSTRAINT)
                write_vectors(store, spec, vectors, 1000, f"options{size}")
                names = {"index": store.index_name(spec.space), "prop": spec.space.vector_property}
                offered = QUANTIZATIONS.get(version, ("binary", "int8", "none"))
                for quantization, (m, ef) in product([q for q in offered if not ASKED or q in ASKED.split(",")], GRAPHS):
                    store._write("DROP INDEX `{index}` IF EXISTS", names)
                    started = time.perf_counter()
                    store._write(CREATE_VECTOR_INDEX, names, config=config_for(store, spec.dimensions, quantization, m, ef))
                    store._query("CALL db.awaitIndex($index, 3600)", index=names["index"])
                    build = time.perf_counter() - started
                    own = [
                        len(truth & {int(p.rsplit("/", 1)[1].split(".")[0]) for p in store.index_ranking(space, q, K)}) / K
                        for q, truth in zip(queries, truths, strict=True)
                    ]
                    for candidates in CANDIDATES:
                        ours, seconds, numpy_seconds = [], [], []
                        for q, truth in zip(queries, truths, strict=True):
                            clock = time.perf_counter()
                            hits = store.nearest(spec.space, q, K, candidates=candidates)
                            seconds.append(time.perf_counter() - clock)
                            numpy_seconds.append(brute_force_seconds(vectors, q, K))  # alternated query by query
                            ours.append(len(truth & {int(h.name.split(".")[0]) for h in hits}) / K)
                        p50s = (float(np.median(seconds)) * 1000, float(np.median(numpy_seconds)) * 1000)
                        options = f"{quantization}, m {m}, ef_construction {ef}"
                        rows.append((size, options, build, np.mean(own), candidates, np.mean(ours), p50s))
    finally:
        server.stop()
    print(f"\nNeo4j {version}; CPU flags: {cpu_flags()}")
    print("| vectors | options | build | recall@10, index's top 10 | candidates | recall@10, ours | ours p50 ms | numpy p50 ms |")
    print("| --- " * 8 + "|")
    for size, options, build, own, candidates, ours, (p50, numpy_p50) in rows:
        print(f"| {size:,} | {options} | {build:.1f} s | {own:.3f} | {candidates} | {ours:.3f} | {p50:.1f} | {numpy_p50:.1f} |")
