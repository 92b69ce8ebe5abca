"""The Duplicates tab in Chromium over real copies of real photos: tiers switched, groups with what
their files differ in, a group's paths downloaded as text (AppTest checks the rest: test_app_unit.py;
the README's screenshot is of the demo photos: test_duplicates_resolving_browser.py)."""

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


def test_switching_tiers_in_the_browser_and_exporting_a_group(copies, browser_page, app_url):
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
    with page.expect_download() as download:
        first.get_by_role("button", name="Export paths").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert set(lines) in copies.same and download.value.suggested_filename == "same-group-1.txt"

    tab.get_by_text("Similar (cosine ≥ 0.6)").click()
    expect(tab.locator(".st-key-dup-similar-1")).to_be_visible()
    expect(tab.locator("[class*='st-key-dup-same-']")).to_have_count(0)
    expect(page.get_by_test_id("stException")).to_have_count(0)
