"""Neo4j stopped under a run and under the app, as a crash (or the OOM killer) stops it: said at once,
with how to start it, nothing committed lost, and the next action after a restart works. These tests
stop a server of their own (`outage_server`), never the shared one; they live in this one file so that
one test process starts that server (pytest-xdist runs a file in one process, `--dist loadfile`)."""

from __future__ import annotations

import os
from urllib.parse import quote

import numpy as np
from neo4j import GraphDatabase
from playwright.sync_api import expect

from retrieval.indexing import index_folder
from retrieval.vision.decode import load_image
from tests.support.cli import count_images, run_cli, start_cli, wait_for_batches
from tests.support.paths import copy_bench_photos, copy_class_photos
from tests.support.server import crash, outage_env
from tests.support.serving import served_app, settled

pytest_plugins = ["tests.support.browser"]

PHOTOS = 200


def test_a_password_starting_with_a_dash_is_set_and_works(outage_server):
    # secrets.token_urlsafe starts one generated password in 64 with "-", which the launcher once took for an option.
    # The outage tests' server is made with such a password (tests/support/server.py), so it is not started twice.
    password = outage_server.password_file.read_text().strip()
    assert password.startswith("-")
    outage_server.start()  # harmless when running; a test that stopped it started it again
    with GraphDatabase.driver(outage_server.uri, auth=("neo4j", password)) as driver:
        assert driver.execute_query("RETURN 1 AS one").records[0]["one"] == 1


def test_indexing_survives_neo4j_crashing_midway_the_server_starts_again_and_a_rerun_finishes_the_job(
    outage_store, lite, outage_server, tmp_path
):
    store, server, cli_env = outage_store, outage_server, outage_env(outage_server)
    folder = tmp_path / "photos"
    copy_bench_photos(folder, PHOTOS)
    expected = sorted(str(p) for p in folder.iterdir())

    run = start_cli("index", str(folder), "--batch-size", "16", env=cli_env)
    wait_for_batches(store, run, 32)  # two batches committed
    crash(server)
    _, stderr = run.communicate(timeout=300)
    assert run.returncode == 1
    assert f"Cannot use Neo4j at {server.uri}: the connection was lost" in stderr
    assert "Work finished before this is kept" in stderr and "python -m retrieval db start" in stderr
    assert "Traceback" not in stderr

    # The crash left its pid file, naming a zombie where nothing reaps it, or a pid reused since: ours.
    (server.server_home / "run" / "neo4j.pid").write_text(f"{os.getpid()}\n")
    status = server.start()
    assert status.running and status.pid not in (None, os.getpid())
    kept = count_images(store)
    assert 32 <= kept < PHOTOS
    rerun = run_cli("index", str(folder), env=cli_env)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{PHOTOS - kept} new, 0 updated, {kept} unchanged, 0 removed, 0 skipped" in rerun.stdout

    assert sorted(store.paths()) == expected  # 0 lost, 0 duplicated (paths are unique by constraint)
    assert count_images(store) == PHOTOS
    assert store.count_vectors(lite.spec.space) == PHOTOS
    for path in expected[:: PHOTOS // 10]:
        stored = store.vector_of(lite.spec.space, path)
        fresh = lite.embed([load_image(folder / path.rsplit("/", 1)[1])])[0]
        assert float(np.dot(stored, fresh)) > 0.9999


def test_neo4j_stopped_under_the_app_is_said_at_once_on_a_click_or_a_reload_the_controls_stay_and_the_next_search_works(
    outage_server, outage_store, lite, page, tmp_path
):
    server = outage_server
    photos = copy_class_photos(tmp_path / "photos", 12)
    index_folder(outage_store, lite, photos[0].parent)
    log = tmp_path / "streamlit.log"
    with served_app(server, log) as url:
        page.goto(f"{url}/?image={quote(str(photos[0]))}")
        cards = page.locator("[class*='st-key-result-']")
        expect(cards).to_have_count(12)
        settled(page)  # the page's run is over: no query of it is in flight when the server goes
        crash(server)
        try:
            page.get_by_text("Plain cosine").click()  # a search, with the server gone
            # Said by the check the app makes before it reads, at once: a query sent would have been retried
            # by the driver for 30 s, logging each retry, and then said "the connection was lost".
            lost = f"Cannot use Neo4j at {server.uri}: the server is not reachable"
            search, sidebar = page.get_by_role("tabpanel", name="Search"), page.get_by_test_id("stSidebar")
            expect(search.get_by_text(lost)).to_be_visible()
            expect(sidebar.get_by_text(lost)).to_be_visible()
            expect(sidebar.get_by_text("Connected to")).to_have_count(0)
            expect(search.get_by_text("Drop a photo to search with")).to_be_visible()  # the controls stay
            for slider in ("Results", "Minimum similarity"):
                expect(search.get_by_test_id("stSlider").filter(has_text=slider).get_by_role("slider")).to_be_visible()
            expect(page.get_by_test_id("stException")).to_have_count(0)
            page.goto(url)  # a page loaded while the server is down
            expect(page.get_by_role("tabpanel", name="Search").get_by_text(lost)).to_be_visible()
            expect(page.get_by_test_id("stSidebar").get_by_text("python -m retrieval db start")).to_be_visible()
            expect(page.get_by_text("Drop a photo to search with")).to_be_visible()
            expect(page.get_by_test_id("stException")).to_have_count(0)
            assert "will be retried" not in log.read_text()
        finally:
            server.start()
        page.goto(f"{url}/?image={quote(str(photos[0]))}")
        page.get_by_text("Plain cosine").click()  # the next search, the server back
        expect(cards).to_have_count(12)
        expect(page.get_by_role("heading", name="12 similar images")).to_be_visible()
        expect(page.get_by_test_id("stSidebar").get_by_text(f"Connected to {server.uri}")).to_be_visible()
        page.locator("input[type=file]").set_input_files(str(photos[5]))  # and an upload
        expect(cards.first).to_contain_text(photos[5].name)
