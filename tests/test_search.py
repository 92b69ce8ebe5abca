"""Search through the library and the CLI on the demo photos."""

from __future__ import annotations

from retrieval.search import search_file
from tests.support.cli import run_cli
from tests.support.paths import DEMO_IMAGES
from tests.support.server import database_snapshot, forget_links


def test_a_photo_file_finds_its_own_node_first(demo_store, lite):
    store = demo_store
    photo = DEMO_IMAGES / "car_ferrari_yellow_02.jpg"
    plain = search_file(store, lite, photo, k=5, plain=True)
    assert len(plain) == 5
    assert plain[0].path == str(photo) and plain[0].score > 0.999  # the cosine of a photo with itself
    assert [h.score for h in plain] == sorted((h.score for h in plain), reverse=True)
    default = search_file(store, lite, photo, k=5)  # expanded query, re-ranked by neighbourhood, scored by plain cosine
    assert default[0].path == str(photo) and 0.999 < default[0].score <= 1.0
    assert all(-1.0 <= h.score < 0.999 for h in default[1:])


def test_cli_index_then_search_prints_a_table_best_first(store, cli_env):
    indexed = run_cli("index", str(DEMO_IMAGES), env=cli_env)
    assert indexed.returncode == 0, indexed.stderr
    assert "34 new, 0 updated, 0 unchanged, 0 removed, 0 skipped (34 files" in indexed.stdout
    assert "Model: efficientnet-lite0" in indexed.stderr

    found = run_cli("search", str(DEMO_IMAGES / "car_ferrari_red_03.jpg"), "-k", "4", env=cli_env)
    assert found.returncode == 0, found.stderr
    header, *rows = found.stdout.splitlines()
    assert header.split() == ["rank", "cosine", "path"]
    assert len(rows) == 4
    assert rows[0].split()[2] == str(DEMO_IMAGES / "car_ferrari_red_03.jpg")
    scores = [float(row.split()[1]) for row in rows]
    assert scores[0] == 1.0 and all(s < 1.0 for s in scores[1:])  # the photo itself, then the others' plain cosine

    stats = run_cli("stats", env=cli_env)
    assert "images: 34" in stats.stdout
    assert "image_efficientnet_lite0" in stats.stdout and "ONLINE" in stats.stdout


def test_index_if_empty_leaves_a_database_with_images_alone(store, cli_env, tmp_path):
    assert run_cli("index", str(DEMO_IMAGES), env=cli_env).returncode == 0
    other = tmp_path / "other"
    other.mkdir()
    (other / "salad.jpg").write_bytes((DEMO_IMAGES / "everyday_food_salad_01.jpg").read_bytes())
    result = run_cli("index", str(other), "--if-empty", env=cli_env)
    assert result.returncode == 0 and "already holds 34 images" in result.stderr
    assert "images: 34" in run_cli("stats", env=cli_env).stdout


def test_search_of_images_without_similarity_lists_finds_them_and_writes_nothing(demo_store, cli_env):
    store = demo_store
    forget_links(store.driver)  # as an index run stopped before its lists, or --no-link, leaves them
    before = database_snapshot(store.driver)
    found = run_cli("search", str(DEMO_IMAGES / "car_ferrari_yellow_02.jpg"), "-k", "3", env=cli_env)
    assert found.returncode == 0, found.stderr
    assert found.stdout.splitlines()[1].split()[1:] == ["1.000", str(DEMO_IMAGES / "car_ferrari_yellow_02.jpg")]
    assert "link" not in found.stderr  # the search needs no lists
    assert "Traceback" not in found.stderr
    assert database_snapshot(store.driver) == before  # a search never writes: no lists, no schema


def test_index_no_link_stores_searchable_images_without_lists_and_link_adds_them_later(store, lite, cli_env):
    indexed = run_cli("index", str(DEMO_IMAGES), "--no-link", env=cli_env)
    assert indexed.returncode == 0, indexed.stderr
    assert "34 new" in indexed.stdout and "Similarity links not updated (--no-link)" in indexed.stderr
    assert store.count_links(lite.spec.space) == 0 and store.count_unlisted(lite.spec.space) == 34
    photo = DEMO_IMAGES / "car_ferrari_red_03.jpg"
    assert search_file(store, lite, photo, k=3)[0].path == str(photo)
    duplicates = run_cli("duplicates", env=cli_env)
    assert "34 images have no similarity list yet" in duplicates.stderr

    linked = run_cli("link", env=cli_env)
    assert linked.returncode == 0, linked.stderr
    assert "34 images linked" in linked.stdout and "340 SIMILAR_TO relationships in all" in linked.stdout
    assert store.count_unlisted(lite.spec.space) == 0
