"""Benchmark: choose the near-duplicate threshold. Bench photos with altered copies of some of them
(re-encoded, halved, cropped, mirrored) are indexed and linked; at each threshold the groups are
scored pairwise against the truth (a copy belongs with its original and its sibling copies, nothing
else). Not part of the default tests; run with `./test.sh bench -s -k duplicate_threshold`."""

from __future__ import annotations

from itertools import combinations

import pytest

from retrieval.duplicates import NEAR_DUPLICATE, outlines
from retrieval.indexing import index_folder
from tests.support.photos import make_near_duplicates
from tests.support.server import empty_store

CLASSES = ["accordion", "bonsai", "buddha", "butterfly", "car_side", "cup", "dalmatian", "lamp", "llama", "umbrella"]


def pairs(groups) -> set[frozenset[str]]:
    return {frozenset(pair) for group in groups for pair in combinations(sorted(group), 2)}


@pytest.mark.bench
def test_precision_and_recall_of_near_duplicate_groups_by_threshold(driver, lite, tmp_path):
    truth = make_near_duplicates(tmp_path / "photos", CLASSES, per_class=30, copied_every=6)
    store = empty_store(driver)
    report = index_folder(store, lite, tmp_path / "photos")
    expected = pairs(truth)
    print(f"\n{report.total} photos: {report.total - 4 * len(truth)} originals, {len(truth)} of them with 4 copies")
    print("| threshold | precision | recall | groups | groups exactly as built |\n| --- | --- | --- | --- | --- |")
    results = {}
    for threshold in [0.80, 0.84, 0.85, 0.86, 0.87, 0.88, 0.89, 0.90, 0.92, 0.94]:
        groups = outlines(store.similar_pairs(lite.spec.space, threshold))
        found = pairs(g.paths for g in groups)
        precision = len(found & expected) / len(found) if found else 1.0
        recall = len(found & expected) / len(expected)
        exact = sum(set(g.paths) in truth for g in groups)
        results[threshold] = (precision, recall)
        print(f"| {threshold:.2f} | {precision:.3f} | {recall:.3f} | {len(groups)} | {exact} of {len(truth)} |")
    assert min(results[NEAR_DUPLICATE]) >= 0.95
