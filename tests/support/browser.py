"""The app served on a free port and driven in Debian's Chromium through Playwright. Only the browser
tests load this (`pytest_plugins = ["tests.support.browser"]`), so nothing else imports Playwright."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from neo4j import Driver
from playwright.sync_api import Browser, Page, sync_playwright

from retrieval.indexing import index_folder
from retrieval.neo4j.store import ImageStore
from retrieval.vision.embed import Embedder
from tests.support.paths import DEMO_IMAGES
from tests.support.server import empty_store
from tests.support.serving import CHROMIUM, CHROMIUM_ARGS, new_page, served_app


@pytest.fixture(scope="module")
def demo_store(driver: Driver, lite: Embedder) -> ImageStore:
    """The demo photos indexed once for a browser test module."""
    store = empty_store(driver)
    index_folder(store, lite, DEMO_IMAGES)
    return store


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the pages' screenshots go: a temporary folder, so a test run changes no tracked file;
    scripts/refresh_screenshots.sh points RETRIEVAL_SCREENSHOTS at docs/screenshots on purpose."""
    return Path(os.environ.get("RETRIEVAL_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))


@pytest.fixture(scope="module")
def app_url(neo4j_server, tmp_path_factory) -> Iterator[str]:
    with served_app(neo4j_server, tmp_path_factory.mktemp("app") / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="module")
def outside_requests() -> list[str]:
    """Every request the browser tried beyond localhost (each one refused): the app must work with no internet."""
    return []


@pytest.fixture(scope="module")
def browser(outside_requests) -> Iterator[Browser]:
    """Chromium for a module's tests; every context it opens through `new_page` reaches loopback only."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    assert not outside_requests, f"the page asked for resources beyond localhost: {outside_requests[:5]}"


@pytest.fixture(scope="module")
def browser_page(app_url, browser, outside_requests) -> Page:
    return new_page(browser, outside_requests)
