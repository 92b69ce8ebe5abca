"""The Streamlit app in a real browser (Debian's Chromium driven by Playwright) over the test Neo4j."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.support.paths import BENCH, DEMO_IMAGES, copy_bench_photos
from tests.support.server import database_snapshot, first_batch_held
from tests.support.serving import index_from_admin, new_page, settled

pytest_plugins = ["tests.support.browser"]  # the app in Chromium: only these tests load Playwright

QUERY = "car_ferrari_red_03.jpg"
expect.set_options(timeout=60_000)  # the first page view also loads the model


def result_cards(page: Page):
    return page.locator("[class*='st-key-result-']")


def test_a_request_beyond_loopback_fails_as_with_no_internet_and_is_recorded(browser):
    """The guard behind every browser test's `assert not outside_requests`: an address, not a name, so no
    resolver could be what refuses it."""
    tried: list[str] = []
    page = new_page(browser, tried)
    with page.expect_event("requestfailed") as failed:
        page.set_content('<img src="http://203.0.113.7/pixel.png">')
    assert failed.value.url == "http://203.0.113.7/pixel.png" and failed.value.failure
    assert tried == ["http://203.0.113.7/pixel.png"]
    page.context.close()


def test_upload_through_the_file_chooser_shows_the_photo_first_among_k_results(screenshots, demo_store, browser_page, app_url):
    page = browser_page
    page.goto(app_url)
    expect(page.get_by_text("Drop a photo to search with")).to_be_visible()
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("stFileUploaderDropzone").get_by_test_id("stBaseButton-secondary").click()
    chooser.value.set_files(str(DEMO_IMAGES / QUERY))
    expect(page.get_by_text("12 similar images")).to_be_visible()
    cards = result_cards(page)
    expect(cards).to_have_count(12)
    expect(cards.first).to_contain_text(QUERY)
    expect(cards.first).to_contain_text(re.compile(r"similarity (0\.99\d|1\.000)"))  # expanded query, re-ranked by neighbourhood
    expect(cards.first).to_contain_text("CC BY 2.0")  # the credit line its licence asks for
    screenshots.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 1250})
    page.wait_for_function("Array.from(document.images).every(img => img.complete && img.naturalWidth > 0)")
    page.screenshot(path=screenshots / "search.png")
    page.set_viewport_size({"width": 1280, "height": 800})
    settled(page)  # a click while a run still draws the page may be lost
    page.get_by_text("Plain cosine").click()
    expect(cards.first).to_contain_text("similarity 1.000")  # the plain cosine of a photo with itself
    settled(page)
    page.get_by_text("Plain cosine").click()


def test_a_broken_upload_gives_an_error_and_the_app_keeps_running(demo_store, browser_page, app_url, tmp_path):
    page = browser_page
    page.goto(app_url)
    broken = tmp_path / "broken.jpg"
    broken.write_text("this is not a photo")
    page.locator("input[type=file]").set_input_files(str(broken))
    expect(page.get_by_text("Cannot search with broken.jpg: not a recognised image format")).to_be_visible()
    # The emptied uploader has replaced the one that held it: one is shown (the old one may linger hidden in the page).
    uploader = page.locator("[class*='st-key-upload']").filter(visible=True)
    expect(uploader).to_have_count(1)
    expect(uploader).not_to_contain_text("broken.jpg")
    uploader.locator("input[type=file]").set_input_files(str(DEMO_IMAGES / QUERY))
    expect(result_cards(page).first).to_contain_text(QUERY)


def test_picking_an_indexed_image_searches_from_it(screenshots, demo_store, browser_page, app_url):
    page = browser_page
    page.goto(app_url)
    first_pick = page.locator(".st-key-pick-0")
    first_in_grid = first_pick.get_by_test_id("stCaptionContainer").inner_text().splitlines()[0]
    first_pick.get_by_role("button", name="Search").click()
    cards = result_cards(page)
    expect(cards).to_have_count(12)
    expect(cards.first).to_contain_text(first_in_grid)
    second = cards.nth(1).locator("strong").first.inner_text()
    cards.nth(1).get_by_role("button", name="More like this").click()
    expect(page.get_by_text(f"Query: {second}")).to_be_visible()
    expect(cards.first).to_contain_text(second)  # the new search has rendered


def test_admin_indexing_shows_progress_and_grows_the_count(screenshots, demo_store, browser_page, app_url, tmp_path):
    folder = tmp_path / "new-photos"
    folder.mkdir()
    for source in sorted((BENCH / "images" / "dalmatian").glob("*.jpg"))[:5]:
        shutil.copy(source, folder / source.name)
    (folder / "empty.jpg").write_bytes(b"")
    page = browser_page
    page.goto(app_url)
    page.get_by_role("tab", name="Admin").click()
    admin = page.get_by_role("tabpanel", name="Admin")
    expect(admin.get_by_test_id("stMetricValue")).to_have_text("34")
    index_from_admin(admin, folder)
    expect(admin.get_by_text("5 new, 0 updated, 0 unchanged, 0 removed, 1 skipped (6 files")).to_be_visible()
    expect(admin.get_by_text("Done in")).to_be_visible()
    expect(admin.get_by_test_id("stMetricValue")).to_have_text("39")
    expect(admin.get_by_text("empty file (0 bytes)")).to_be_attached()  # a cell of the skipped-files grid
    page.set_viewport_size({"width": 1280, "height": 1100})
    page.screenshot(path=screenshots / "admin.png")
    page.set_viewport_size({"width": 1280, "height": 800})
    assert Path(screenshots / "admin.png").stat().st_size > 10_000


def test_searching_and_the_duplicates_tab_commit_no_transaction(demo_store, driver, browser_page, app_url):
    before = database_snapshot(driver)
    page = browser_page
    page.goto(app_url)
    page.locator("input[type=file]").set_input_files(str(DEMO_IMAGES / QUERY))
    expect(result_cards(page).first).to_contain_text(QUERY)
    page.get_by_role("button", name="Back to the catalogue").click()
    second_in_grid = page.locator(".st-key-pick-1").get_by_test_id("stCaptionContainer").inner_text().splitlines()[0]
    page.locator(".st-key-pick-1").get_by_role("button", name="Search").click()
    expect(page.get_by_text(f"Query: {second_in_grid}")).to_be_visible()
    expect(result_cards(page).first).to_contain_text(second_in_grid)
    page.get_by_role("tab", name="Duplicates").click()
    expect(page.get_by_role("tabpanel", name="Duplicates").get_by_text("Near-duplicates (cosine ≥ 0.89)")).to_be_visible()
    assert database_snapshot(driver) == before


def test_a_second_session_sees_the_indexing_run_in_progress_and_cannot_start_another(demo_store, browser_page, app_url, tmp_path):
    folder = tmp_path / "photos"
    copy_bench_photos(folder, 40)
    stored = demo_store.stats([]).images  # what the module's earlier tests left
    first = browser_page
    second = first.context.browser.new_page(viewport={"width": 1280, "height": 800})  # another Streamlit session
    try:
        second.goto(app_url)
        second.get_by_role("tab", name="Admin").click()
        first.goto(app_url)
        first.get_by_role("tab", name="Admin").click()
        admin = second.get_by_role("tabpanel", name="Admin")
        progress = f"Indexing {folder}: 0 of 40"
        with first_batch_held(demo_store, folder):  # the run is in progress, at 0, until the block ends: on any machine
            index_from_admin(first.get_by_role("tabpanel", name="Admin"), folder)
            expect(first.get_by_role("tabpanel", name="Admin").get_by_text(progress)).to_be_visible()
            # An idle page polls nothing (app/indexing.py, job_status): the second session learns of the run at its next action.
            second.get_by_test_id("stSidebar").get_by_role("button", name="Index folder").click()
            expect(second.get_by_text(f"An indexing run of {folder} is in progress: 0 of 40")).to_be_visible()
            expect(admin.get_by_text(progress)).to_be_visible()  # and follows it from then on
        summary = f"{folder}: 40 new, 0 updated, 0 unchanged, 0 removed, 0 skipped (40 files"
        for page in (first, second):
            expect(page.get_by_role("tabpanel", name="Admin").get_by_text(summary)).to_be_visible(timeout=300_000)
        expect(admin.get_by_test_id("stMetricValue")).to_have_text(str(stored + 40))  # the page redrawn once the run ended
    finally:
        second.close()
