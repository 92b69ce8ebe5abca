"""The Duplicates tab over real copies of real photos: tiers switched, groups largest first with what
their files differ in, a group's paths downloaded as text; under AppTest and in Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect
from streamlit.testing.v1 import AppTest

from retrieval.indexing import index_folder
from tests.support.app import shown
from tests.support.copies import make_tiered_copies
from tests.support.paths import APP
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


def test_the_tab_shows_each_tiers_groups_with_their_differences(copies, app_env):
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert any(m.value.startswith("**3 groups** of 9 images, largest first; page 1 of 1") for m in at.markdown)
    assert sum(m.value.startswith("**Group ") and "3 images" in m.value for m in at.markdown) == 3
    captions = " ".join(shown(c.value) for c in at.caption)
    assert all(Path(path).name in captions for group in copies.near for path in group)
    assert captions.count("pixels: ") == 3 and "best match" in captions

    at.radio(key="dup_tier").set_value("same").run()
    assert any(m.value.startswith("**3 groups** of 6 images") for m in at.markdown)
    assert len(at.get("download_button")) == 3


def test_switching_tiers_in_the_browser_and_exporting_a_group(copies, browser_page, app_url, tmp_path):
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
