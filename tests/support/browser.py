"""The app served on a free port and driven in Debian's Chromium through Playwright. Only the browser
tests load this (`pytest_plugins = ["tests.support.browser"]`), so nothing else imports Playwright.
The app, the browser and its page are made once per module; the database under them is the shared
server's, so a module's tests take `demo_store` (tests/support/server.py) or make their own data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from tests.support.serving import CHROMIUM, CHROMIUM_ARGS, new_page, served_app


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """A browser test that fails says what its pages showed at that moment (address and text) in its
    report, so that a failure met once (in CI, on a loaded machine) can be read, not only run again."""
    report = yield
    if report.when == "call" and report.failed:
        for name, value in getattr(item, "funcargs", {}).items():
            if isinstance(value, Page):
                report.sections.append((f"page {name} at failure", shown_on(value)))
    return report


def shown_on(page: Page) -> str:
    """The page's address, its uncaught errors and console errors (a blank page is often the app's
    frontend failing), and its text."""
    try:
        errors = [f"error: {e}" for e in page.page_errors()]
        errors += [f"console: {m.text}" for m in page.console_messages() if m.type == "error"]
        return "\n".join([page.url, *errors[-20:], page.locator("body").inner_text(timeout=5_000)[:8000]])
    except PlaywrightError as e:
        return f"{page.url}\n(its text could not be read: {e.message.splitlines()[0]})"


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
    """Chromium for a module's tests; every context it opens reaches loopback only (CHROMIUM_ARGS), and
    one opened through `new_page` records in `outside_requests` what tried to go further."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    assert not outside_requests, f"the page asked for resources beyond localhost: {outside_requests[:5]}"


@pytest.fixture(scope="module")
def browser_page(app_url, browser, outside_requests) -> Page:
    return new_page(browser, outside_requests)


@pytest.fixture
def page(browser, outside_requests) -> Iterator[Page]:
    """A new visitor: a context of its own, so a session of its own, closed after the test."""
    page = new_page(browser, outside_requests)
    yield page
    page.context.close()
