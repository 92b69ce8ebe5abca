"""Reading commands write nothing: `search`, `duplicates` and `stats` never create schema or links
(only `index` and `link` do), and say what is missing and what to run instead."""

from __future__ import annotations

from retrieval.vision.models import MODELS
from tests.support.cli import run_cli
from tests.support.paths import DEMO_IMAGES
from tests.support.server import database_snapshot, forget_links, image_schema

LITE = MODELS["efficientnet-lite0"]


def test_search_of_a_fresh_database_says_to_index_first_before_loading_the_model_and_creates_nothing(fresh_database, cli_env):
    driver = fresh_database.driver
    before = database_snapshot(driver)
    result = run_cli("search", str(DEMO_IMAGES / "car_ferrari_red_01.jpg"), env=cli_env)
    assert result.returncode == 1
    assert "error: No images are indexed with efficientnet-lite0 yet: run `python -m retrieval index FOLDER`." in result.stderr
    assert "Runtime:" not in result.stderr and "Traceback" not in result.stderr  # the model was never loaded
    assert run_cli("stats", env=cli_env).returncode == 0
    assert image_schema(driver) == [] and database_snapshot(driver) == before


def test_duplicates_and_stats_of_images_without_lists_say_so_and_write_nothing(demo_store, lite, cli_env):
    store = demo_store
    forget_links(store.driver)
    before = database_snapshot(store.driver)
    duplicates = run_cli("duplicates", env=cli_env)
    assert duplicates.returncode == 0, duplicates.stderr
    assert "34 images have no similarity list yet (indexed with --no-link): run `python -m retrieval link`" in (
        duplicates.stderr.splitlines()
    )
    assert duplicates.stdout.startswith("No near-duplicates")
    stats = run_cli("stats", env=cli_env)
    assert stats.returncode == 0 and "images: 34" in stats.stdout
    assert database_snapshot(store.driver) == before and store.count_links(lite.spec.space) == 0
