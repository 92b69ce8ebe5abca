"""Benchmark: the database grown toward a million images, stored as our indexing stores them: each
node with its EfficientNet-Lite0 vector (1280-d), the vector's compact float16 copy, its SIMILAR_TO
list of 10 and the file properties; one vector index. Measured: write rate (vectors, then lists),
the vector index's build time, disk and memory per image, plain top-10 search p50/p95 and recall@10
against exact (with the store's default number of index candidates, then wider), the default search
(expanded query re-ranked by neighbourhood) p50/p95 and recall@10 against the same ranking done
exactly in numpy, lists of new images per image, and `index` of 1,000 real photos into that
database against their decode+embed time. The figures go into docs/BENCHMARKS.md ("The database at scale").
Not part of the default tests; run with `RETRIEVAL_SCALE_IMAGES=200000 ./test.sh bench -s -k database_at_scale`.
With `RETRIEVAL_SCALE_KEEP=1` the grown database is kept and a later run goes on from where the last
one stopped (vectors, lists, index build), so a million can be grown over several sittings; each
stage's figures are printed by the sitting that finished it. A sitting on a finished database
measures it again (search, lists, `index`, which `RETRIEVAL_SCALE_PHOTOS=0` leaves out); what
earlier sittings added stays, and counts in the plain search's exact answers.

The set: the 1,965 bench photos' real vectors, then copies of them with Gaussian noise (cosine ~0.9
to their source; tests.support.photos.noisy_copies). Each image's list is its 10 nearest among the
copies of the same source photo (exact within that family: a full exact k-NN of the set would cost
more CPU than the benchmark itself), with true cosines, written with the store's own statement. The
1,000 photos indexed into it are the sources of families."""

from __future__ import annotations

import os
import shutil
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from neo4j import Driver, GraphDatabase

from retrieval.core.blending import blend
from retrieval.core.rerank import CANDIDATES, ranked_rows
from retrieval.indexing import index_folder
from retrieval.neighbours import NEIGHBOURS, update_links
from retrieval.neo4j.images import Hit
from retrieval.neo4j.links import NeighbourList
from retrieval.neo4j.server import LocalNeo4j
from retrieval.neo4j.store import ImageStore
from retrieval.search import search_vector
from retrieval.vision.models import ModelSpec
from tests.support.machine import cpu_flags
from tests.support.paths import BENCH, PROJECT
from tests.support.photos import bench_vectors, noisy_copies
from tests.support.server import free_port, fresh_server, write_vectors

SIZE = int(os.environ.get("RETRIEVAL_SCALE_IMAGES", "200000"))
HEAP, PAGECACHE = os.environ.get("RETRIEVAL_SCALE_HEAP", "4g"), os.environ.get("RETRIEVAL_SCALE_PAGECACHE", "6g")
KEEP = os.environ.get("RETRIEVAL_SCALE_KEEP") == "1"
HOME = "bench-database-scale"
BATCH = 1000
LIST_BATCH = 500
QUERIES = 50
K = 10
NEW_LINKED = 200  # images added and linked one batch, to time linking per new image
NEW_PHOTOS = int(os.environ.get("RETRIEVAL_SCALE_PHOTOS", "1000"))  # real photos indexed into the grown database
SWEEP = (None, 100, 200, 400)  # index candidates per plain top 10: the store's default, then wider
GROWN = "/scale/"  # the grown set's paths; a kept database also holds what earlier sittings added after it
COUNT_GROWN = "MATCH (i:Image) WHERE i.path STARTS WITH $prefix AND i[$prop] IS NOT NULL RETURN count(i) AS n"
COUNT_LISTED = "MATCH (i:Image) WHERE i.path STARTS WITH $prefix AND i[$linked] IS NOT NULL RETURN count(i) AS n"
ADDED = "MATCH (i:Image) WHERE NOT i.path STARTS WITH $prefix AND i[$prop] IS NOT NULL RETURN i.path AS path, i[$prop] AS v"


@pytest.fixture(scope="module")
def big_server() -> Iterator[tuple[LocalNeo4j, Driver]]:
    if KEEP:  # the home's own line and data, as the last run left them
        server = LocalNeo4j(home=PROJECT / ".neo4j" / HOME, port=free_port(), heap=HEAP, pagecache=PAGECACHE)
        server.stop()
    else:
        server = fresh_server(HOME, heap=HEAP, pagecache=PAGECACHE)
    server.start()
    with GraphDatabase.driver(server.uri, auth=("neo4j", server.password()), notifications_min_severity="OFF") as driver:
        yield server, driver
    server.stop()
    if not KEEP:
        shutil.rmtree(server.data_dir, ignore_errors=True)


def family_lists(vectors: np.ndarray, families: int) -> list[list[tuple[int, float]]]:
    """Each row's NEIGHBOURS nearest rows among those of the same source photo (row % families), with cosines."""
    lists: list[list[tuple[int, float]]] = [[] for _ in range(len(vectors))]
    for family in range(families):
        rows = np.arange(family, len(vectors), families)
        scores = vectors[rows] @ vectors[rows].T
        np.fill_diagonal(scores, -2.0)
        for i, row in enumerate(rows):
            best = np.argsort(-scores[i])[: min(NEIGHBOURS, len(rows) - 1)]
            lists[row] = [(int(rows[j]), float(scores[i, j])) for j in best]
    return lists


def write_lists(
    store: ImageStore, spec: ModelSpec, vectors: np.ndarray, lists: list[list[tuple[int, float]]], first: int = 0
) -> float:
    """Seconds to write the lists of rows `first:` with the store's own statement (as `index` and `link`
    write them), in row order, so what a stopped run wrote is a prefix."""
    started = time.perf_counter()
    for start in range(first, len(vectors), LIST_BATCH):
        chunk = {
            f"/scale/{row}.jpg": NeighbourList(
                "", [Hit(f"/scale/{other}.jpg", f"{other}.jpg", score) for other, score in lists[row]]
            )
            for row in range(start, min(start + LIST_BATCH, len(vectors)))
        }
        store.write_lists(spec.space, chunk)
    return time.perf_counter() - started


def grow(store: ImageStore, driver: Driver, spec: ModelSpec, vectors: np.ndarray, lists: list[list[tuple[int, float]]]) -> None:
    """Store the vectors, then the lists, then build the index, each from where a kept database's last
    run stopped."""
    stored = driver.execute_query(COUNT_GROWN, prefix=GROWN, prop=spec.space.vector_property).records[0]["n"]
    listed = driver.execute_query(COUNT_LISTED, prefix=GROWN, linked=spec.space.linked_property).records[0]["n"]
    assert stored <= SIZE, f"{stored:,} images grown (a larger run's): remove .neo4j/{HOME} to grow it again"
    if stored:
        print(f"going on from the kept database: {stored:,} vectors and {listed:,} lists stored")
    else:  # the constraint and the index; dropped so the build is timed on its own, after the data
        store.ensure_schema(spec.space)
        driver.execute_query(f"DROP INDEX `{store.index_name(spec.space)}`")  # a name from the store (a checked identifier)
    if stored < SIZE:
        write = write_vectors(store, spec, vectors, BATCH, "scale", first=stored)
        print(f"write: vectors {write:.0f} s for {SIZE - stored:,} ({(SIZE - stored) / write:,.0f} images/s)")
    if listed < SIZE:
        link_write = write_lists(store, spec, vectors, lists, first=listed)
        print(f"write: lists {link_write:.0f} s for {SIZE - listed:,} ({(SIZE - listed) / link_write:,.0f} images/s)")
    indexes = {r["name"]: r["state"] for r in driver.execute_query("SHOW VECTOR INDEXES YIELD name, state").records}
    for name in (n for n, state in indexes.items() if state != "ONLINE"):  # a build a stopped run left: timed anew
        driver.execute_query(f"DROP INDEX `{name}`")
    built = {n for n, state in indexes.items() if state == "ONLINE"}
    build, _ = timed(lambda: store.ensure_schema(spec.space, timeout=6 * 3600))
    if not built:
        print(f"vector index built (after the data): {build:.0f} s")
    else:
        print(f"vector indexes built by an earlier run: {', '.join(sorted(built))}; {build:.0f} s for the rest")


def exact_top(vectors: np.ndarray, added: dict[str, np.ndarray], query: np.ndarray) -> set[str]:
    """The paths of the K images nearest `query` among all stored: the grown set and what earlier
    sittings added to a kept database (their photos and linked copies)."""
    scores = vectors @ query
    best = {f"{GROWN}{row}.jpg": float(scores[row]) for row in np.argpartition(-scores, K)[:K]}
    best.update((path, float(vector @ query)) for path, vector in added.items())
    return set(sorted(best, key=best.__getitem__, reverse=True)[:K])


def exact_default(vectors: np.ndarray, query: np.ndarray) -> set[str]:
    """The default search's top K over the grown set, done exactly: the query expanded with its exact
    NEIGHBOURS nearest, then the expanded query's CANDIDATES best re-ranked (retrieval/core/rerank.py)."""
    scores = vectors @ query
    nearest = np.argpartition(-scores, NEIGHBOURS)[:NEIGHBOURS]
    expanded = blend(query, [(vectors[row], float(scores[row])) for row in nearest])
    return {f"{GROWN}{row}.jpg" for row in ranked_rows(vectors, expanded, CANDIDATES)[:K]}


def du_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def rss_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) * 1024


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


@pytest.mark.bench
def test_the_database_grown_toward_a_million_images(big_server, lite, tmp_path):
    server, driver = big_server
    spec = lite.spec
    store = ImageStore(driver)
    print(f"\n{SIZE:,} images, heap {HEAP}, page cache {PAGECACHE}, {os.cpu_count()} cores, CPU flags: {cpu_flags()}")

    rng = np.random.default_rng(17)
    real = bench_vectors(lite)
    vectors = noisy_copies(real, SIZE, rng)
    queries = noisy_copies(real[rng.choice(len(real), QUERIES, replace=False)], 2 * QUERIES, rng)[QUERIES:]
    seconds, lists = timed(lambda: family_lists(vectors, len(real)))
    print(f"lists computed in numpy: {seconds:.0f} s")

    grow(store, driver, spec, vectors, lists)

    databases = server.data_dir / "databases" / "neo4j"
    disk = du_bytes(server.data_dir)
    index_disk = du_bytes(databases / "schema") if (databases / "schema").exists() else 0
    print(
        f"disk: {disk / 2**30:.2f} GiB in all, {disk / SIZE / 1024:.1f} KiB per image "
        f"(vector indexes {index_disk / 2**30:.2f} GiB, {index_disk / SIZE / 1024:.1f} KiB per image)"
    )

    added = {
        r["path"]: np.asarray(r["v"], dtype=np.float32)
        for r in driver.execute_query(ADDED, prefix=GROWN, prop=spec.space.vector_property).records
    }
    exact = [timed(lambda q=q: exact_top(vectors, added, q)) for q in queries]
    truths = [truth for _, truth in exact]
    print(f"exact top-10 in numpy (brute force, float32): p50 {statistics.median(t for t, _ in exact) * 1000:.0f} ms")
    for _ in range(5):  # warm the page cache and the query plans
        store.nearest(spec.space, queries[0], K)
    recalls = {}
    for candidates in SWEEP:
        latency, recall = [], []
        for q, truth in zip(queries, truths, strict=True):
            seconds, hits = timed(lambda q=q, c=candidates: store.nearest(spec.space, q, K, c))
            latency.append(seconds)
            recall.append(len(truth & {h.path for h in hits}) / K)
        recalls[candidates] = float(np.mean(recall))
        print(
            f"plain top-10, {candidates or 'default (max(4k, 40))'} index candidates: "
            f"p50 {statistics.median(latency) * 1000:.1f} ms, p95 {statistics.quantiles(latency, n=20)[-1] * 1000:.1f} ms, "
            f"recall@10 {recalls[candidates]:.3f} against exact ({len(vectors) + len(added):,} stored)"
        )
    default = [timed(lambda q=q: search_vector(store, spec, q, K)) for q in queries]
    found = [len(exact_default(vectors, q) & {h.path for h in hits}) / K for q, (_, hits) in zip(queries, default, strict=True)]
    latency = [t for t, _ in default]
    print(
        f"default search (expanded, re-ranked by neighbourhood): p50 {statistics.median(latency) * 1000:.1f} ms, "
        f"p95 {statistics.quantiles(latency, n=20)[-1] * 1000:.1f} ms, recall@10 {np.mean(found):.3f} "
        "against the same ranking done exactly in numpy"
    )
    print(f"server RSS after searching: {rss_bytes(server.status().pid) / 2**30:.2f} GiB")

    new = noisy_copies(real[rng.choice(len(real), NEW_LINKED, replace=False)], 2 * NEW_LINKED, rng)[NEW_LINKED:]
    write_vectors(store, spec, new, NEW_LINKED, f"scale-new-{time.strftime('%Y%m%d-%H%M%S')}")
    seconds, report = timed(lambda: update_links(store, spec, everything=False))
    print(
        f"lists of {NEW_LINKED} new images into {SIZE:,}: {seconds:.1f} s, {seconds / NEW_LINKED * 1000:.0f} ms per new image "
        f"({report.linked} lists written)"
    )

    folder = tmp_path / "photos"
    folder.mkdir()
    for photo in sorted((BENCH / "images").rglob("*.jpg"))[:NEW_PHOTOS]:
        (folder / f"{photo.parent.name}_{photo.name}").symlink_to(photo)
    indexed = index_folder(store, lite, folder)
    print(
        f"index of {NEW_PHOTOS:,} new photos into it: {indexed.summary()}; {indexed.timings()}; "
        f"{indexed.links.linked if indexed.links else 0} lists written; "
        f"{indexed.seconds / max(indexed.embed_seconds, 1e-9):.2f}x their decode+embed time"
    )
    print(
        f"server RSS at the end: {rss_bytes(server.status().pid) / 2**30:.2f} GiB; "
        f"disk {du_bytes(server.data_dir) / 2**30:.2f} GiB"
    )
    assert indexed.new == NEW_PHOTOS
    assert recalls[None] >= 0.85 and recalls[SWEEP[-1]] >= 0.9
