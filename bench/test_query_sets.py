"""Benchmark: several examples per query (1, 2, 3 positives of the query's class, and one negative
from its most confused class), each way of combining them, and the threshold under which "nothing
in the catalogue looks much like this photo". Exact rankings in numpy over the bench photos' real
EfficientNet-Lite0 vectors (bench/vector_search.py does what the app's search does). The tables go
into docs/QUALITY.md. Run with `./test.sh bench -s -k query_sets`."""

from __future__ import annotations

import csv
from collections import Counter

import numpy as np
import pytest
from vector_search import default_scores, expand, scores

from retrieval.examples import combine
from tests.support.paths import BENCH
from tests.support.photos import bench_vectors

WEIGHTS = (0.25, 0.5, 1.0)


def bench_set(lite) -> tuple[np.ndarray, np.ndarray]:
    labels = np.array([row["label"] for row in csv.DictReader((BENCH / "labels.csv").open())])
    return bench_vectors(lite), labels


def most_confused(plain: np.ndarray, labels: np.ndarray) -> dict[str, str]:
    """For each class, the other class seen most often in its photos' plain top 40 (about a class's size)."""
    similarity = plain @ plain.T
    np.fill_diagonal(similarity, -np.inf)
    top = np.argsort(-similarity, axis=1)[:, :40]
    confused = {}
    for label in np.unique(labels):
        seen = Counter(labels[top[labels == label]].ravel())
        seen.pop(label, None)
        confused[label] = seen.most_common(1)[0][0]
    return confused


@pytest.mark.bench
def test_several_examples_each_way_of_combining_them(lite):
    plain, labels = bench_set(lite)
    confused = most_confused(plain, labels)
    rng = np.random.default_rng(18)
    members = {label: np.flatnonzero(labels == label) for label in np.unique(labels)}
    sets = []  # per query photo: three positives (itself first) and one negative
    for i, label in enumerate(labels):
        others = rng.permutation([j for j in members[label] if j != i])[:2]
        sets.append(([i, *others], int(rng.choice(members[confused[label]]))))
    print(
        f"\n{len(labels)} query photos; negatives from each class's most confused class, e.g. "
        + ", ".join(f"{c} -> {confused[c]}" for c in ("crocodile", "flamingo", "cup", "snoopy"))
    )
    print("| examples | way | mAP | P@10 |\n| --- | --- | --- | --- |")
    table = {}
    for positives in (1, 2, 3):
        for negative in (False, True):
            for weight in WEIGHTS if negative else (0.0,):
                used = [[*p[:positives], *([n] if negative else [])] for p, n in sets]
                pos = [[plain[j] for j in p[:positives]] for p, _ in sets]
                neg = [[plain[n]] if negative else [] for _, n in sets]
                combined = np.stack([combine(p, q, weight) for p, q in zip(pos, neg, strict=True)])
                expanded_each = np.stack(
                    [
                        combine(
                            list(expand(np.stack(p), plain, [u] * len(p))),
                            list(expand(np.stack(q), plain, [u])) if q else [],
                            weight,
                        )
                        for p, q, u in zip(pos, neg, used, strict=True)
                    ]
                )
                ways = {
                    "plain: combined vector vs own vectors": (scores, combined),
                    "default: combined, then expanded, re-ranked": (default_scores, expand(combined, plain, used)),
                    "default: each expanded, then combined, re-ranked": (default_scores, expanded_each),
                }
                name = f"{positives} positive{'s' if positives > 1 else ''}" + (f" + 1 negative (w {weight})" if negative else "")
                for way, (ranking, queries) in ways.items():
                    m, p10, _ = ranking(queries, plain, labels, labels, used)
                    table[(positives, negative, weight, way)] = (m, p10)
                    print(f"| {name} | {way} | {m:.3f} | {p10:.3f} |")
    default = "default: combined, then expanded, re-ranked"
    assert table[(3, False, 0.0, default)][0] > table[(1, False, 0.0, default)][0]


@pytest.mark.bench
def test_the_best_score_separates_a_class_in_the_catalogue_from_one_that_is_not(lite):
    """Each photo searched twice: against the other 1,964 (its class is there) and against the
    photos of the other 49 classes only (it is not).
    The threshold is the one that tells the two apart best (the most photos told right, both kinds
    counted alike)."""
    plain, labels = bench_set(lite)
    everyone = [[i] for i in range(len(labels))]
    present = {
        "default": default_scores(expand(plain, plain, everyone), plain, labels, labels, everyone)[2],
        "plain": scores(plain, plain, labels, labels, everyone)[2],
    }
    absent = {"default": np.empty(len(labels)), "plain": np.empty(len(labels))}
    for label in np.unique(labels):
        inside, outside = labels == label, labels != label
        rest, queries = plain[outside], plain[inside]
        none = [[]] * len(queries)
        absent["default"][inside] = default_scores(expand(queries, rest), rest, labels[outside], labels[inside], none)[2]
        absent["plain"][inside] = scores(queries, rest, labels[outside], labels[inside], none)[2]
    print("\n| search | class there: best p10 / p50 | class not there: p50 / p90 | threshold | told right: there / not |")
    print("| --- | --- | --- | --- | --- |")
    for search in ("default", "plain"):
        there, gone = present[search], absent[search]
        candidates = np.round(np.arange(0.3, 1.0, 0.01), 2)
        balanced = [((there >= t).mean() + (gone < t).mean()) / 2 for t in candidates]
        best = candidates[int(np.argmax(balanced))]
        print(
            f"| {search} | {np.quantile(there, 0.1):.3f} / {np.median(there):.3f} | {np.median(gone):.3f} / "
            f"{np.quantile(gone, 0.9):.3f} | {best:.2f} | {(there >= best).mean():.3f} / {(gone < best).mean():.3f} |"
        )
