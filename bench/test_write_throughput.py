"""Benchmark: writing 2,000 vectors of 2,048 floats (ResNet50's size) into Neo4j, side by side in one
process against one server: the seed recipe's loop (a session and a `CREATE` per image) against
ours (`ImageStore.upsert`: one transaction per batch, `UNWIND` + `MERGE` on the path, the vector
stored as a float32 array with `db.create.setNodeVectorProperty`). Both labels have a vector index
on their vectors, so both pay for indexing. Goal: ours >= 50x the seed's vectors per second.
Not part of the default tests; run with `./test.sh bench -s -k write_throughput`."""

from __future__ import annotations

import time

import numpy as np
import pytest
from neo4j import Driver

from retrieval.neo4j.schema import CREATE_CONSTRAINT
from retrieval.neo4j.store import ImageStore
from retrieval.vision.models import MODELS
from tests.support.server import write_vectors

VECTORS = 2000
BATCH = 500
SEED_INDEX = (
    "CREATE VECTOR INDEX seed_embedding IF NOT EXISTS FOR (i:SeedImage) ON i.embedding "
    "OPTIONS {indexConfig: {`vector.dimensions`: 2048, `vector.similarity_function`: 'cosine'}}"
)
SEED_CREATE = "CREATE (:SeedImage {path: $path, name: $name, embedding: $embedding})"


def seed_loop(driver: Driver, vectors: np.ndarray) -> float:
    """The seed recipe: one session and one auto-commit CREATE per image. Returns seconds."""
    started = time.perf_counter()
    for i, vector in enumerate(vectors):
        with driver.session() as session:
            session.run(SEED_CREATE, path=f"/seed/{i}.jpg", name=f"{i}.jpg", embedding=vector.tolist()).consume()
    return time.perf_counter() - started


@pytest.mark.bench
@pytest.mark.speed
def test_batched_writes_against_the_seed_loop(driver):
    spec = MODELS["resnet50"]
    vectors = np.random.default_rng(3).normal(size=(VECTORS, spec.dimensions)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    results = {}
    for indexed in (False, True):  # without a vector index, then with one kept up to date by every commit
        driver.execute_query("MATCH (n:SeedImage|WriteBench) DETACH DELETE n")
        for record in driver.execute_query("SHOW INDEXES YIELD name, type WHERE type = 'VECTOR' RETURN name").records:
            driver.execute_query(f"DROP INDEX `{record['name']}`")  # bench-made names only
        store = ImageStore(driver, label="WriteBench")
        store._write(CREATE_CONSTRAINT)
        if indexed:
            driver.execute_query(SEED_INDEX)
            store.ensure_schema(spec.space)
        results[indexed] = (seed_loop(driver, vectors), write_vectors(store, spec, vectors, BATCH, "ours"))
        assert store.count_vectors(spec.space) == VECTORS
        assert driver.execute_query("MATCH (i:SeedImage) RETURN count(i) AS n").records[0]["n"] == VECTORS
    print(f"\n{VECTORS} vectors of {spec.dimensions} floats, ours in batches of {BATCH}:")
    for indexed, (seed, ours) in results.items():
        print(
            f"{'with' if indexed else 'without'} a vector index: seed loop {seed:.1f} s ({VECTORS / seed:.0f}/s); "
            f"ours {ours:.2f} s ({VECTORS / ours:.0f}/s); ratio {seed / ours:.1f}x"
        )
    assert results[False][0] / results[False][1] >= 50
