"""Fast checks of the app's messages with Streamlit's AppTest (the browser test covers the rest)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

from streamlit.testing.v1 import AppTest

from app.catalogue import GRID_PAGE
from app.markdown import WORD_JOINER, as_text_in_graph
from retrieval.duplicates import tier_of
from retrieval.indexing import index_folder
from tests.support.app import shown
from tests.support.copies import make_tiered_copies
from tests.support.paths import APP
from tests.support.server import free_port

CROPPED = ["bonsai", "lamp", "barrel"]  # their first photo's shifted crop scores in the near tier (test_duplicates.py)


def test_an_empty_database_points_at_the_admin_tab(store, app_env):
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert any("No images are indexed yet" in info.value and "Admin" in info.value for info in at.info)
    assert any("Connected to bolt://127.0.0.1" in s.value for s in at.sidebar.success)


def test_the_first_page_is_the_catalogue_newest_first_a_page_at_a_time_and_a_click_searches(demo_store, app_env):
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert any(m.value == "**34 images in the catalogue**" for m in at.markdown)
    picks = [b for b in at.button if b.key.startswith("search:")]
    assert len(picks) == GRID_PAGE and any(c.value.startswith("Page 1 of 2") for c in at.caption)
    at.button(key="grid_older").click().run()
    assert len([b for b in at.button if b.key.startswith("search:")]) == 34 - GRID_PAGE
    at.button(key="grid_newer").click().run()
    first = next(b for b in at.button if b.key.startswith("search:"))
    assert first.key == picks[0].key
    first.click().run()
    path = first.key.removeprefix("search:")
    assert at.query_params["image"] == path and not [b for b in at.button if b.key.startswith("search:")]
    assert any(shown(c.value).startswith(f"Query: {Path(path).name}") for c in at.caption)


def test_a_neo4j_that_is_down_is_named_with_how_to_start_it(app_env, monkeypatch, tmp_path):
    port = free_port()
    monkeypatch.setenv("NEO4J_LOCAL_PORT", str(port))
    monkeypatch.setenv("NEO4J_LOCAL_HOME", str(tmp_path / "home"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    message = at.sidebar.error[0].value
    assert f"bolt://127.0.0.1:{port}" in message and "python -m retrieval db start" in message


def test_the_admin_tab_shows_the_latest_evaluation(store, app_env):
    figures = {"dataset": "/photos/labelled", "model": "efficientnet-lite0", "images": 72, "queries": 72}
    store.save_evaluation({**figures, "index_map": 0.8123, "index_p_at_1": 0.9, "index_p_at_10": 0.85, "index_recall_at_10": 0.7})
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric if m.label in ("mAP", "P@10")} == {"mAP": "0.812", "P@10": "0.850"}
    assert any("efficientnet-lite0 on /photos/labelled (72 photos, 72 queries" in c.value for c in at.caption)


def test_the_duplicates_tab_shows_each_tiers_groups_with_their_differences(store, lite, app_env, tmp_path):
    copies = make_tiered_copies(tmp_path / "photos", CROPPED, per_class=5, copied_every=5, variants=["resized75", "shifted"])
    index_folder(store, lite, tmp_path / "photos")
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert any(m.value.startswith("**3 groups** of 9 images, largest first; page 1 of 1") for m in at.markdown)
    assert sum(m.value.startswith("**Group ") and "3 images" in m.value for m in at.markdown) == 3
    captions = " ".join(shown(c.value) for c in at.caption)
    assert all(Path(path).name in captions for group in copies.near for path in group)
    assert captions.count("pixels: ") == 3 and "best match" in captions
    matches = re.findall(r"best match \*\*(\d\.\d{3})\*\*(?: · (same picture|near-duplicate|similar))?", captions)
    assert len(matches) == 9 and all(word == tier_of(float(score)).word for score, word in matches)  # the Search tab's words

    at.radio(key="dup_tier").set_value("same").run()
    assert any(m.value.startswith("**3 groups** of 6 images") for m in at.markdown)
    assert len(at.get("download_button")) == 3
    at.number_input(key="dup_page:same").set_value(4).run()
    assert [i.value for i in at.info] == ["Page 4 is past the last one, 1, of 3 groups."]


def draw_progress(new: int, total: int, listed: int) -> None:
    """The progress of a run that has stored `new` of `total` files and written `listed` of their lists."""
    from app.indexing import show_progress
    from retrieval import IndexReport, LinkReport
    from retrieval.serving import IndexRun

    show_progress(IndexRun("/photos", 0.0, IndexReport(total=total, new=new), LinkReport(done=listed, total=new)))


def test_a_runs_progress_counts_files_while_any_is_left_and_then_the_lists_still_being_written():
    while_embedding = AppTest.from_function(draw_progress, kwargs={"new": 16, "total": 40, "listed": 16}).run()
    assert [shown(p.proto.text) for p in while_embedding.get("progress")] == ["Indexing /photos: 16 of 40"]
    assert "similarity lists **16** of **16**" in while_embedding.markdown[0].value
    after_embedding = AppTest.from_function(draw_progress, kwargs={"new": 40, "total": 40, "listed": 32}).run()
    assert [p.proto.text for p in after_embedding.get("progress")] == ["Linking similar images: 32 of 40"]


class Markup(HTMLParser):
    """What an HTML parser makes of a text beside its text: tags, comments, declarations."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append(tag)

    def handle_endtag(self, tag: str) -> None:
        self.found.append("/" + tag)

    def handle_comment(self, data: str) -> None:
        self.found.append("<!--")

    def handle_decl(self, decl: str) -> None:
        self.found.append("<!")


def test_a_graph_title_parses_as_no_markup_and_opens_as_no_scheme_and_reads_as_the_name():
    for name in (
        "<img src=x onerror=top.pwned=1>.jpg",
        "a <!-- b --> c.jpg",
        "</div><script>top.pwned=1</script>.jpg",
        "<!DOCTYPE x>.jpg",
        "javascript:alert(1)%2F%2F.jpg",
    ):
        for title in (name, f"query: {name}"):
            shown = as_text_in_graph(title)
            parsed = Markup()
            parsed.feed(shown)
            parsed.close()
            assert parsed.found == [], (title, parsed.found)
            assert urlsplit(shown).scheme == ""
            assert shown.replace(WORD_JOINER, "") == title
