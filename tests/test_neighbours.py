"""The similarity graph on real photos, as a layer derived from the vectors: an index run writes the
exact nearest neighbours of the images it embeds, reruns add nothing, `link` refreshes every list,
and a near-duplicate pair is found from whichever of its two images came later."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from retrieval.indexing import IndexReport, index_folder
from retrieval.neighbours import NEIGHBOURS, update_links
from retrieval.neo4j.links import SHORT_LISTS
from tests.support.graph_checks import (
    assert_every_close_pair_is_linked,
    assert_links_are_the_exact_nearest_neighbours,
    assert_lists_are_exact_for,
    stored_links,
)
from tests.support.paths import BENCH, DEMO_IMAGES, demo_folders
from tests.support.photos import bench_vectors
from tests.support.server import plan_operators, write_vectors

CLASSES = ["accordion", "anchor", "barrel", "bonsai", "brain", "camera", "cup", "dolphin", "lamp", "llama"]


def test_index_writes_each_images_exact_nearest_neighbours_and_a_rerun_adds_nothing(store, lite, tmp_path):
    photos = tmp_path / "photos"
    shutil.copytree(DEMO_IMAGES, photos, ignore=shutil.ignore_patterns("*.md"))
    # One batch (the 34 photos are more than the default 32): each list is made once every image is stored.
    assert index_folder(store, lite, photos, batch_size=64).links.linked == 34  # each image's own list, written as it is indexed
    assert store.count_links(lite.spec.space) == 34 * NEIGHBOURS
    assert_links_are_the_exact_nearest_neighbours(store, lite.spec)

    assert index_folder(store, lite, photos).links.linked == 0  # nothing changed, nothing redone
    assert update_links(store, lite.spec).linked == 34  # `link` rewrites every list
    assert store.count_links(lite.spec.space) == 34 * NEIGHBOURS  # replaced, not duplicated
    assert update_links(store, lite.spec, everything=False).linked == 0  # --missing: every list is current


def test_new_changed_and_removed_photos_get_exact_lists_and_link_makes_every_list_exact(store, lite, tmp_path):
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
    # The new and the changed photos' lists, and those that held the changed or removed photos: not all 118.
    assert 4 <= report.links.linked < 118 // 2
    assert_lists_are_exact_for(store, lite.spec, [str(p) for p in [*later, changed]])
    assert_every_close_pair_is_linked(store, lite.spec)

    assert update_links(store, lite.spec).linked == 118
    assert_links_are_the_exact_nearest_neighbours(store, lite.spec)
    assert store.count_links(lite.spec.space) == 118 * NEIGHBOURS


def test_a_near_duplicate_pair_is_found_from_whichever_image_came_later(store, lite):
    # 200 near-copies of one bench photo and one image far from all of them: a new copy of the far
    # image's photo is written later, and the pair is in the new image's own list.
    rng = np.random.default_rng(5)
    real = bench_vectors(lite)
    copies = real[0] + rng.normal(0, 0.3 / np.sqrt(real.shape[1]), (200, real.shape[1])).astype(np.float32)
    stored = np.vstack([copies, real[-1], real[100:400]])
    stored /= np.linalg.norm(stored, axis=1, keepdims=True)
    store.ensure_schema(lite.spec.space)
    write_vectors(store, lite.spec, stored, 100, "stored")
    update_links(store, lite.spec)

    twin = real[-1] + rng.normal(0, 0.05 / np.sqrt(real.shape[1]), real.shape[1]).astype(np.float32)
    write_vectors(store, lite.spec, (twin / np.linalg.norm(twin))[None], 1, "new")
    assert update_links(store, lite.spec, everything=False).linked == 1  # only the image without a list
    assert stored_links(store, lite.spec)["/new/0.jpg"][0][0] == "/stored/200.jpg"
    assert_lists_are_exact_for(store, lite.spec, ["/new/0.jpg"])


def test_a_list_read_before_more_images_were_stored_never_replaces_one_read_after(store, lite):
    # Two runs that stored the same image: the one that read its list first, when only 5 images were
    # stored, writes last. The image keeps the full list read after all 30 were stored.
    real = bench_vectors(lite)[:30]
    store.ensure_schema(lite.spec.space)
    write_vectors(store, lite.spec, real[:5], 5, "stored")
    early = store.neighbour_lists(lite.spec.space, ["/stored/0.jpg"], NEIGHBOURS, -1.0)
    write_vectors(store, lite.spec, real, 30, "stored", first=5)
    late = store.neighbour_lists(lite.spec.space, ["/stored/0.jpg"], NEIGHBOURS, -1.0)
    assert len(early["/stored/0.jpg"].neighbours) == 4
    assert early["/stored/0.jpg"].read_at <= late["/stored/0.jpg"].read_at

    store.write_lists(lite.spec.space, late)
    store.write_lists(lite.spec.space, early)
    assert_lists_are_exact_for(store, lite.spec, ["/stored/0.jpg"])


def test_the_first_photos_of_a_catalogue_get_full_lists_from_the_run_that_brings_more(store, lite, tmp_path):
    folders = demo_folders(tmp_path, {"first": 5, "more": 20, "last": 3})
    assert index_folder(store, lite, folders["first"]).links.linked == 5
    assert {len(found) for found in stored_links(store, lite.spec).values()} == {4}  # every other image there was

    # Batches of 4: this run's own first lists are read with 9 images stored, and are short too.
    assert index_folder(store, lite, folders["more"], batch_size=4).links.linked >= 20 + 5
    assert_every_close_pair_is_linked(store, lite.spec)  # every list holds 10 others
    assert index_folder(store, lite, folders["last"]).links.linked == 3  # past 10 images, only a run's own lists
    assert_every_close_pair_is_linked(store, lite.spec)


@pytest.mark.parametrize("then", ["index again", "link --missing"])
def test_lists_left_short_by_a_run_stopped_midway_are_filled_by_the_next_run_or_link_missing(store, lite, tmp_path, then):
    folders = demo_folders(tmp_path, {"first": 5, "more": 20})
    index_folder(store, lite, folders["first"])  # lists of 4: every other image there was

    def stop_after_two_batches(report: IndexReport) -> None:
        if report.new >= 8:
            raise KeyboardInterrupt  # as Ctrl-C does, before the run's end: 13 images stored, lists of 4 and 8 left

    with pytest.raises(KeyboardInterrupt):
        index_folder(store, lite, folders["more"], batch_size=4, progress=stop_after_two_batches)
    assert min(len(found) for found in stored_links(store, lite.spec).values()) < NEIGHBOURS

    if then == "index again":  # it starts on a catalogue of 13, past 10
        assert index_folder(store, lite, folders["more"]).new == 12
    else:
        assert update_links(store, lite.spec, everything=False).linked >= 5
        index_folder(store, lite, folders["more"])
    assert_every_close_pair_is_linked(store, lite.spec)  # every list holds 10 others
    assert index_folder(store, lite, folders["more"]).links.linked == 0  # and none is marked short any more


def test_the_only_image_of_a_catalogue_has_a_current_list_which_fills_as_photos_arrive(store, lite, tmp_path):
    folders = demo_folders(tmp_path, {"one": 1, "more": 12})
    assert index_folder(store, lite, folders["one"]).links.linked == 1  # empty: there is no other image
    assert store.count_unlisted(lite.spec.space) == 0 and store.count_links(lite.spec.space) == 0
    index_folder(store, lite, folders["more"])
    assert_every_close_pair_is_linked(store, lite.spec)


def test_a_list_cut_by_a_minimum_score_is_not_taken_for_short(store, lite, tmp_path):
    folders = demo_folders(tmp_path, {"first": 5, "more": 20})
    index_folder(store, lite, folders["first"], link=False)
    assert update_links(store, lite.spec, min_score=0.99).linked == 5
    first = {str(p) for p in folders["first"].iterdir()}
    cut = {path: found for path, found in stored_links(store, lite.spec).items() if path in first}
    assert sum(map(len, cut.values())) < 5 * 4  # fewer than every other image: cut by the score
    assert index_folder(store, lite, folders["more"]).links.linked == 20  # the new images' own lists only
    assert {path: found for path, found in stored_links(store, lite.spec).items() if path in first} == cut


def test_the_lists_marked_short_are_found_through_their_index_not_a_scan_of_the_catalogue(store, lite):
    # What every run's end asks: its cost is the number of short lists, whatever the catalogue's size.
    store.ensure_schema(lite.spec.space)
    statement = store._cypher(SHORT_LISTS, store._link_names(lite.spec.space))  # the store's own statement, as sent
    operators = [name.split("@")[0] for name, _ in plan_operators(store.driver, statement, {"model": lite.spec.name})]
    assert "NodeIndexScan" in operators and not {"NodeByLabelScan", "AllNodesScan"} & set(operators), operators
