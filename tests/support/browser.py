"""The app served on a free port and driven in Debian's Chromium through Playwright. Only the browser
tests load this (`pytest_plugins = ["tests.support.browser"]`), so nothing else imports Playwright."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest
from neo4j import Driver
from playwright.sync_api import Browser, Page, Route, sync_playwright

from retrieval.access import is_loopback
from retrieval.indexing import index_folder
from retrieval.neo4j.server import LocalNeo4j
from retrieval.neo4j.store import ImageStore
from retrieval.vision.embed import Embedder
from tests.support.paths import DEMO_IMAGES, PROJECT
from tests.support.server import empty_store, free_port, server_env

CHROMIUM = "/usr/bin/chromium"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


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


@contextmanager
def served_app(
    neo4j_server: LocalNeo4j,
    log_path: Path,
    address: str = "127.0.0.1",
    env: dict[str, str] | None = None,
    script: str = "streamlit_app.py",
) -> Iterator[str]:
    """The app (or another `script`, with the project's .streamlit/config.toml) served by `streamlit run`
    on a free port of `address` (a loopback one), with `env` added to the test server's environment;
    yields its URL once it answers, and stops it afterwards."""
    port = free_port()
    with log_path.open("w") as log:
        app = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port), "--server.address", address],
            cwd=PROJECT,
            env={**server_env(neo4j_server), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            url = f"http://{address}:{port}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).close()
                    break
                except OSError:
                    if app.poll() is not None:
                        pytest.fail(f"the app exited: {log_path.read_text()}")
                    time.sleep(0.3)
            yield url
        finally:
            app.terminate()
            app.wait(timeout=20)


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


def new_page(browser: Browser, outside_requests: list[str], headers: dict[str, str] | None = None) -> Page:
    """A page in a context of its own (its own Streamlit session), sending `headers` with every request;
    a request beyond loopback is refused and recorded."""

    def loopback_only(route: Route) -> None:
        if is_loopback(urlparse(route.request.url).hostname):
            route.continue_()
        else:
            outside_requests.append(route.request.url)
            route.abort()

    context = browser.new_context(viewport={"width": 1280, "height": 800}, extra_http_headers=headers)
    context.route("**/*", loopback_only)
    page = context.new_page()
    page.set_default_timeout(60_000)
    return page


@pytest.fixture(scope="module")
def browser_page(app_url, browser, outside_requests) -> Page:
    return new_page(browser, outside_requests)
