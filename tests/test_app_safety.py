"""The app under real use, with AppTest on the test Neo4j and real photos: a search never writes, one
indexing run per process whichever session starts it, and every failure a user can meet (no model,
Neo4j gone, an image pruned or its file deleted, a catalogue node deleted) is a message, not a traceback.
(A real Neo4j stopped under the app: tests/test_outages.py.)"""

from __future__ import annotations

import builtins
import io
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from neo4j.exceptions import ResultConsumedError, ServiceUnavailable, SessionExpired
from streamlit.testing.v1 import AppTest

import retrieval.serving.jobs
from app.markdown import literal
from retrieval.core.errors import Neo4jUnavailable, RetrievalError
from retrieval.core.settings import load_settings
from retrieval.examples import Example
from retrieval.indexing import index_folder
from retrieval.neo4j.connection import neo4j_settings
from retrieval.neo4j.errors import driver_errors
from retrieval.neo4j.images import ImageRecord
from retrieval.vision.models import MODELS
from tests.support.app import shown
from tests.support.paths import APP, copy_class_photos
from tests.support.photos import make_near_duplicates
from tests.support.server import database_snapshot, server_env

TIMEOUT = 120
PRODUCT_WITH_IMAGES = """
CREATE (p:Product {sku: $sku}) WITH p
UNWIND $paths AS path MATCH (i:Image {path: path}) CREATE (p)-[:HAS_IMAGE]->(i)
"""


def app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def place(at: AppTest, element: object) -> list[int]:
    """Where an element is drawn (its indices from the page down): Streamlit keeps a previous run's
    element until the run ends, so a widget that moves is on the page twice meanwhile."""

    def path_to(block, path: list[int]) -> list[int] | None:
        for index, child in block.children.items():
            if child is element:
                return [*path, index]
            if hasattr(child, "children") and (found := path_to(child, [*path, index])):
                return found
        return None

    found = path_to(at.main, [])
    assert found is not None
    return found


def texts(elements) -> str:
    """The elements' text as a reader sees it (names in the app's Markdown are escaped)."""
    return "\n".join(shown(str(e.value)) for e in elements)


def progress_texts(at: AppTest) -> list[str]:
    return [shown(p.text) for p in at.get("progress")]


def test_searches_and_duplicates_commit_no_transaction_and_schema_is_left_to_indexing(store, lite, driver, app_env, tmp_path):
    photos = tmp_path / "photos"
    make_near_duplicates(photos, ["bonsai", "llama"], per_class=5, copied_every=5)
    index_folder(store, lite, photos)
    upload, picked_path = sorted(photos.glob("bonsai_*"))[0], sorted(photos.glob("llama_*"))[0]
    before = database_snapshot(driver)

    at = app()
    at.session_state.examples = [Example(upload.name, data=upload.read_bytes())]
    at.run()  # an upload search, and the Duplicates tab
    assert not at.exception
    assert any(s.value == "12 similar images" for s in at.subheader)
    assert any(m.value.startswith("**2 groups**") for m in at.markdown)
    picked = app()
    picked.session_state.examples = [Example.indexed(str(picked_path))]
    picked.run()  # a search from a picked image
    assert not picked.exception
    assert any(s.value == "12 similar images" for s in picked.subheader)
    assert database_snapshot(driver) == before


def test_with_no_vector_index_the_search_tab_says_nothing_is_indexed_and_creates_none(store, lite, driver, app_env):
    spec = lite.spec
    driver.execute_query(f"DROP INDEX {store.index_name(spec.space)} IF EXISTS")
    before = database_snapshot(driver)
    try:
        at = app().run()
        assert not at.exception and not at.error
        assert any("No images are indexed yet" in i.value for i in at.info)
        assert database_snapshot(driver) == before
        assert store.stats([spec.space]).indexes[0].state == "MISSING"
    finally:
        store.ensure_schema(spec.space)  # as the other tests expect to find it


def test_images_without_lists_are_counted_on_the_duplicates_tab_and_searches_still_work(store, lite, app_env, tmp_path):
    photos = copy_class_photos(tmp_path / "photos", 12)
    index_folder(store, lite, photos[0].parent)
    vector = store.vector_of(lite.spec.space, str(photos[0]))
    copies = [photos[0].parent / f"copy{i}.jpg" for i in range(2)]  # as a run stopped before their lists leaves them
    store.upsert(lite.spec.space, [ImageRecord(str(p), p.name, 1, 1, f"sha{p.name}", 1, 1, vector) for p in copies])

    at = app()
    at.session_state.examples = [Example.indexed(str(photos[1]))]
    at.run()
    assert not at.exception
    line = "2 images have no similarity list yet: run `python -m retrieval link`."
    assert texts(at.info).count(line) == 1  # the Duplicates tab: the search needs no lists
    assert any(s.value == "12 similar images" for s in at.subheader)


@dataclass
class HeldIndexing:
    reported: threading.Event = field(default_factory=threading.Event)  # the run's first progress report is out
    release: threading.Event = field(default_factory=threading.Event)  # the test lets the run go on
    finished: threading.Event = field(default_factory=threading.Event)  # index_folder has returned or raised


def held_indexing(monkeypatch) -> HeldIndexing:
    """Make the app's indexing job pause after its first progress report until released, so that a
    test can look at a run in progress however fast this machine indexes; the indexing itself is real."""
    held = HeldIndexing()
    real = retrieval.serving.jobs.index_folder

    def index_folder_held(store, embedder, folder, *, progress, linking, **options):
        def report_then_wait(report):
            progress(report)
            held.reported.set()
            held.release.wait(TIMEOUT)

        try:
            return real(store, embedder, folder, progress=report_then_wait, linking=linking, **options)
        finally:
            held.finished.set()

    monkeypatch.setattr(retrieval.serving.jobs, "index_folder", index_folder_held)
    return held


def rerun_until(at: AppTest, shown: Callable[[AppTest], bool], seconds: float = TIMEOUT) -> AppTest:
    """Rerun a session once the app's indexing thread (in this process under AppTest) has ended, for
    what it records after a script run: waits on that event, not on the clock (`seconds` only bounds
    a hung run); a run or two more until `shown` holds, for a page that redraws itself once a run ends."""
    at.run()  # a click not yet run is run first: a job it starts is then under way
    for thread in threading.enumerate():
        if thread.name == "index-folder":
            thread.join(seconds)
            assert not thread.is_alive(), f"the indexing run did not end in {seconds} s"
    for _ in range(3):
        if shown(at.run()):
            break
    return at


def test_one_indexing_run_per_process_shown_to_every_session(store, app_env, monkeypatch, tmp_path, fresh_caches):
    folder = tmp_path / "new-photos"
    copy_class_photos(folder, 6)
    (folder / "empty.jpg").write_bytes(b"")
    held = held_indexing(monkeypatch)
    first, second = app().run(), app().run()
    first.text_input(key="admin_folder").set_value(str(folder))
    first.button(key="admin_index").click().run()
    assert held.reported.wait(TIMEOUT)
    progress = f"Indexing {folder}: 0 of 7"  # held at its first report: every file found, none read yet
    assert progress in progress_texts(first.run())
    assert progress in progress_texts(second.run())  # another session sees the run

    second.button(key="sidebar_index").click().run()  # and cannot start a second one
    assert f"An indexing run of {folder} is in progress: 0 of 7" in texts(second.sidebar.warning)
    assert not first.exception and not second.exception
    held.release.set()
    assert held.finished.wait(TIMEOUT)
    summary = f"{folder}: 6 new, 0 updated, 0 unchanged, 0 removed, 1 skipped (7 files"
    for session in (first, second):
        rerun_until(session, lambda at: summary in texts(at.success))
        assert summary in texts(session.success)
    assert "empty file (0 bytes)" in str(first.dataframe[0].value)  # the Admin tab lists what was skipped
    assert store.count_vectors(MODELS["efficientnet-lite0"].space) == 6


def test_an_indexing_error_in_the_job_is_a_message(store, app_env, tmp_path, fresh_caches):
    at = app().run()
    at.text_input(key="admin_folder").set_value(str(tmp_path / "no-such-folder"))
    at.button(key="admin_index").click().run()
    rerun_until(at, lambda at: any("stopped" in e.value for e in at.error))
    assert not at.exception
    assert f"Indexing {tmp_path / 'no-such-folder'} stopped: {tmp_path / 'no-such-folder'}: not a folder" in texts(at.error)


def test_a_model_that_cannot_load_is_named_with_what_to_set_and_the_admin_tab_still_works(
    store, app_env, monkeypatch, tmp_path, fresh_caches
):
    monkeypatch.setenv("RETRIEVAL_MODEL", "resnet50")
    monkeypatch.setenv("RETRIEVAL_RESNET50_WEIGHTS", str(tmp_path / "missing.pth"))
    at = app().run()
    assert not at.exception
    message = texts(at.error)
    assert f"RETRIEVAL_RESNET50_WEIGHTS points to {tmp_path / 'missing.pth'}, which does not exist" in message
    assert "Set `RETRIEVAL_MODEL` to a usable model" in message
    assert any(m.label == "Images" for m in at.metric)  # the Admin tab's database figures need no model
    assert at.button(key="admin_index").disabled and at.button(key="sidebar_index").disabled


def test_a_picked_image_pruned_meanwhile_is_a_warning_and_the_query_is_cleared(store, lite, app_env, tmp_path):
    photos = copy_class_photos(tmp_path / "photos", 12)
    index_folder(store, lite, photos[0].parent)
    at = app()
    at.session_state.examples = [Example.indexed(str(photos[0]))]
    at.run()
    store.remove([str(photos[0])])  # as "Remove missing images" or `index --prune` in another session would
    at.run()
    assert not at.exception and not at.error
    assert f"{photos[0].name} is no longer indexed" in texts(at.warning)
    assert at.session_state.examples == []
    at.session_state.examples = [Example.indexed(str(photos[1]))]  # the next pick works
    at.run()
    assert any(s.value == "11 similar images" for s in at.subheader)


def test_an_image_whose_file_is_gone_shows_file_missing_and_still_searches_from_its_stored_vector(store, lite, app_env, tmp_path):
    photos = copy_class_photos(tmp_path / "photos", 12)
    index_folder(store, lite, photos[0].parent)
    photos[0].unlink()
    at = app()
    at.session_state.examples = [Example.indexed(str(photos[0]))]
    at.run()
    assert not at.exception and not at.error
    assert "file missing or unreadable" in texts(at.warning)
    assert any(s.value == "12 similar images" for s in at.subheader)
    assert any(shown(c.value).startswith(f"Query: {photos[0].name}") for c in at.caption)


def test_a_catalogue_filter_whose_node_was_deleted_finds_nothing_and_says_so(store, lite, driver, app_env, tmp_path):
    photos = copy_class_photos(tmp_path / "photos", 12)
    index_folder(store, lite, photos[0].parent)
    for sku, owned in (("a", photos[:6]), ("b", photos[6:])):
        driver.execute_query(PRODUCT_WITH_IMAGES, sku=sku, paths=[str(p) for p in owned])
    at = app()
    at.session_state.examples = [Example.indexed(str(photos[0]))]
    at.run()
    at.toggle(key="filter_on").set_value(True).run()
    at.selectbox(key="filter_label").set_value("Product").run()
    at.selectbox(key="filter_key").set_value("sku").run()
    at.selectbox(key="filter_value").set_value("a").run()
    assert at.subheader[0].value == "6 similar images"  # product a's six photos
    driver.execute_query("MATCH (p:Product {sku: 'a'}) DETACH DELETE p")
    at.run()  # the choices follow the catalogue at once: "a" is gone, and the filter falls to the one left
    assert not at.exception and not at.error
    assert at.selectbox(key="filter_value").options == ["b"]
    assert at.subheader[0].value == "6 similar images"
    driver.execute_query("MATCH (p:Product {sku: 'b'}) SET p.sku = 'c'")  # a value edited in place: the links are the same
    at.run()  # "b" is still offered, and finds nothing now
    assert not at.exception and not at.error
    assert at.subheader[0].value == "0 similar images"
    assert "no image matches the filter" in texts(at.info)


def test_a_url_shows_only_catalogued_images_and_says_the_same_of_any_other_path_without_touching_it(
    store, lite, app_env, monkeypatch, tmp_path
):
    photos = copy_class_photos(tmp_path / "photos", 12)
    index_folder(store, lite, photos[0].parent)
    outside = copy_class_photos(tmp_path / "not-indexed", 1, "llama")[0]  # a real photo the server can read
    missing, nul = tmp_path / "nothing.jpg", f"{tmp_path}/a\0b.jpg"
    hostile = [str(outside), str(missing), nul, str(photos[1].parent / "**x** [y](mailto:a@b).jpg")]
    touched = []
    for module, name in ((os, "stat"), (os, "lstat"), (io, "open"), (builtins, "open")):
        real = getattr(module, name)

        def spy(path, *args, real=real, **kwargs):
            if any(str(path).startswith(h) for h in hostile[:2]) or "\0" in str(path):
                touched.append(str(path))
            return real(path, *args, **kwargs)

        monkeypatch.setattr(module, name, spy)
    at = app()
    at.query_params["image"] = [str(photos[0]), str(outside), nul]
    at.query_params["not"] = [str(missing), hostile[3]]
    at.run()
    assert not at.exception and not at.error
    warnings = texts(at.warning)
    for path in hostile:
        assert f"Not an indexed image: {' '.join(path.split(chr(0)))}. Pick one from the catalogue" in warnings
    assert literal(hostile[3]) in "\n".join(w.value for w in at.warning)  # the name as text, not a link
    assert any(s.value == "12 similar images" for s in at.subheader)  # the catalogued one is searched
    assert at.session_state.examples == [Example.indexed(str(photos[0]))]
    toggle_place = place(at, at.toggle(key="plain"))
    at.toggle(key="plain").set_value(True).run()  # and every later run is as clean
    assert not at.exception and not at.error and "Not an indexed image" not in texts(at.warning), texts(at.warning)
    assert place(at, at.toggle(key="plain")) == toggle_place  # else the browser shows both until the run ends
    assert touched == []


def test_driver_errors_in_the_app_or_its_indexing_thread_become_one_error_naming_the_server_and_how_to_start_it(
    neo4j_server, tmp_path
):
    settings = neo4j_settings(load_settings(server_env(neo4j_server), tmp_path))
    lost = (
        f"Cannot use Neo4j at {neo4j_server.uri}: the connection was lost. Work finished before this is kept. "
        "Start the local Neo4j with `python -m retrieval db start`."
    )
    for error in (ServiceUnavailable("gone"), SessionExpired("gone")):
        with pytest.raises(Neo4jUnavailable) as raised, driver_errors(settings, "while indexing"):
            raise error
        assert str(raised.value) == lost
    with pytest.raises(RetrievalError) as raised, driver_errors(settings, "while indexing"):
        raise ResultConsumedError(None, "The result is out of scope.")
    assert str(raised.value) == (
        "Neo4j failed while indexing (ResultConsumedError: The result is out of scope.). See the Neo4j server's log for more."
    )
    with pytest.raises(RetrievalError, match=r"^Said plainly\.$"), driver_errors(settings, "while indexing"):
        raise RetrievalError("Said plainly.")
