"""Benchmark: each way of ranking on ../shared/bench (exact, leave-one-out over the same stored
vectors) and the default search's latency through Neo4j against the plain one, side by side in one
run: plain cosine; query expansion alone; the previous release's default (expansion against vectors
blended with their 10 nearest in the whole collection, kept in the database); the default now (the
expanded query's M best candidates, each blended with its 10 nearest among those M) for several M,
on the float32 vectors and on the float16 copies the search reads. The table goes into
docs/QUALITY.md ("Ranking at search time"). Not part of the default tests; run with
`./test.sh bench -s -k quality_options`."""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest

from retrieval.core.rerank import CANDIDATES, NEIGHBOURS
from retrieval.evaluate import EVALUATION_LABEL, prepare, read_labelled_set
from retrieval.neo4j.store import ImageStore
from retrieval.search import search_vector
from tests.support.machine import cpu_flags
from tests.support.paths import BENCH
from tests.support.ranking import scores, with_neighbours

LATENCY_QUERIES = 60
DEPTHS = (100, 200, 300, 400)


@pytest.mark.bench
def test_quality_and_latency_of_each_ranking_option(driver, lite):
    dataset = read_labelled_set(BENCH)
    store = ImageStore(driver, label=EVALUATION_LABEL)
    prepare(store, lite, dataset)
    spec = lite.spec
    stored = store.vectors(spec.space)
    paths = [p for p in dataset.labels if p in stored]
    labels = np.array([dataset.labels[p] for p in paths])
    plain = np.stack([stored[p] for p in paths])
    compact = plain.astype(np.float16).astype(np.float32)
    expanded = with_neighbours(plain, plain)  # the query expansion: the same blend, for each photo as a query
    augmented = expanded  # the previous release's stored blended vectors: each photo with its 10 nearest

    timings: dict[bool, list[float]] = {True: [], False: []}
    for path in paths[:: len(paths) // LATENCY_QUERIES][:LATENCY_QUERIES]:
        for is_plain in (True, False):  # interleaved, so the machine's noise hits both alike
            started = time.perf_counter()
            search_vector(store, spec, stored[path], 12, plain=is_plain)
            timings[is_plain].append(time.perf_counter() - started)
    p50 = {k: statistics.median(v) * 1000 for k, v in timings.items()}

    rows = [
        ("plain cosine", scores(plain, plain, labels)),
        (f"query expansion alone ({NEIGHBOURS} neighbours, cos^3)", scores(expanded, plain, labels)),
        ("previous default: expansion against stored blended vectors", scores(expanded, augmented, labels)),
        *((f"default: expansion, {m} candidates re-ranked by neighbourhood", scores(expanded, plain, labels, m)) for m in DEPTHS),
        (
            f"the same, {CANDIDATES} candidates, on the float16 copies",
            scores(expanded, plain, labels, CANDIDATES, rows=compact),
        ),
    ]
    print(f"\n{len(paths)} photos; CPU flags: {cpu_flags()}")
    print(f"search p50 through Neo4j, k=12, {LATENCY_QUERIES} stored vectors as queries: plain {p50[True]:.1f} ms, ", end="")
    print(f"default ({CANDIDATES} candidates) {p50[False]:.1f} ms")
    print("| search | mAP | P@1 | P@10 |\n| --- | --- | --- | --- |")
    for name, (m, p1, p10) in rows:
        print(f"| {name} | {m:.3f} | {p1:.3f} | {p10:.3f} |")
    previous, shipped = rows[2][1], rows[3 + DEPTHS.index(CANDIDATES)][1]
    assert all(abs(a - b) <= 0.005 for a, b in zip(previous, shipped, strict=True))
