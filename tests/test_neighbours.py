"""The similarity graph on real photos: SIMILAR_TO links equal each image's exact nearest
neighbours after full and incremental runs, reruns add nothing, and blended vectors match."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from retrieval.core.blending import blend
from retrieval.indexing import index_folder
from retrieval.neighbours import NEIGHBOURS, update_links
from tests.support.graph_checks import assert_links_are_the_exact_nearest_neighbours, stored_links
from tests.support.paths import BENCH, DEMO_IMAGES
from tests.support.photos import bench_vectors
from tests.support.server import write_vectors

CLASSES = ["accordion", "anchor", "barrel", "bonsai", "brain", "camera", "cup", "dolphin", "lamp", "llama"]


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for photo in sorted(DEMO_IMAGES.glob("*.jpg")):
        shutil.copy(photo, folder / photo.name)
    return folder


def test_link_writes_each_images_exact_nearest_neighbours_and_a_rerun_adds_nothing(store, lite, photos):
    assert index_folder(store, lite, photos).links.linked == 30  # indexing links what it indexed
    assert store.count_links(lite.spec.space) == 30 * NEIGHBOURS
    assert_links_are_the_exact_nearest_neighbours(store, lite.spec)

    assert update_links(store, lite.spec).linked == 0  # nothing changed, nothing redone
    assert update_links(store, lite.spec, everything=True).linked == 30
    assert store.count_links(lite.spec.space) == 30 * NEIGHBOURS  # replaced, not duplicated

    assert_blended_vectors_match_their_links(store, lite.spec)


def assert_blended_vectors_match_their_links(store, spec) -> None:
    vectors, blended = store.vectors(spec.space), store.vectors(spec.space.blended)
    for path, links in stored_links(store, spec).items():
        expected = blend(vectors[path], [(vectors[p], s) for p, s in links])
        assert float(expected @ blended[path]) > 0.9999


def test_incremental_link_after_new_changed_and_removed_photos_equals_a_full_relink(store, lite, tmp_path):
    folder = tmp_path / "bench"
    folder.mkdir()
    for label in CLASSES:
        for photo in sorted((BENCH / "images" / label).glob("*.jpg"))[:12]:
            shutil.copy(photo, folder / f"{label}_{photo.name}")
    later = sorted(folder.iterdir())[::40]  # 3 photos added in the second run
    for photo in later:
        photo.rename(tmp_path / photo.name)
    assert index_folder(store, lite, folder).links.linked == 117

    for photo in later:
        (tmp_path / photo.name).rename(photo)
    changed, *removed = sorted(folder.iterdir())[5:8]
    changed.write_bytes((next((BENCH / "images" / "ketch").glob("*.jpg"))).read_bytes())  # now another photo
    for photo in removed:
        photo.unlink()
    report = index_folder(store, lite, folder, prune=True)
    assert (report.new, report.updated, report.removed) == (3, 1, 2)

    incremental = report.links
    assert 4 <= incremental.linked < 118 // 2  # the new and changed photos and the lists they touch, not all 118
    assert_links_are_the_exact_nearest_neighbours(store, lite.spec)
    assert store.count_links(lite.spec.space) == 118 * NEIGHBOURS
    assert_blended_vectors_match_their_links(store, lite.spec)


def test_a_new_image_enters_the_list_of_an_image_it_has_hundreds_of_closer_neighbours_than(store, lite):
    # 200 near-copies of one bench photo, and one image far from all of them whose list is made of
    # them: a new copy is that image's nearest, though it has 200 images nearer than that image.
    rng = np.random.default_rng(5)
    real = bench_vectors(lite)
    photo, other = real[0], real[-1]
    copies = photo + rng.normal(0, 0.3 / np.sqrt(len(photo)), (200, len(photo))).astype(np.float32)
    loner = photo + 1.2 * other
    stored = np.vstack([copies, loner, real[100:400]])
    stored /= np.linalg.norm(stored, axis=1, keepdims=True)
    store.ensure_schema(lite.spec.space)
    write_vectors(store, lite.spec, stored, 100, "stored")
    update_links(store, lite.spec)

    write_vectors(store, lite.spec, (photo / np.linalg.norm(photo))[None], 1, "new")
    vectors = store.vectors(lite.spec.space)
    new, far = vectors["/new/0.jpg"], vectors["/stored/200.jpg"]
    assert sum(float(new @ v) > float(new @ far) for v in vectors.values()) > 200  # far down the new image's ranking
    update_links(store, lite.spec)
    assert "/new/0.jpg" in dict(stored_links(store, lite.spec)["/stored/200.jpg"])
    assert_links_are_the_exact_nearest_neighbours(store, lite.spec)
