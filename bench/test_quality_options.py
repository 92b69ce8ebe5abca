"""Benchmark: each way of ranking on ../shared/bench (exact, over the same stored vectors) and
what it adds to a search's latency through Neo4j, side by side in one run. The table goes into
docs/QUALITY.md. Not part of the default tests; run with `./test.sh bench -s -k quality_options`."""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest

from retrieval.core.blending import blend
from retrieval.core.metrics import average_precision, exact_ranking, precision_at
from retrieval.evaluate import EVALUATION_LABEL, prepare, read_labelled_set
from retrieval.neighbours import NEIGHBOURS
from retrieval.neo4j.store import ImageStore
from retrieval.search import search_vector
from tests.support.paths import BENCH

LATENCY_QUERIES = 60


def scores(queries: np.ndarray, database: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    """Exact leave-one-out mAP, P@1, P@10 of ranking `database` rows by their dot product with each query row."""
    aps, p1, p10 = [], [], []
    for i, query in enumerate(queries):
        ranking = exact_ranking(database, labels, query, i)
        aps.append(average_precision(ranking, int((labels == labels[i]).sum()) - 1))
        p1.append(precision_at(ranking, 1))
        p10.append(precision_at(ranking, 10))
    return float(np.mean(aps)), float(np.mean(p1)), float(np.mean(p10))


@pytest.mark.bench
def test_quality_and_latency_of_each_ranking_option(driver, lite):
    dataset = read_labelled_set(BENCH)
    store = ImageStore(driver, label=EVALUATION_LABEL)
    prepare(store, lite, dataset)
    spec = lite.spec
    stored, blended = store.vectors(spec.space), store.vectors(spec.space.blended)
    paths = [p for p in dataset.labels if p in stored]
    labels = np.array([dataset.labels[p] for p in paths])
    plain = np.stack([stored[p] for p in paths])
    augmented = np.stack([blended[p] for p in paths])
    similarity = plain @ plain.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = np.argsort(-similarity, axis=1)[:, :NEIGHBOURS]
    expanded = np.stack([blend(plain[i], [(plain[j], float(similarity[i, j])) for j in nearest[i]]) for i in range(len(paths))])

    timings: dict[bool, list[float]] = {True: [], False: []}
    for path in paths[:: len(paths) // LATENCY_QUERIES][:LATENCY_QUERIES]:
        for is_plain in (True, False):  # interleaved, so the machine's noise hits both alike
            started = time.perf_counter()
            search_vector(store, spec, stored[path], 12, plain=is_plain)
            timings[is_plain].append(time.perf_counter() - started)
    p50 = {k: statistics.median(v) * 1000 for k, v in timings.items()}

    added = f"{p50[False] - p50[True]:+.0f} ms (a second search)"
    rows = [
        ("plain cosine", scores(plain, plain, labels), "0"),
        (f"query expansion ({NEIGHBOURS} neighbours, cos^3)", scores(expanded, plain, labels), added),
        (f"database-side augmentation ({NEIGHBOURS} neighbours, cos^3)", scores(plain, augmented, labels), "0 (at index time)"),
        ("both (the default)", scores(expanded, augmented, labels), added),
    ]
    print(f"\n{len(paths)} photos; search p50, k=12, {LATENCY_QUERIES} queries: plain {p50[True]:.1f}, default {p50[False]:.1f}")
    print("| search | mAP | P@1 | P@10 | added latency |\n| --- | --- | --- | --- | --- |")
    for name, (m, p1, p10), latency in rows:
        print(f"| {name} | {m:.3f} | {p1:.3f} | {p10:.3f} | {latency} |")
    assert rows[3][1][0] >= 0.85 and rows[3][1][1] >= rows[0][1][1]
