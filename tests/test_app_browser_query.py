"""The query beyond one whole photo, in Debian's Chromium over the test Neo4j: a region of the photo,
several examples (positives and negatives), the graph of thumbnails, the shareable `?image=` URL.
The browser is refused every request beyond localhost (tests/support/serving.py's CHROMIUM_ARGS), and each test
checks that none was tried: the components' JavaScript is bundled."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

from playwright.sync_api import Locator, Page, expect

from retrieval.duplicates import tier_of
from tests.support.paths import DEMO_IMAGES, copy_bench_photos
from tests.support.server import first_batch_held
from tests.support.serving import NETWORK, NODE_AT, PAGE_DRAWN, index_from_admin, new_page, served_app, settle, settled

pytest_plugins = ["tests.support.browser"]  # the app in Chromium: only these tests load Playwright

QUERY = "car_ferrari_red_03.jpg"
expect.set_options(timeout=60_000)  # the first page view also loads the model


# The cards shown: a card left from an earlier run may linger hidden, or faded (stale) while a rerun draws.
NAMES = """() => Array.from(document.querySelectorAll("[class*='st-key-result-']"))
  .filter(card => card.offsetParent !== null && !card.closest('[data-stale="true"]'))
  .map(card => card.querySelector('strong')?.innerText ?? '')"""  # a card being drawn has no name yet


# The names once the page is drawn, PAGE_DRAWN (a rerun draws its cards over the previous run's one by one).
DRAWN_NAMES = f"""() => ({PAGE_DRAWN})() && JSON.stringify(({NAMES})())"""


def result_names(page: Page, timeout: float = 60) -> list[str]:
    """The result cards' image names, once the app's run has drawn them."""
    return json.loads(page.wait_for_function(DRAWN_NAMES, timeout=timeout * 1000).json_value())


def names_once(page: Page, done: Callable[[list[str]], bool], timeout: float = 60) -> list[str]:
    """The result names once `done` holds for them (a rerun on a loaded machine draws the new results
    well after the example row; the names are returned as they are if it never holds)."""
    deadline = time.monotonic() + timeout
    while not done(names := result_names(page)) and time.monotonic() < deadline:
        pass  # each read waits in the page for the app's run to end
    return names


def names_once_changed(page: Page, before: list[str]) -> list[str]:
    """The result names once they differ from `before` (the rerun has drawn the new results)."""
    return names_once(page, lambda names: names != before)


def names_once_equal(page: Page, expected: list[str]) -> list[str]:
    return names_once(page, lambda names: names == expected)


def example_names(page: Page) -> list[str]:
    """The query's examples as the row shows them, e.g. "like a.jpg", "not like b.jpg"."""
    return [
        re.search(r"(not like|like) (\S+)", text).group(0) for text in shown(page, "[class*='st-key-example-']").all_inner_texts()
    ]


def shown(page: Page, selector: str) -> Locator:
    """The elements shown: one an earlier run drew may linger hidden in the page after a rerun."""
    return page.locator(selector).filter(visible=True)


def pick_first_indexed(page: Page, app_url: str) -> list[str]:
    page.goto(app_url)
    page.locator(".st-key-pick-0").get_by_role("button", name="Search").click()
    expect(page.locator("[class*='st-key-result-']")).to_have_count(12)
    return result_names(page)


def test_a_box_drawn_on_the_photo_searches_that_region(demo_store, browser_page, app_url, screenshots, outside_requests):
    page = browser_page
    page.goto(app_url)
    expect(page.get_by_text("Drop a photo to search with")).to_be_visible()  # the app's first page, its model loaded
    page.locator("input[type=file]").set_input_files(str(DEMO_IMAGES / QUERY))
    expect(page.locator("[class*='st-key-result-']").first).to_contain_text(QUERY)
    whole = names_once(page, lambda names: len(names) == 12 and all(names))  # every card drawn
    page.get_by_text("Search a region of the photo").click()
    picker = page.locator("iframe[title*='streamlit_image_coordinates']")
    expect(picker).to_be_visible()
    expect(picker.content_frame.locator("img")).to_be_visible()
    # The frame's height follows the image once it is loaded: until then the box would be drawn on a shorter frame.
    height = picker.content_frame.locator("img").evaluate("img => img.decode().then(() => img.getBoundingClientRect().height)")
    grown = "([frame, height]) => frame.getBoundingClientRect().height >= height - 1"  # within rounding
    page.wait_for_function(grown, arg=[picker.element_handle(), height])
    box = picker.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.3)  # the car's front and wheel
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.95, box["y"] + box["height"] * 0.85, steps=5)
    page.mouse.up()
    expect(page.get_by_text("(left, top, width, height) of")).to_be_visible()
    region = names_once_changed(page, whole)
    assert region != whole and len(region) == 12
    page.set_viewport_size({"width": 1280, "height": 1150})
    page.wait_for_function("Array.from(document.images).every(img => img.complete && img.naturalWidth > 0)")
    page.screenshot(path=screenshots / "region.png")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("button", name="Whole photo").click()
    assert names_once_equal(page, whole) == whole
    page.get_by_text("Search a region of the photo").click()
    assert not outside_requests


def test_two_examples_and_a_negative_make_one_query_shown_as_a_row(demo_store, browser_page, app_url, outside_requests):
    page = browser_page
    first = pick_first_indexed(page, app_url)
    cards, row = shown(page, "[class*='st-key-result-']"), shown(page, "[class*='st-key-example-']")
    second = first[1]
    cards.nth(1).get_by_role("button", name="Add to query").click()
    expect(row).to_have_count(2)
    two = names_once(page, lambda names: len(names) == 12 and second not in names)  # the results of two examples
    cards.nth(1).get_by_role("button", name="Add to query").click()
    expect(row).to_have_count(3)
    three = names_once(page, lambda names: len(names) == 12 and two[1] not in names)
    negative = three[-1]
    cards.last.get_by_role("button", name="Less like this").click()
    expect(row).to_have_count(4)
    assert example_names(page) == [f"like {first[0]}", f"like {second}", f"like {two[1]}", f"not like {negative}"]
    expect(page.get_by_text("4 examples, combined")).to_be_visible()
    examples = {first[0], second, two[1], negative}
    combined = names_once(page, lambda names: len(names) == 12 and not examples & set(names))
    assert len(combined) == 12 and not examples & set(combined)  # the examples themselves are left out
    assert combined != three  # the negative changed the ranking, not only took itself out
    assert "image=" in page.url and "not=" in page.url
    row.nth(3).get_by_role("button", name="Remove").click()
    expect(row).to_have_count(3)
    assert "not=" not in page.url
    assert not outside_requests


def test_a_shared_image_url_opens_the_same_results(demo_store, browser_page, app_url, outside_requests):
    page = browser_page
    picked = pick_first_indexed(page, app_url)
    assert "image=" in page.url
    shared = page.url
    page.goto(app_url)  # a fresh session, as a person opening the link would have
    page.goto(shared)
    first_in_grid = Path(parse_qs(urlparse(shared).query)["image"][0]).name
    expect(page.get_by_text(f"Query: {first_in_grid}")).to_be_visible()
    expect(page.locator("[class*='st-key-result-']")).to_have_count(12)
    assert result_names(page) == picked
    page.goto(f"{app_url}/?image={quote(str(DEMO_IMAGES / QUERY))}")
    expect(page.locator("[class*='st-key-result-']").first).to_contain_text(QUERY)
    assert not outside_requests


def test_clicking_a_thumbnail_in_the_graph_searches_from_it(demo_store, browser_page, app_url, screenshots, outside_requests):
    page = browser_page
    names = pick_first_indexed(page, app_url)
    settled(page)
    page.get_by_text("Show these results in the similarity graph").click()
    graph = page.locator("iframe[title*='agraph']")
    expect(graph).to_be_visible()
    frame = graph.content_frame
    expect(frame.locator("canvas")).to_be_visible()
    frame.locator("canvas").wait_for()
    assert graph.element_handle().content_frame().evaluate(NETWORK)
    target = str(DEMO_IMAGES / names[3])
    inner = graph.element_handle().content_frame()
    settle(inner, target)
    graph.scroll_into_view_if_needed()
    page.set_viewport_size({"width": 1280, "height": 900})
    settle(inner, target)
    page.screenshot(path=screenshots / "graph.png")
    canvas = frame.locator("canvas").bounding_box()
    spot = inner.evaluate(NODE_AT, target)
    page.mouse.click(canvas["x"] + spot["x"], canvas["y"] + spot["y"])
    expect(page.get_by_text(f"Query: {names[3]}")).to_be_visible()
    expect(page.locator("[class*='st-key-result-']").first).to_contain_text(names[3])
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_text("Show these results in the similarity graph").click()
    assert not outside_requests


# Every result card and example shown: a card left over from an earlier run, or an example holding a
# result card's buttons (the container it took the place of), would count here.
CARDS_AND_LEFTOVERS = """() => [
  Array.from(document.querySelectorAll("[class*='st-key-result-']")).filter(card => card.offsetParent !== null).length,
  Array.from(document.querySelectorAll("[class*='st-key-example-']"))
    .filter(example => example.offsetParent !== null && example.innerText.includes('Add to query')).length]"""


def redrawn(panel: Locator, times: int = 2) -> None:
    """Until the run's panel has been drawn anew `times` times (the page redraws it every second while the
    run goes on, each time with the seconds it has taken)."""
    for _ in range(times):
        expect(panel).not_to_have_text(panel.inner_text())


def test_the_results_redrawn_while_an_indexing_run_polls_leave_nothing_of_the_previous_ones(
    demo_store, neo4j_server, browser, tmp_path, outside_requests
):
    folder = tmp_path / "photos-being-indexed"
    copy_bench_photos(folder, 40)
    demo = demo_store.stats([]).images
    # The run held before its first batch throughout, so that it polls for the whole test on any machine; in an
    # app of this test's own, ended before the run is let go (its thread dies with the process): it writes nothing.
    with first_batch_held(demo_store, folder), served_app(neo4j_server, tmp_path / "streamlit.log") as url:
        page = new_page(browser, outside_requests)
        pick_first_indexed(page, url)
        admin = page.get_by_role("tabpanel", name="Admin")
        page.get_by_role("tab", name="Admin").click()
        index_from_admin(admin, folder)
        sidebar = page.get_by_test_id("stSidebar")
        running = sidebar.get_by_text(f"Indexing {folder}: 0 of 40")
        expect(running).to_be_visible()
        elapsed = sidebar.get_by_text(re.compile(r"elapsed \d+ s"))
        page.get_by_role("tab", name="Search").click()
        cards, row, seen = shown(page, "[class*='st-key-result-']"), shown(page, "[class*='st-key-example-']"), []
        for _ in range(4):  # the page redraws the run's progress every second meanwhile
            cards.nth(1).get_by_role("button", name="Add to query").click()
            expect(row).to_have_count(2)
            redrawn(elapsed)
            seen.append(page.evaluate(CARDS_AND_LEFTOVERS))
            row.nth(1).get_by_role("button", name="Remove").click()
            expect(row).to_have_count(0)
            redrawn(elapsed)
            seen.append(page.evaluate(CARDS_AND_LEFTOVERS))
        expect(running).to_be_visible()  # the run was still going throughout
        assert seen == [[12, 0]] * 8
        page.context.close()
    assert demo_store.stats([]).images == demo  # the demo as the module's other tests expect it
    assert not outside_requests


# Each result card's score and the words beside it, e.g. ["0.812", "similar"], as shown.
SCORES = """() => Array.from(document.querySelectorAll("[class*='st-key-result-']"))
  .filter(card => card.offsetParent !== null && !card.closest('[data-stale="true"]'))
  .map(card => (card.innerText.match(/similarity (\\d\\.\\d{3})(?: · (same picture|near-duplicate|similar))?/) ?? []).slice(1))"""


def test_scores_say_their_tier_in_words_and_the_minimum_similarity_slider_keeps_those_reaching_it(
    demo_store, browser_page, app_url, outside_requests
):
    page = browser_page
    page.goto(app_url)
    page.locator("input[type=file]").set_input_files(str(DEMO_IMAGES / QUERY))
    expect(page.get_by_text("12 similar images")).to_be_visible()
    every = names_once(page, lambda names: len(names) == 12 and all(names))
    scores = page.evaluate(SCORES)
    assert scores[0] == ["1.000", "same picture"]  # the photo itself
    for score, word in scores[1:]:  # the duplicate tiers' words, none under the similar tier
        assert word == (tier.word if (tier := tier_of(float(score))) else None), (score, word)
    slider = page.get_by_test_id("stSlider").filter(has_text="Minimum similarity").get_by_role("slider")
    box = slider.bounding_box()  # one click far along the track: one rerun, whatever step it lands on
    page.mouse.click(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2)
    expect(slider).not_to_have_attribute("aria-valuetext", "0.00")
    minimum = float(slider.get_attribute("aria-valuetext"))
    expected = [s for s in scores if float(s[0]) >= minimum]  # those reaching it, in their order
    expect(page.get_by_text(f"{len(expected)} similar images")).to_be_visible()
    kept = [n for n, s in zip(every, scores, strict=True) if float(s[0]) >= minimum]
    assert names_once(page, lambda names: len(names) == len(expected)) == kept
    assert page.evaluate(SCORES) == expected
    assert not outside_requests
