"""The app served by `streamlit run` and pages of Debian's Chromium that reach loopback only: what the
browser tests' fixtures (tests/support/browser.py) are made of, and what a test that serves the app
its own way (another address, settings or Neo4j) uses directly. Only browser tests import it."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, Frame, Locator, Page, Request

from retrieval.neo4j.server import LocalNeo4j
from retrieval.serving.access import is_loopback
from tests.support.paths import PROJECT
from tests.support.server import free_port, server_env

CHROMIUM = "/usr/bin/chromium"

# A request beyond loopback goes to a proxy that is not there and fails, as with no internet; Chromium
# sends loopback addresses direct (its implicit bypass rules). Refused here rather than by Playwright's
# routing, which turns the HTTP cache off: a page loaded again then fetched and compiled the app's
# scripts again, which no visitor's browser does (the README's Tests section has the cost).
NOWHERE = "http://127.0.0.1:9"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    f"--proxy-server={NOWHERE}",
]


# Test-only: the vis-network instance behind streamlit-agraph's canvas, found through React's fiber
# tree (react-graph-vis keeps it in a state hook), to learn where a node was drawn: a canvas has no
# element per node to click.
NETWORK = """() => {
  const stack = [document.getElementById('root')._reactRootContainer._internalRoot.current];
  while (stack.length) {
    const fiber = stack.pop();
    for (let hook = fiber.memoizedState; hook && typeof hook === 'object' && 'next' in hook; hook = hook.next) {
      const value = hook.memoizedState;
      if (value && typeof value.getPositions === 'function') { window.network = value; return true; }
    }
    if (fiber.child) stack.push(fiber.child);
    if (fiber.sibling) stack.push(fiber.sibling);
  }
  return false;
}"""
NODE_AT = "id => window.network.canvasToDOM(window.network.getPositions([id])[id])"
# True once the node has stayed in place (within half a pixel) from one check to the next, half a second apart.
NODE_SETTLED = """id => {
  const spot = window.network.canvasToDOM(window.network.getPositions([id])[id]), before = window.settling;
  window.settling = spot;
  return before !== undefined && Math.abs(spot.x - before.x) + Math.abs(spot.y - before.y) < 0.5;
}"""

# Whether the app's run is over and nothing on the page is stale: Streamlit marks its root with the script's state
# (`data-test-script-state`) and what a rerun has not drawn again yet with `data-stale`. An event of the page, not a pause.
PAGE_DRAWN = """() => document.querySelector("[data-testid='stApp']")?.dataset.testScriptState === "notRunning"
  && !document.querySelector('[data-stale="true"]')"""


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
            app.terminate()  # an indexing run of the app's ends with it (its thread is a daemon)
            try:
                app.wait(timeout=20)
            except subprocess.TimeoutExpired:  # stuck in native code at exit: no later test may meet its writes
                app.kill()
                app.wait()


def new_page(browser: Browser, outside_requests: list[str], headers: dict[str, str] | None = None) -> Page:
    """A page in a context of its own (its own Streamlit session), sending `headers` with every request;
    a request beyond loopback is recorded (and fails: CHROMIUM_ARGS)."""

    def record_outside(request: Request) -> None:
        if not is_loopback(urlparse(request.url).hostname):
            outside_requests.append(request.url)

    context = browser.new_context(viewport={"width": 1280, "height": 800}, extra_http_headers=headers)
    context.on("request", record_outside)
    page = context.new_page()
    page.set_default_timeout(60_000)
    return page


def settled(page: Page) -> None:
    """Wait until the app's run has drawn the page: a toggle clicked while the first run still drew the
    page was lost (seen with Streamlit 1.67, on a loaded machine: the fields it shows never came). Right
    after an action the page still reads as drawn until the action's run begins: wait for something that
    run draws first."""
    page.wait_for_function(PAGE_DRAWN)


def settle(frame: Frame, node: str) -> None:
    """Until the graph's layout (in `frame`, NETWORK found) has settled where `node` is drawn: the page
    checks, not a pause."""
    frame.evaluate("() => { window.settling = undefined; }")
    frame.wait_for_function(NODE_SETTLED, arg=node, polling=500)


def index_from_admin(admin: Locator, folder: Path) -> None:
    """Start indexing `folder` from the Admin tab `admin`, as a person does: the folder typed, Enter, the button."""
    field = admin.get_by_role("textbox", name="Folder")
    field.fill(str(folder))
    field.press("Enter")
    admin.get_by_role("button", name="Index folder").click()
