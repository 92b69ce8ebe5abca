"""Searching never writes, and never misses an image: every read path runs through a driver that
records what each query changed, and images stored without a similarity list are still found."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
from neo4j import Driver

from retrieval.catalogue import attach, has_catalogue, owner_keys, owner_labels, owner_values, owners, stem_attachments
from retrieval.duplicates import duplicate_page, tier_named
from retrieval.indexing import index_folder
from retrieval.neo4j.catalogue import CatalogueFilter
from retrieval.neo4j.images import ImageRecord
from retrieval.neo4j.store import ImageStore
from retrieval.search import search_file, search_indexed, search_vector
from retrieval.vision.decode import load_image
from retrieval.vision.models import MODELS
from tests.support.paths import BENCH, DEMO_IMAGES


class RecordingDriver:
    """A driver that keeps the summary of every query sent through `execute_query` and counts the
    sessions opened (the store opens one only to write)."""

    def __init__(self, driver: Driver) -> None:
        self._driver = driver
        self.summaries: list[Any] = []
        self.sessions = 0

    def execute_query(self, *args: Any, **kwargs: Any) -> Any:
        result = self._driver.execute_query(*args, **kwargs)
        self.summaries.append(result.summary)
        return result

    def session(self, **kwargs: Any) -> Any:
        self.sessions += 1
        return self._driver.session(**kwargs)


@pytest.fixture
def demo(store, lite, tmp_path):
    folder = tmp_path / "photos"
    shutil.copytree(DEMO_IMAGES, folder, ignore=shutil.ignore_patterns("*.md", "*.csv"))
    for number, photo in enumerate(sorted(folder.glob("*.jpg"))):
        photo.rename(folder / f"{1000 + number}.jpg")
    index_folder(store, lite, folder)
    store.driver.execute_query("UNWIND range(1000, 1029) AS sku CREATE (:Product {sku: sku, kind: sku % 2})")
    attach(store, stem_attachments(store, "Product", "sku", folder))
    return folder


def test_every_read_path_writes_nothing(store, lite, demo):
    recording = RecordingDriver(store.driver)
    reader = ImageStore(recording)  # type: ignore[arg-type]
    spec = lite.spec
    photo = sorted(demo.glob("*.jpg"))[3]
    within = CatalogueFilter("Product", "kind", "1")
    for plain in (False, True):
        assert search_file(reader, lite, photo, 12, plain=plain)[0].path == str(photo)
        assert search_indexed(reader, spec, str(photo), 5, plain=plain)[0].path == str(photo)
        assert search_file(reader, lite, photo, 5, plain=plain, within=within)
    duplicate_page(reader, spec, tier_named("similar", 0.5))
    reader.stats(m.space for m in MODELS.values())
    reader.count_unlisted(spec.space)
    reader.fingerprint(spec.space)
    reader.links_among(spec.space, [str(p) for p in sorted(demo.glob("*.jpg"))[:12]])
    first = reader.newest(spec.space, 12)
    reader.newest(spec.space, 12, first.last, within)
    reader.count_listed(spec.space, within)
    reader.latest_evaluation()
    owners(reader, [str(photo)])
    assert has_catalogue(reader) and owner_labels(reader) == ["Product"]
    owner_keys(reader, "Product")
    owner_values(reader, "Product", "kind")

    assert recording.sessions == 0  # no write transaction was opened
    assert len(recording.summaries) > 30
    for summary in recording.summaries:
        assert not summary.counters.contains_updates, summary.query
        assert not summary.counters.contains_system_updates, summary.query


def test_images_stored_without_lists_are_found_at_once_and_counted_without_writing(store, lite, demo):
    spec = lite.spec
    dogs = [load_image(p) for p in sorted((BENCH / "images" / "dalmatian").glob("*.jpg"))[:4]]
    vectors = lite.embed(dogs)
    # As an index run stopped before their lists leaves them, or another run still writing: vectors, no lists.
    late = [ImageRecord(f"/late/{i}.jpg", f"{i}.jpg", 1, 1, f"late{i}", 1, 1, v) for i, v in enumerate(vectors[:3])]
    store.upsert(spec.space, late)
    recording = RecordingDriver(store.driver)
    reader = ImageStore(recording)  # type: ignore[arg-type]
    assert reader.count_unlisted(spec.space) == 3
    for i, vector in enumerate(vectors[:3]):
        hits = search_vector(reader, spec, vector, 5)
        assert hits[0].path == f"/late/{i}.jpg" and hits[0].score == pytest.approx(1.0, abs=1e-4)
    another_dog = search_vector(reader, spec, vectors[3], 5)  # no dog among the 30 demo photos: the three come first
    assert {h.path for h in another_dog[:3]} == {f"/late/{j}.jpg" for j in range(3)}
    assert recording.sessions == 0
    assert not any(s.counters.contains_updates for s in recording.summaries)
