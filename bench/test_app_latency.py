"""Benchmark: upload a photo -> its results rendered in the browser, p50 and p95 over 20 queries
with the model warm. Not part of the default tests; run with `./test.sh bench -s`."""

from __future__ import annotations

import statistics
import time

import pytest

from retrieval.indexing import index_folder
from tests.support.paths import DEMO_IMAGES
from tests.support.server import empty_store

pytest_plugins = ["tests.support.browser"]  # the app in Chromium: only these tests load Playwright

QUERIES = 20
WARM_UP = 2


@pytest.mark.bench
def test_upload_to_rendered_results_latency(driver, lite, app_url, browser_page):
    index_folder(empty_store(driver), lite, DEMO_IMAGES)
    page = browser_page
    page.goto(app_url)
    photos = sorted(DEMO_IMAGES.glob("*.jpg"))
    upload = page.locator("input[type=file]")
    first_card = "document.querySelector(\"[class*='st-key-result-1']\")"
    rendered = (
        f"(name) => {{ const card = {first_card}; return card && card.innerText.includes(name)"
        " && Array.from(document.querySelectorAll(\"[class*='st-key-result-'] img\"))"
        ".every(img => img.complete && img.naturalWidth > 0); }"
    )
    seconds = []
    for i, photo in enumerate(photos[: WARM_UP + QUERIES]):
        page.wait_for_function("document.querySelectorAll('input[type=file]').length === 1")  # the last run has ended
        started = time.perf_counter()
        upload.set_input_files(str(photo))
        page.wait_for_function(rendered, arg=photo.name, timeout=120_000)
        if i >= WARM_UP:
            seconds.append(time.perf_counter() - started)
    p50 = statistics.median(seconds)
    p95 = statistics.quantiles(seconds, n=20)[-1]
    print(
        f"\nupload -> results rendered, {QUERIES} queries, k=12: p50 {p50:.3f} s, p95 {p95:.3f} s, "
        f"min {min(seconds):.3f} s, max {max(seconds):.3f} s"
    )
