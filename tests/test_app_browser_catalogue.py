"""The first page in a real browser: the catalogue as a grid of thumbnails, newest first and paged,
one click to search with an image, the address bar carrying it and Back returning to the grid; and
what an empty database shows instead."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Page, expect

from tests.support.paths import DEMO_IMAGES
from tests.support.server import empty_store

pytest_plugins = ["tests.support.browser"]

expect.set_options(timeout=60_000)  # the first page view also loads the model


def picks(page: Page):
    return page.locator("[class*='st-key-pick-']").filter(visible=True)


def test_an_empty_database_says_how_to_index_instead_of_showing_an_empty_page(driver, browser_page, app_url):
    empty_store(driver)
    page = browser_page
    page.goto(app_url)
    expect(page.get_by_text("No images are indexed yet")).to_be_visible()
    expect(page.get_by_text("python -m retrieval index FOLDER")).to_be_visible()
    expect(page.get_by_role("button", name="Index folder")).to_be_visible()  # the sidebar's, on localhost
    expect(picks(page)).to_have_count(0)


def test_the_first_page_is_the_catalogue_and_a_click_searches_and_back_returns(demo_store, browser_page, app_url, screenshots):
    page = browser_page
    page.goto(app_url)
    expect(page.get_by_text("34 images in the catalogue")).to_be_visible()
    expect(page.get_by_text("Drop a photo to search with")).to_be_visible()
    expect(picks(page)).to_have_count(24)
    page.set_viewport_size({"width": 1280, "height": 1300})
    page.wait_for_function("Array.from(document.images).every(img => img.complete && img.naturalWidth > 0)")
    screenshots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=screenshots / "catalogue.png")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.get_by_role("button", name="Older →").click()
    expect(page.get_by_text("Page 2 of 2, newest first")).to_be_visible()
    expect(picks(page)).to_have_count(10)
    page.get_by_role("button", name="← Newer").click()
    expect(page.get_by_text("Page 1 of 2, newest first")).to_be_visible()

    first = picks(page).first
    name = first.get_by_test_id("stCaptionContainer").inner_text().splitlines()[0]
    first.get_by_role("button", name="Search").click()
    expect(page.locator("[class*='st-key-result-']")).to_have_count(12)
    expect(page.get_by_text(f"Query: {name}")).to_be_visible()
    page.wait_for_function("new URLSearchParams(location.search).has('image')")
    assert parse_qs(urlparse(page.url).query)["image"] == [str(DEMO_IMAGES / name)]
    page.go_back()
    expect(page.get_by_text("34 images in the catalogue")).to_be_visible()
    expect(picks(page)).to_have_count(24)
    expect(page.locator("[class*='st-key-result-']").filter(visible=True)).to_have_count(0)
    assert "image=" not in page.url
