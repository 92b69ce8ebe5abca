"""The app served to others, tried as a hostile visitor in Debian's Chromium: served with login on
(bound to 127.0.0.2, RETRIEVAL_REQUIRE_LOGIN=1, an admin password and RETRIEVAL_INDEX_ROOTS) over
the test Neo4j and real photos. A URL shows only catalogued images, names are text, wrong passwords
wait, the last run and the server's folders are the admin's, a bug shows no code; behind a proxy
login is on. (Neo4j stopped under the app: tests/test_outages.py.)"""

from __future__ import annotations

import base64
import re
import shutil
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Locator, Page, expect

from app.markdown import WORD_JOINER, ZERO_WIDTH_SPACE
from retrieval.examples import MAX_EXAMPLES
from retrieval.indexing import index_folder
from retrieval.neo4j.store import ImageStore
from retrieval.vision.thumbnails import thumbnail, thumbnail_file
from tests.support.paths import BENCH, PROJECT, copy_class_photos
from tests.support.server import empty_store
from tests.support.serving import NETWORK, NODE_AT, new_page, served_app, settle, settled

pytest_plugins = ["tests.support.browser"]

PASSWORD = "correct horse battery"
# Markdown, HTML entities and a script, as a file name may hold them: each must read as text and run nothing.
HOSTILE_NAME = "**Notice** [Sign in again](mailto:x@y) Tom's & Jerry's <img src=x onerror=pwned=1;top.pwned=1>.jpg"
THUMBNAILS = PROJECT / ".cache" / "thumbnails"
expect.set_options(timeout=60_000)  # the first page view also loads the model


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    """The one folder the served app may index: 11 photos of dogs and one of a llama named to draw Markdown."""
    root = tmp_path_factory.mktemp("shop")
    copy_class_photos(root / "photos", 11)
    shutil.copy(sorted((BENCH / "images" / "llama").glob("*.jpg"))[-1], root / "photos" / HOSTILE_NAME)
    return root


@pytest.fixture(scope="module")
def shop_store(driver, lite, shop) -> ImageStore:
    store = empty_store(driver)
    index_folder(store, lite, shop / "photos")
    return store


@pytest.fixture(scope="module")
def served_url(neo4j_server, shop, shop_store, tmp_path_factory) -> str:
    env = {"RETRIEVAL_REQUIRE_LOGIN": "1", "RETRIEVAL_ADMIN_PASSWORD": PASSWORD, "RETRIEVAL_INDEX_ROOTS": str(shop)}
    with served_app(neo4j_server, tmp_path_factory.mktemp("served") / "streamlit.log", "127.0.0.2", env) as url:
        yield url


def text_of(locator: Locator) -> str:
    """The text a reader sees (the zero-width spaces that stop Streamlit's shortcodes, and the word
    joiners that stop the graph's titles being markup, show nothing)."""
    return locator.inner_text().replace(ZERO_WIDTH_SPACE, "").replace(WORD_JOINER, "")


def thumbnails() -> set[Path]:
    return set(THUMBNAILS.rglob("*")) if THUMBNAILS.exists() else set()


def test_a_url_naming_a_file_outside_the_catalogue_is_neither_read_nor_shown_and_reads_as_a_missing_one(
    served_url, page, tmp_path
):
    outside = copy_class_photos(tmp_path / "private", 1, "llama")[0]  # a real photo the server can read, not indexed
    missing = tmp_path / "private" / "nothing.jpg"
    page.goto(served_url)  # the catalogue's own thumbnails made first: the first page shows them
    expect(page.locator("[class*='st-key-pick-'] img")).to_have_count(12)
    before = thumbnails()
    for value in (outside, missing):
        page.goto(f"{served_url}/?image={quote(str(value))}")
        warning = page.get_by_text(f"Not an indexed image: {value}. Pick one from the catalogue, or drop a photo.")
        expect(warning).to_be_visible()
        expect(page.locator("[class*='st-key-result-']")).to_have_count(0)
    crafted = "# Big heading [Sign in again](mailto:x@y)"
    page.goto(f"{served_url}/?image={quote(crafted)}&not={quote(str(outside))}")
    expect(page.get_by_text(f"Not an indexed image: {outside}.")).to_be_visible()
    alert = page.get_by_test_id("stAlert").filter(has_text="Big heading")
    assert f"Not an indexed image: {crafted}." in text_of(alert)
    expect(page.get_by_role("heading", name="Big heading")).to_have_count(0)
    expect(page.locator("a[href^='mailto']")).to_have_count(0)
    # No thumbnail of the file, of any size, made or kept (by this app: other apps may share the cache meanwhile).
    assert not (thumbnails() - before) & {thumbnail_file(outside, THUMBNAILS, pixels) for pixels in range(1, 4097)}


def test_a_nul_byte_in_the_url_is_a_message_on_every_run_never_a_traceback(served_url, page):
    page.goto(f"{served_url}/?image=a%00b.jpg&not=c%00d.jpg")
    expect(page.get_by_text("Not an indexed image: a b.jpg.")).to_be_visible()
    expect(page.get_by_text("Not an indexed image: c d.jpg.")).to_be_visible()
    for _ in range(2):  # each toggle reruns the search tab
        settled(page)  # a click while a run still draws the page may be lost
        page.get_by_text("Plain cosine").filter(visible=True).click()  # an element of the earlier run may linger hidden
        expect(page.get_by_text("Drop a photo to search with")).to_be_visible()
        expect(page.get_by_test_id("stException")).to_have_count(0)


def test_a_file_name_is_shown_as_text_in_the_results_not_as_bold_or_a_link(served_url, shop, page):
    page.goto(f"{served_url}/?image={quote(str(shop / 'photos' / HOSTILE_NAME))}")
    cards = page.locator("[class*='st-key-result-']")
    expect(cards).to_have_count(12)
    assert text_of(cards.first).startswith(f"{HOSTILE_NAME}\nsimilarity 1.000")  # the photo itself first, its name as it is
    expect(page.get_by_text("Query: ")).to_be_visible()
    assert f"Query: {HOSTILE_NAME}" in text_of(page.locator("[data-testid='stCaptionContainer']", has_text="Query:").first)
    expect(page.locator("a[href^='mailto']")).to_have_count(0)
    expect(page.locator("strong", has_text=re.compile(r"^Notice$"))).to_have_count(0)  # only the whole name is bold
    page.get_by_role("button", name="Back to the catalogue").click()  # the catalogue lists it too
    grid = page.locator("[class*='st-key-pick-']", has_text="Sign in again")
    expect(grid).to_have_count(1)
    assert HOSTILE_NAME in text_of(grid)
    expect(page.locator("a[href^='mailto']")).to_have_count(0)


def alert_after(admin: Locator, previous: str) -> str:
    """The Admin tab's message once a click's rerun has replaced `previous`."""
    alert = admin.get_by_test_id("stAlert").first
    expect(alert).not_to_have_text(previous)
    return alert.inner_text()


def guess(admin: Locator, password: str) -> None:
    field = admin.get_by_label("Admin password")
    field.fill(password)
    field.press("Enter")
    admin.get_by_role("button", name="Log in").click()


def test_wrong_passwords_wait_longer_each_time_and_the_right_one_passes_after_the_wait(served_url, page):
    page.goto(served_url)
    page.get_by_role("tab", name="Admin").click()
    admin = page.get_by_role("tabpanel", name="Admin")
    message = ""
    for expected in (
        "Wrong password. 2 more tries before a wait.",
        "Wrong password. 1 more try before a wait.",
        "Wrong password. Wait 1 s before the next try.",
    ):
        guess(admin, "wrong")
        message = alert_after(admin, message)
        assert message == expected
    seen = [message]
    while "Too many wrong passwords" not in message and len(seen) < 10:  # each wait doubles until a guess comes too soon
        guess(admin, "wrong")
        message = alert_after(admin, message)
        seen.append(message)
    assert message.startswith("Too many wrong passwords: try again in "), seen
    assert all(m.startswith(("Wrong password. Wait ", "Too many")) for m in seen)
    deadline = time.monotonic() + 60
    index = admin.get_by_role("button", name="Index folder")
    while True:
        guess(admin, PASSWORD)  # refused unchecked until the wait is over, then it passes
        try:
            expect(index).to_be_visible(timeout=3_000)
            break
        except AssertionError:
            assert time.monotonic() < deadline, admin.inner_text()
    assert "Too many wrong passwords" not in admin.inner_text()


def test_the_servers_folders_and_last_run_are_the_admins_and_bad_folders_are_refused(served_url, shop, browser, outside_requests):
    fresh = shop / "fresh"
    copy_class_photos(fresh, 2, "llama")
    admin_page, visitor = new_page(browser, outside_requests), new_page(browser, outside_requests)
    try:
        admin_page.goto(served_url)
        admin_page.get_by_role("tab", name="Admin").click()
        admin = admin_page.get_by_role("tabpanel", name="Admin")
        guess(admin, PASSWORD)
        folder = admin.get_by_role("textbox", name="Folder")
        message = ""
        for given, refusal in (
            ("", "Name the folder to index."),
            ("a\0b", "A folder name cannot contain a NUL character."),
            (str(PROJECT), f"{PROJECT} is, holds or lies in the app's own thumbnail cache"),
            (str(THUMBNAILS), f"{THUMBNAILS} is, holds or lies in the app's own thumbnail cache"),
        ):
            folder.fill(given)
            folder.press("Enter")
            admin.get_by_role("button", name="Index folder").click()
            message = alert_after(admin, message)
            assert message.startswith(refusal), (given, message)
        folder.fill(str(fresh))
        folder.press("Enter")
        admin.get_by_role("button", name="Index folder").click()
        summary = f"{fresh}: 2 new, 0 updated"
        expect(admin.get_by_text(summary)).to_be_visible(timeout=120_000)
        expect(admin_page.get_by_test_id("stSidebar").get_by_text(summary)).to_be_visible()

        visitor.goto(served_url)
        expect(visitor.get_by_text("Indexing needs the admin password")).to_be_visible()
        sidebar = visitor.get_by_test_id("stSidebar")
        expect(sidebar.get_by_role("button", name="Index folder")).to_have_count(0)
        shown = visitor.locator("body").inner_text()
        assert str(shop) not in shown and str(PROJECT) not in shown  # neither the last run nor any folder of the server
    finally:
        admin_page.context.close()
        visitor.context.close()


def test_a_bug_shows_a_short_message_and_no_code(neo4j_server, browser, outside_requests, tmp_path):
    script = tmp_path / "bug.py"
    script.write_text('raise ValueError("secret detail from /srv/private")\n')
    with served_app(neo4j_server, tmp_path / "streamlit.log", script=str(script)) as url:
        page = new_page(browser, outside_requests)
        page.goto(url)
        expect(page.get_by_test_id("stException")).to_be_visible()
        shown = page.locator("body").inner_text()
        page.context.close()
    for code in ("secret detail", "ValueError", "Traceback", "raise", "bug.py"):
        assert code not in shown


def test_behind_a_proxy_on_this_machine_login_is_on_though_the_app_listens_on_127_0_0_1(
    neo4j_server, browser, outside_requests, tmp_path
):
    with served_app(neo4j_server, tmp_path / "streamlit.log") as url:  # no RETRIEVAL_REQUIRE_LOGIN
        headers = {"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.7", "Forwarded": "for=203.0.113.7"}
        alone = {"X-Forwarded-Host": "photos.example.org", "X-Forwarded-Proto": "https"}  # as some proxies send them
        cdns = {"CF-Connecting-IP": "203.0.113.7", "True-Client-IP": "203.0.113.7", "Client-IP": "203.0.113.7"}
        for header, value in {**headers, **alone, **cdns}.items():
            proxied = new_page(browser, outside_requests, {header: value})
            proxied.goto(url)
            proxied.get_by_role("tab", name="Admin").click()
            admin = proxied.get_by_role("tabpanel", name="Admin")
            expect(admin.get_by_text("need an admin password, and none is set")).to_be_visible()
            expect(admin.get_by_role("button", name="Index folder")).to_have_count(0)
            expect(proxied.get_by_text("Indexing needs the admin password")).to_be_visible()
            proxied.context.close()
        direct = new_page(browser, outside_requests)
        direct.goto(url)
        direct.get_by_role("tab", name="Admin").click()
        expect(direct.get_by_role("tabpanel", name="Admin").get_by_role("button", name="Index folder")).to_be_visible()
        direct.context.close()


def test_wrong_passwords_from_ever_new_sessions_with_made_up_forwarded_addresses_are_slowed_down(
    served_url, browser, outside_requests
):
    messages: list[str] = []
    for visitor in range(12):  # each a new session saying it is another visitor; none waits for a lock-out to end
        page = new_page(browser, outside_requests, {"X-Forwarded-For": f"198.51.100.{visitor}, 203.0.113.{visitor}"})
        try:
            page.goto(served_url)
            page.get_by_role("tab", name="Admin").click()
            admin = page.get_by_role("tabpanel", name="Admin")
            guess(admin, "wrong")
            messages.append(alert_after(admin, ""))
        finally:
            page.context.close()
        if messages[-1].startswith("Too many wrong passwords"):
            break
    assert messages[:3] == [  # counted together, as the header is anyone's to write
        "Wrong password. 2 more tries before a wait.",
        "Wrong password. 1 more try before a wait.",
        "Wrong password. Wait 1 s before the next try.",
    ], messages
    assert messages[-1].startswith("Too many wrong passwords: try again in "), messages  # a guess refused unchecked


def result_cards(page: Page) -> Locator:
    return page.locator("[class*='st-key-result-']")


def test_a_catalogued_photo_swapped_for_a_link_to_an_outside_picture_is_neither_read_nor_shown(served_url, shop, page, tmp_path):
    outside = copy_class_photos(tmp_path / "private", 1, "flamingo")[0]  # a real picture the server can read, of nothing indexed
    seen = base64.b64encode(thumbnail(outside, tmp_path / "cache", roots=None).read_bytes()).decode()  # as it would be shown
    swapped = sorted((shop / "photos").glob("*.jpg"))[0]
    kept = swapped.read_bytes()
    swapped.unlink()
    swapped.symlink_to(outside)
    try:
        page.goto(f"{served_url}/?image={quote(str(swapped))}")
        expect(result_cards(page)).to_have_count(12)  # searched by its stored vector: the catalogue's, not the file's
        expect(page.get_by_text("file missing or unreadable").first).to_be_visible()
        expect(page.get_by_text(f"Query: {swapped.name}")).to_be_visible()
        settled(page)
        page.get_by_text("Show these results in the similarity graph").click()
        graph = page.locator("iframe[title*='agraph']")
        expect(graph.content_frame.locator("canvas")).to_be_visible()
        inner = graph.element_handle().content_frame()
        assert inner.evaluate(NETWORK)
        images = inner.evaluate("() => window.network.body.data.nodes.get().map(n => [n.id, n.image])")
        assert dict(images)[str(swapped)] == ""  # the query drawn as a plain node
        assert seen not in page.content() and not any(seen in (image or "") for _, image in images)
    finally:
        swapped.unlink()
        swapped.write_bytes(kept)


def test_a_name_in_a_graph_tooltip_reads_as_it_is(served_url, shop, page):
    photo = shop / "photos" / HOSTILE_NAME
    page.goto(f"{served_url}/?image={quote(str(photo))}")
    expect(result_cards(page)).to_have_count(12)
    settled(page)
    page.get_by_text("Show these results in the similarity graph").click()
    graph = page.locator("iframe[title*='agraph']")
    frame = graph.content_frame
    expect(frame.locator("canvas")).to_be_visible()
    inner = graph.element_handle().content_frame()
    assert inner.evaluate(NETWORK)
    tooltip = frame.locator("div.vis-tooltip")
    graph.scroll_into_view_if_needed()
    settle(inner, str(photo))  # pointed at where the layout has come to rest
    canvas, spot = frame.locator("canvas").bounding_box(), inner.evaluate(NODE_AT, str(photo))
    page.mouse.move(canvas["x"] + spot["x"], canvas["y"] + spot["y"])
    expect(tooltip).to_be_visible()
    assert text_of(tooltip) == f"query: {HOSTILE_NAME}"  # the name once, as text: no &#x27; or &amp;
    # The component parses each title as HTML too: the name's <img onerror> ran nowhere.
    assert page.evaluate("typeof pwned") == inner.evaluate("typeof pwned") == "undefined"


def test_a_link_naming_a_photo_many_times_and_too_many_photos_makes_one_query_of_at_most_ten(served_url, shop, page):
    photos = sorted((shop / "photos").glob("*.jpg"))
    assert len(photos) == MAX_EXAMPLES + 2
    repeated = "&".join(f"image={quote(str(p))}" for p in photos for _ in range(10))  # 120 names, 12 photos
    page.goto(f"{served_url}/?{repeated}&not={quote(str(photos[0]))}")
    expect(page.get_by_text(f"This link names 12 photos; a query takes at most {MAX_EXAMPLES}")).to_be_visible()
    expect(page.get_by_text(f"Query: {MAX_EXAMPLES} examples, combined")).to_be_visible()
    expect(page.locator("[class*='st-key-example-']")).to_have_count(MAX_EXAMPLES)
    cards = result_cards(page)
    expect(cards.first).to_be_visible()  # the photos left out of the query (two of the shop, and any indexed since)
    for card in cards.all():  # a full query takes no more
        expect(card.get_by_role("button", name="Add to query")).to_be_disabled()
        expect(card.get_by_role("button", name="Less like this")).to_be_disabled()
    page.locator("[class*='st-key-example-']").nth(0).get_by_role("button", name="Remove").click()
    expect(page.locator("[class*='st-key-example-']")).to_have_count(MAX_EXAMPLES - 1)
    expect(cards.nth(0).get_by_role("button", name="Add to query")).to_be_enabled()


def test_an_anonymous_visitor_reads_that_neo4j_answers_and_the_model_but_no_uri_path_or_error_and_the_admin_reads_all(
    served_url, neo4j_server, page
):
    page.goto(served_url)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("Connected to Neo4j", exact=True)).to_be_visible()
    expect(sidebar.get_by_text("Model: ")).to_be_visible()
    expect(sidebar.get_by_text("Why this model")).to_have_count(0)
    settled(page)
    page.get_by_text("Only photos taken when, where or with what I say").click()
    for relative in ("x", "~/photos"):
        below_the_folder(page, relative, "Give the folder from the root, as the catalogue stores it")
    shown = page.locator("body").inner_text()
    for inside in (neo4j_server.uri, "bolt://", str(PROJECT), str(Path.home()), "checkpoints", ".cache"):
        assert inside not in shown, inside

    page.get_by_role("tab", name="Admin").click()
    guess(page.get_by_role("tabpanel", name="Admin"), PASSWORD)
    expect(sidebar.get_by_text(f"Connected to {neo4j_server.uri}")).to_be_visible()
    expect(sidebar.get_by_text("Why this model")).to_be_visible()
    page.get_by_role("tab", name="Search").click()
    below_the_folder(page, "y", f"under {PROJECT / 'y'}")  # the admin's own server: its folders are theirs


def below_the_folder(page: Page, text: str, then: str) -> None:
    """Type `text` as the folder to filter by once the page is drawn (a rerun drawing the filters afresh
    would drop what was typed meanwhile), and see the page say `then`. The field shows first: right
    after the click that shows it, the page reads as drawn until that click's run begins."""
    folder = page.get_by_role("textbox", name="Below the folder")
    expect(folder).to_be_visible()
    settled(page)
    folder.fill(text)
    folder.press("Enter")
    expect(page.get_by_text(then)).to_be_visible()
