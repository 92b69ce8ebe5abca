"""Benchmark: choose the duplicate tiers' thresholds. Bench photos, and beside some of them copies of
the same picture (re-saved, resized) and near-duplicates (crops, burst-like shifts, exposure, a slight
rotation), are indexed and linked. Printed: each kind's cosine to its original, with same-label and
other-label pairs of different photos; then, per tier, the groups' pairwise precision and recall at
each threshold against that tier's truth. A second test groups all 1,965 bench photos at the looser
thresholds both ways (connected components, and the similar tier's stars) to show how far groups chain.
Not part of the default tests; run with `pytest bench/test_duplicate_tiers.py -s -m bench`."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from retrieval.core.batches import chunks
from retrieval.duplicates import NEAR_DUPLICATE, SAME_PICTURE, SIMILAR, TIERS, outlines
from retrieval.indexing import index_folder
from retrieval.vision.decode import load_image
from tests.support.copies import NEAR, SAME, make_tiered_copies
from tests.support.paths import BENCH
from tests.support.server import empty_store

CLASSES = ["accordion", "bonsai", "buddha", "butterfly", "car_side", "cup", "dalmatian", "lamp", "llama", "umbrella"]
THRESHOLDS = [0.50, 0.55, 0.60, 0.65, 0.70, 0.75, 0.80, 0.85, 0.87, 0.89, 0.90, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97, 0.98]


def pairs(groups: Iterable[Iterable[str]]) -> set[frozenset[str]]:
    return {frozenset(pair) for group in groups for pair in combinations(sorted(group), 2)}


def quantiles(scores: Iterable[float]) -> str:
    values = np.array(list(scores))
    low, p5, median, p95 = np.quantile(values, [0, 0.05, 0.5, 0.95])
    return f"{low:.3f} | {p5:.3f} | {median:.3f} | {p95:.3f} | {values.max():.3f} | {len(values)}"


@pytest.mark.bench
def test_score_distributions_and_precision_and_recall_of_each_tier(driver, lite, tmp_path):
    built = make_tiered_copies(tmp_path / "photos", CLASSES, per_class=30, copied_every=6)
    store = empty_store(driver)
    report = index_folder(store, lite, tmp_path / "photos")
    paths = sorted(built.labels)
    embedded = [lite.embed([load_image(Path(p)) for p in batch]) for batch in chunks(paths, 32)]
    vectors = dict(zip(paths, np.concatenate(embedded), strict=True))
    print(f"\n{report.total} photos: {len(built.labels) - len(built.kinds)} originals, {len(built.near)} with copies")

    print("| pairs | lowest | 5th percentile | median | 95th percentile | highest | count |\n|" + " --- |" * 7)
    for kind in [*SAME, *NEAR]:
        scores = [float(vectors[copy] @ vectors[o]) for copy, (o, k) in built.kinds.items() if k == kind]
        print(f"| {'same picture' if kind in SAME else 'near-duplicate'}: {kind} | {quantiles(scores)} |")
    originals = [p for p in paths if p not in built.kinds]
    for same_label, title in [(True, "similar: same label, other photo"), (False, "other label")]:
        scores = [
            float(vectors[a] @ vectors[b])
            for a, b in combinations(originals, 2)
            if (built.labels[a] == built.labels[b]) == same_label
        ]
        print(f"| {title} | {quantiles(scores)} |")

    print("| kind | " + " | ".join(f"{t:.2f}" for t in THRESHOLDS) + " |\n|" + " --- |" * (len(THRESHOLDS) + 1))
    for kind in [*SAME, *NEAR]:
        scores = np.array([float(vectors[copy] @ vectors[o]) for copy, (o, k) in built.kinds.items() if k == kind])
        print(f"| {kind} | " + " | ".join(f"{np.mean(scores >= t):.2f}" for t in THRESHOLDS) + " |")

    truths = {
        "same": pairs(built.same),
        "near": pairs(built.near),
        "similar": {frozenset((a, b)) for a, b in combinations(paths, 2) if built.labels[a] == built.labels[b]},
    }
    assert [t.threshold for t in TIERS] == [SAME_PICTURE, NEAR_DUPLICATE, SIMILAR]
    links = store.similar_pairs(lite.spec.space, min(THRESHOLDS))
    results = {}
    columns = [f"{tier}: {measure}" for tier in truths for measure in ("precision", "recall")]
    print(f"| threshold | groups | {' | '.join(columns)} |\n|" + " --- |" * 8)
    for threshold in THRESHOLDS:
        groups = outlines(link for link in links if link[2] >= threshold)
        row = []
        for tier, truth in truths.items():
            grouped = groups if tier != "similar" else outlines((link for link in links if link[2] >= threshold), NEAR_DUPLICATE)
            found = pairs(g.paths for g in grouped)
            precision = len(found & truth) / len(found) if found else 1.0
            recall = len(found & truth) / len(truth)
            results[tier, threshold] = (precision, recall)
            row += [f"{precision:.3f}", f"{recall:.3f}"]
        print(f"| {threshold:.2f} | {len(groups)} | {' | '.join(row)} |")
    copies = {"same": truths["near"], "near": truths["near"], "similar": truths["similar"]}  # what each tier may hold
    for tier in TIERS:
        found = pairs(g.paths for g in outlines((link for link in links if link[2] >= tier.threshold), tier.transitive_from))
        assert len(found & copies[tier.name]) / len(found) >= 0.99, tier.name
    assert min(results["near", NEAR_DUPLICATE]) >= 0.9


@pytest.mark.bench
def test_similar_groups_on_the_whole_bench_do_not_chain_across_classes(driver, lite):
    root = BENCH
    with open(root / "labels.csv", newline="") as table:
        labels = {str(root / row["path"]): row["label"] for row in csv.DictReader(table)}
    store = empty_store(driver)
    report = index_folder(store, lite, root / "images")
    links = store.similar_pairs(lite.spec.space, 0.5)
    same_label = sum(n * (n - 1) // 2 for n in Counter(labels.values()).values())
    print(f"\n{report.total} photos, {len(links)} links at cosine >= 0.5")
    print("| threshold | grouping | groups | images in groups | largest 3 | pair precision | pair recall |\n|" + " --- |" * 7)
    precision = {}
    for threshold in (0.94, 0.89, 0.80, 0.70, 0.65, 0.60, 0.55, 0.50):
        kept = [link for link in links if link[2] >= threshold]
        for grouping, transitive_from in (("components", -1.0), ("stars (similar tier)", NEAR_DUPLICATE)):
            groups = outlines(kept, transitive_from)
            found = pairs(g.paths for g in groups)
            right = sum(1 for pair in found if len({labels[p] for p in pair}) == 1)
            precision[threshold, grouping] = right / len(found)
            sizes = sorted((len(g.paths) for g in groups), reverse=True)
            print(
                f"| {threshold:.2f} | {grouping} | {len(groups)} | {sum(sizes)} | {', '.join(map(str, sizes[:3]))} | "
                f"{right / len(found):.3f} | {right / same_label:.3f} |"
            )
    assert precision[SIMILAR, "stars (similar tier)"] >= 0.9 > precision[SIMILAR, "components"]
