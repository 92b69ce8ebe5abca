"""Resolving duplicates in Chromium over real copies of real photos: the demo photos' groups in each
tier (the README's screenshot); a group resolved (its copy moved into the review folder, the group
gone) and undone, the page resolved after a preview, a pair marked "not duplicates" that stays apart
through a new index run; and, served with login on, none of it offered to a visitor."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from retrieval.duplicates import duplicate_page, tier_named
from retrieval.indexing import index_folder
from retrieval.neo4j.store import ImageStore
from retrieval.resolving import REVIEW_FOLDER
from tests.support.copies import make_tiered_copies
from tests.support.server import empty_store
from tests.support.serving import new_page, served_app

pytest_plugins = ["tests.support.browser"]  # the app in Chromium

CLASSES = ["bonsai", "lamp", "barrel"]
SAME = "Same picture (cosine ≥ 0.94)"
PASSWORD = "correct horse battery"
expect.set_options(timeout=60_000)  # the first page view also loads the model


@pytest.fixture
def copies(driver, lite, tmp_path):
    """3 photos, each with a resized copy (3 groups of the same picture), indexed."""
    folder = tmp_path / "photos"
    built = make_tiered_copies(folder, CLASSES, per_class=1, copied_every=1, variants=["resized75"])
    index_folder(empty_store(driver), lite, folder)
    return built


def test_a_group_resolved_and_undone_the_page_resolved_after_a_preview_and_a_pair_kept_apart(
    copies, driver, lite, browser_page, app_url
):
    store = ImageStore(driver)
    page = browser_page
    page.goto(app_url)
    page.get_by_role("tab", name="Duplicates").click()
    tab = page.get_by_role("tabpanel", name="Duplicates")
    tab.get_by_text(SAME).click()
    expect(tab.get_by_text("3 groups of 6 images")).to_be_visible()
    first = sorted(duplicate_page(store, lite.spec, tier_named("same")).groups[0].paths)
    original, copy = sorted(first, key=len)  # the original has more pixels: kept

    tab.locator(".st-key-dup-same-1").get_by_role("button", name="Keep this one, set the others aside").click()
    expect(tab.get_by_text("Set aside 1 files of 1 groups")).to_be_visible()
    expect(tab.get_by_text("2 groups of 4 images")).to_be_visible()
    (moved,) = (Path(original).parent / REVIEW_FOLDER).rglob("*.jpg")
    assert moved.name == Path(copy).name and not Path(copy).exists() and Path(original).exists()

    tab.get_by_role("button", name="Undo the last resolution").click()
    expect(tab.get_by_text("Put back 1 files and their nodes")).to_be_visible()
    expect(tab.get_by_text("3 groups of 6 images")).to_be_visible()
    assert Path(copy).exists() and not moved.exists()

    tab.locator(".st-key-dup-same-1").get_by_role("button", name="Not duplicates").click()
    expect(tab.get_by_text("2 groups of 4 images")).to_be_visible()
    Path(copy).touch()  # read again by the next run
    index_folder(store, lite, Path(original).parent)
    page.reload()
    page.get_by_role("tab", name="Duplicates").click()
    tab.get_by_text(SAME).click()
    expect(tab.get_by_text("2 groups of 4 images")).to_be_visible()
    assert all(set(first) - set(g.paths) for name in ("same", "near", "similar") for g in _groups(store, lite, name))

    tab.get_by_role("button", name="Resolve this page").click()
    preview = tab.locator(".st-key-dup-preview")
    expect(preview).to_contain_text("2 files would move into")
    assert all(Path(p).exists() for g in copies.same for p in g)  # a preview moves nothing
    preview.get_by_role("button", name="Set aside 2 files").click()
    expect(tab.get_by_text("Set aside 2 files of 2 groups")).to_be_visible()
    expect(tab.get_by_text("No groups of same picture in the catalogue.")).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_the_demo_photos_open_the_duplicates_tab_with_a_group_in_each_tier(demo_store, browser_page, app_url, screenshots):
    page = browser_page
    page.goto(app_url)
    page.get_by_role("tab", name="Duplicates").click()
    tab = page.get_by_role("tabpanel", name="Duplicates")
    expect(tab.get_by_text("3 groups of 7 images")).to_be_visible()  # near: the burst, the crop, the smaller copy
    expect(tab.locator(".st-key-dup-near-1")).to_contain_text("car_ferrari_black_04_burst_2.jpg")
    page.set_viewport_size({"width": 1280, "height": 1400})
    expect(tab.locator(".st-key-dup-near-1").get_by_text("most pixels (1024x682)")).to_be_visible()  # the copy kept, and why
    expect(tab.get_by_role("button", name="Export paths")).to_have_count(3)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0)
    page.wait_for_function("Array.from(document.images).every(img => img.complete && img.naturalWidth > 0)")
    screenshots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=screenshots / "duplicates.png")
    page.set_viewport_size({"width": 1280, "height": 800})
    tab.get_by_text(SAME).click()
    expect(tab.get_by_text("1 groups of 2 images")).to_be_visible()
    expect(tab.locator(".st-key-dup-same-1")).to_contain_text("car_ferrari_red_03_small.jpg")
    tab.get_by_text("Similar (cosine ≥ 0.6)").click()
    expect(tab.locator(".st-key-dup-similar-1")).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)


def _groups(store, lite, name):
    return duplicate_page(store, lite.spec, tier_named(name), per_page=None).groups


def test_served_with_login_a_visitor_is_offered_no_resolution_and_the_admin_is(
    copies, neo4j_server, browser, outside_requests, tmp_path
):
    roots = str(Path(min(min(copies.same))).parent.parent)
    env = {"RETRIEVAL_REQUIRE_LOGIN": "1", "RETRIEVAL_ADMIN_PASSWORD": PASSWORD, "RETRIEVAL_INDEX_ROOTS": roots}
    with served_app(neo4j_server, tmp_path / "streamlit.log", "127.0.0.2", env) as url:
        page = new_page(browser, outside_requests)
        page.goto(url)
        page.get_by_role("tab", name="Duplicates").click()
        tab = page.get_by_role("tabpanel", name="Duplicates")
        tab.get_by_text(SAME).click()
        expect(tab.get_by_text("3 groups of 6 images")).to_be_visible()
        expect(tab.get_by_text("Resolving duplicates needs the admin password")).to_be_visible()
        for name in ("Keep this one, set the others aside", "Not duplicates", "Resolve this page", "Undo the last resolution"):
            expect(tab.get_by_role("button", name=name)).to_have_count(0)

        page.get_by_role("tab", name="Admin").click()
        page.get_by_label("Admin password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("tabpanel", name="Admin").get_by_role("button", name="Index folder")).to_be_visible()
        page.get_by_role("tab", name="Duplicates").click()
        expect(tab.get_by_role("button", name="Not duplicates")).to_have_count(3)
        page.context.close()
    assert all(Path(p).exists() for g in copies.same for p in g)
