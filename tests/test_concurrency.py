"""Several indexing runs at once, and searches during a run, on the real Neo4j, with no lock between
writers: whatever the interleaving, one node per file, each with its vector and content hash, one
SIMILAR_TO list per image, no close pair missed, and after `link` every list exact."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from retrieval.neighbours import update_links
from retrieval.search import search_vector
from retrieval.vision.decode import load_image
from tests.support.cli import run_cli, start_cli
from tests.support.graph_checks import assert_every_close_pair_is_linked, assert_links_are_the_exact_nearest_neighbours
from tests.support.paths import BENCH, DEMO_IMAGES

CLASSES = ["accordion", "bonsai", "brain", "camera", "cup", "dolphin", "lamp", "llama"]


def copy_photos(folder: Path, classes: list[str], per_class: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    copied = []
    for label in classes:
        for photo in sorted((BENCH / "images" / label).glob("*.jpg"))[:per_class]:
            copied.append(folder / f"{label}_{photo.name}")
            shutil.copy(photo, copied[-1])
    return copied


def test_three_indexing_runs_at_once_on_the_same_and_an_overlapping_folder_leave_one_node_per_file_and_no_pair_missed(
    store, lite, cli_env, tmp_path
):
    folder = tmp_path / "photos"
    photos = copy_photos(folder, CLASSES[:5], per_class=24) + copy_photos(folder / "sub", CLASSES[5:], per_class=24)
    runs = [
        start_cli("index", str(folder), "--batch-size", "16", env=cli_env),
        start_cli("index", str(folder), "--batch-size", "8", env=cli_env),
        start_cli("index", str(folder / "sub"), "--batch-size", "4", env=cli_env),  # many small commits between the others'
    ]
    for run in runs:
        _, stderr = run.communicate(timeout=900)
        assert run.returncode == 0, stderr
        assert "Traceback" not in stderr

    spec = lite.spec
    rows = store.driver.execute_query(
        "MATCH (i:Image) RETURN i.path AS path, i.sha256 AS sha, i.embedding_efficientnet_lite0_sha256 AS made_from"
    ).records
    assert sorted(r["path"] for r in rows) == sorted(str(p) for p in photos)  # one node per file, none lost
    for r in rows:
        content = hashlib.sha256(Path(r["path"]).read_bytes()).hexdigest()
        assert r["sha"] == r["made_from"] == content
    assert store.count_vectors(spec.space) == len(photos)
    assert_every_close_pair_is_linked(store, spec)

    rerun = run_cli("index", str(folder), env=cli_env)
    assert rerun.returncode == 0 and f"0 new, 0 updated, {len(photos)} unchanged" in rerun.stdout
    assert "0 images linked" in rerun.stderr
    assert update_links(store, spec).linked == len(photos)
    assert_links_are_the_exact_nearest_neighbours(store, spec)


def test_four_runs_at_once_on_an_empty_catalogue_in_batches_of_one_to_five_leave_every_image_a_full_list(
    store, lite, cli_env, tmp_path
):
    # Each run's first lists are read with a few images stored, and come out short; each run, having
    # started with fewer than 11, ends by reading again the lists shorter than the catalogue then allows.
    folder = tmp_path / "photos"
    copy_photos(folder, CLASSES[:3], per_class=10)
    runs = [start_cli("index", str(folder), "--batch-size", str(size), env=cli_env) for size in (1, 2, 3, 5)]
    for run in runs:
        _, stderr = run.communicate(timeout=900)
        assert run.returncode == 0, stderr
    assert_every_close_pair_is_linked(store, lite.spec)


def test_every_search_answers_while_an_indexing_run_writes(demo_store, lite, cli_env, tmp_path):
    store = demo_store
    folder = tmp_path / "photos"
    photos = copy_photos(folder, CLASSES, per_class=20)
    query = lite.embed([load_image(DEMO_IMAGES / "car_ferrari_red_03.jpg")])[0]
    before = store.count_vectors(lite.spec.space)
    run = start_cli("index", str(folder), "--batch-size", "16", env=cli_env)
    stored = []  # how many images each search found stored, as it answered
    while run.poll() is None:
        for plain in (False, True):
            hits = search_vector(store, lite.spec, query, 12, plain=plain)
            assert hits[0].path == str(DEMO_IMAGES / "car_ferrari_red_03.jpg") and hits[0].score > 0.9999
            assert len(hits) == 12 and len({h.path for h in hits}) == 12
            stored.append(store.count_vectors(lite.spec.space))
    assert run.returncode == 0, run.stderr.read() if run.stderr else ""
    after = store.count_vectors(lite.spec.space)
    assert after == before + len(photos)
    assert any(before < n < after for n in stored), stored  # searches answered between the run's batches, however fast
    assert_every_close_pair_is_linked(store, lite.spec)
