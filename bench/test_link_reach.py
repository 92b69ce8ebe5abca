"""Benchmark: how many index candidates a new image needs to find the lists it enters. A new image
must join the list of every stored image it is closer to than that list's lowest score; nearness is
not symmetric, so those images can rank far down the new image's own ranking. For 300 new photos
(mirrored bench photos) into 10,000 stored and linked images (bench vectors and noisy copies, as in
test_index_end_to_end.py), each candidate count's ENTERING query (candidates rescored exactly, full
lists of closer neighbours left out) against the exact answer from numpy: entries found and ms per
photo. The figures chose `REACH` (retrieval/neighbours.py; docs/BENCHMARKS.md). Run with
`./test.sh bench -s -k link_reach`."""

from __future__ import annotations

import time

import numpy as np
import pytest
from neo4j import GraphDatabase

from bench.test_index_end_to_end import STORED, mirrored
from retrieval.core.batches import chunks
from retrieval.neighbours import NEIGHBOURS, REACH, update_links
from retrieval.neo4j.store import ImageStore
from retrieval.vision.decode import load_image
from tests.support.machine import cpu_flags
from tests.support.paths import BENCH
from tests.support.photos import bench_vectors, noisy_copies
from tests.support.server import fresh_server, write_vectors

CANDIDATES = (100, 150, 200, 300, 404)


@pytest.mark.bench
def test_candidates_a_new_image_needs_to_find_every_list_it_enters(lite, tmp_path):
    spec = lite.spec
    stored = noisy_copies(bench_vectors(lite), STORED, np.random.default_rng(0))
    photos = mirrored(sorted((BENCH / "images").rglob("*.jpg"))[::6][:300], tmp_path / "new")
    new = np.concatenate([lite.embed([load_image(p) for p in batch]) for batch in chunks(photos, 32)])
    server = fresh_server("bench-reach", heap="2g", pagecache="2g")
    server.start()
    try:
        with GraphDatabase.driver(server.uri, auth=("neo4j", server.password()), notifications_min_severity="OFF") as driver:
            store = ImageStore(driver)
            store.ensure_schema(spec.space)
            write_vectors(store, spec, stored, 1000, "stored")
            update_links(store, spec)
            write_vectors(store, spec, new, 100, "new")  # stored, not linked: as `index` leaves them before linking

            similarities = stored @ stored.T
            np.fill_diagonal(similarities, -2)
            floors = np.sort(similarities, axis=1)[:, -NEIGHBOURS]
            truth = {(f"/new/{a}.jpg", f"/stored/{b}.jpg") for a, b in zip(*np.nonzero(new @ stored.T > floors), strict=True)}
            paths = [f"/new/{i}.jpg" for i in range(len(new))]
            print(f"\nNeo4j {server.version}; CPU flags: {cpu_flags()}; {len(new)} new photos into {STORED:,}")
            print(f"{len(truth):,} list entries to find (exact, numpy); REACH is {REACH}")
            print("| candidates | entries found | ms per photo |\n| --- | --- | --- |")
            for candidates in CANDIDATES:
                started = time.perf_counter()
                found = {
                    (path, hit.path)
                    for batch in chunks(paths, 100)
                    for path, hits in store.entering(spec.space, batch, candidates, -1.0).items()
                    for hit in hits
                    if hit.path.startswith("/stored/")
                }
                ms = (time.perf_counter() - started) * 1000 / len(paths)
                print(f"| {candidates} | {len(truth & found):,} ({len(truth & found) / len(truth):.1%}) | {ms:.1f} |")
    finally:
        server.stop()
