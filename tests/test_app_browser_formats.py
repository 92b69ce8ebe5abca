"""A camera roll's formats in the app, in Debian's Chromium over the test Neo4j: a HEIC dropped in the
upload box searches like its JPEG; the Admin tab indexes HEIC and RAW, says what it did not read (videos
and sidecars by extension, skipped files by reason), and the catalogue shows their thumbnails."""

from __future__ import annotations

from datetime import UTC, datetime

from PIL import Image
from playwright.sync_api import expect

from tests.support.formats import exif_bytes, jpeg_of, save_as, write_dng
from tests.support.paths import DEMO_IMAGES
from tests.support.serving import index_from_admin

pytest_plugins = ["tests.support.browser"]  # the app in Chromium: only these tests load Playwright

QUERY = "car_ferrari_red_01"  # a photo of which the demo holds no derived copy
TAKEN = datetime(2024, 8, 1, 12, 0, tzinfo=UTC)
expect.set_options(timeout=60_000)  # the first page view also loads the model

# Every image of the page loaded and drawn (a thumbnail the browser could not decode has no natural width).
DRAWN = "alt => Array.from(document.querySelectorAll(`img[alt='${alt}']`)).some(img => img.complete && img.naturalWidth > 0)"


def test_a_heic_dropped_in_the_upload_box_searches_like_its_jpeg(demo_store, browser_page, app_url, tmp_path, outside_requests):
    with Image.open(DEMO_IMAGES / f"{QUERY}.jpg") as photo:
        heic = save_as(photo, tmp_path / f"{QUERY}.heic", quality=80)
    page = browser_page
    page.goto(app_url)
    upload = page.locator("input[type=file]")
    assert ".heic" in (upload.get_attribute("accept") or "")  # the box offers the camera roll's formats
    upload.set_input_files(str(heic))
    expect(page.get_by_text(f"Query: {QUERY}.heic")).to_be_visible()
    expect(page.locator("[class*='st-key-result-']").first).to_contain_text(f"{QUERY}.jpg")
    assert not outside_requests


def test_the_admin_tab_indexes_heic_and_raw_counts_the_rest_and_the_catalogue_shows_their_thumbnails(
    demo_store, browser_page, app_url, tmp_path
):
    folder = tmp_path / "DCIM"
    with Image.open(DEMO_IMAGES / "car_ferrari_black_01.jpg") as photo:
        save_as(photo, folder / "IMG_0001.HEIC", exif_bytes("Apple", "iPhone 15 Pro", TAKEN), quality=80)
    with Image.open(DEMO_IMAGES / "car_ferrari_red_01.jpg") as photo:
        write_dng(folder / "IMG_0002.DNG", (900, 600), preview=jpeg_of(photo.convert("RGB")))
    (folder / "IMG_0001.MOV").write_bytes(b"\0\0\0\x18ftypqt  ")
    (folder / "IMG_0002.xmp").write_bytes(b"<x/>")
    (folder / "empty.jpg").write_bytes(b"")
    page = browser_page
    page.goto(app_url)
    page.get_by_role("tab", name="Admin").click()
    admin = page.get_by_role("tabpanel", name="Admin")
    index_from_admin(admin, folder)
    expect(admin.get_by_text("2 new, 0 updated, 0 unchanged, 0 removed, 1 skipped (3 files")).to_be_visible()
    expect(admin.get_by_text("not pictures, not read: 1 .mov, 1 .xmp")).to_be_visible()
    expect(admin.get_by_text("Skipped: 1 empty file")).to_be_visible()
    page.goto(app_url)  # the catalogue, newest first
    for name in ("IMG_0001.HEIC", "IMG_0002.DNG"):
        page.wait_for_function(DRAWN, arg=name)
