"""The Duplicates tab in Chromium over real copies of real photos: tiers switched, groups with what
their files differ in, a group's paths downloaded as text (AppTest checks the rest: test_app_unit.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from retrieval.indexing import index_folder
from tests.support.copies import make_tiered_copies
from tests.support.server import empty_store

pytest_plugins = ["tests.support.browser"]  # the app in Chromium

CROPPED = ["bonsai", "lamp", "barrel"]  # their first photo's shifted crop scores in the near tier (test_duplicates.py)
expect.set_options(timeout=60_000)  # the first page view also loads the model


@pytest.fixture(scope="module")
def copies(driver, lite, tmp_path_factory):
    """3 classes of 5 photos, each class's first with a resized copy and a shifted crop, indexed once."""
    folder = tmp_path_factory.mktemp("copies") / "photos"
    built = make_tiered_copies(folder, CROPPED, per_class=5, copied_every=5, variants=["resized75", "shifted"])
    index_folder(empty_store(driver), lite, folder)
    return built


def test_switching_tiers_in_the_browser_and_exporting_a_group(copies, screenshots, browser_page, app_url):
    page = browser_page
    page.goto(app_url)
    page.get_by_role("tab", name="Duplicates").click()
    tab = page.get_by_role("tabpanel", name="Duplicates")
    expect(tab.get_by_text("3 groups of 9 images")).to_be_visible()
    expect(tab.locator("[class*='st-key-dup-near-'] img")).to_have_count(9)

    tab.get_by_text("Same picture (cosine ≥ 0.94)").click()
    expect(tab.get_by_text("3 groups of 6 images")).to_be_visible()
    first = tab.locator(".st-key-dup-same-1")
    expect(first.locator("img")).to_have_count(2)
    expect(first).to_contain_text("pixels: ")
    screenshots.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 1100})
    page.wait_for_function("Array.from(document.images).every(img => img.complete && img.naturalWidth > 0)")
    page.screenshot(path=screenshots / "duplicates.png")
    page.set_viewport_size({"width": 1280, "height": 800})
    with page.expect_download() as download:
        first.get_by_role("button", name="Export paths").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert set(lines) in copies.same and download.value.suggested_filename == "same-group-1.txt"

    tab.get_by_text("Similar (cosine ≥ 0.6)").click()
    expect(tab.locator(".st-key-dup-similar-1")).to_be_visible()
    expect(tab.locator("[class*='st-key-dup-same-']")).to_have_count(0)
    expect(page.get_by_test_id("stException")).to_have_count(0)
