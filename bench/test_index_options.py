"""Benchmark: which vector index options keep the true neighbours of real embeddings, on each server
line. For 5.26 LTS and the newest release, each quantization the line offers (5.26: int8 or none;
2026.08+: binary, int8 or none), on the 1,965 bench photos' real EfficientNet-Lite0 vectors and on
20,000 (those and noisy copies, as in test_search_scale.py): recall@10 against exact search of the
index's own top 10, and of our search (40 candidates rescored exactly). The table goes into
docs/NEO4J.md. Not part of the default tests; run with `./test.sh bench -s -k index_options`."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from neo4j import GraphDatabase

from retrieval.neo4j.schema import CREATE_CONSTRAINT, CREATE_VECTOR_INDEX
from retrieval.neo4j.server import LTS_VERSION, VERSIONS
from retrieval.neo4j.store import ImageStore
from tests.support.photos import bench_vectors, noisy_copies
from tests.support.server import fresh_server, write_vectors

SIZES = tuple(int(n) for n in os.environ.get("OPTIONS_SIZES", "1965,20000").split(","))
QUERIES = 50
K = 10
QUANTIZATIONS = {LTS_VERSION: ("int8", "none")}  # other lines: binary, int8, none


def config_for(store: ImageStore, dimensions: int, quantization: str) -> dict[str, object]:
    """The index options our store writes, with `quantization` in the line's own words."""
    config = store.dialect.index_configs(dimensions, quantized=quantization == "int8")[0]
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
                store.write(CREATE_CONSTRAINT)
                write_vectors(store, spec, vectors, 1000, f"options{size}")
                names = {"index": store.index_name(spec.space), "prop": spec.space.vector_property}
                for quantization in QUANTIZATIONS.get(version, ("binary", "int8", "none")):
                    store.write("DROP INDEX `{index}` IF EXISTS", names)
                    started = time.perf_counter()
                    store.write(CREATE_VECTOR_INDEX, names, config=config_for(store, spec.dimensions, quantization))
                    store.query("CALL db.awaitIndex($index, 3600)", index=names["index"])
                    build = time.perf_counter() - started
                    own, ours = [], []
                    for q, truth in zip(queries, truths, strict=True):
                        own.append(
                            len(truth & {int(p.rsplit("/", 1)[1].split(".")[0]) for p in store.index_ranking(space, q, K)}) / K
                        )
                        ours.append(
                            len(truth & {int(h.name.split(".")[0]) for h in store.nearest(spec.space, q, K, candidates=40)}) / K
                        )
                    rows.append((size, quantization, build, float(np.mean(own)), float(np.mean(ours))))
    finally:
        server.stop()
    print(f"\nNeo4j {version}\n| vectors | quantization | build | recall@10, index's top 10 | recall@10, ours (40 rescored) |")
    print("| --- " * 5 + "|")
    for size, quantization, build, own, ours in rows:
        print(f"| {size:,} | {quantization} | {build:.1f} s | {own:.3f} | {ours:.3f} |")
