"""Fast checks of the app's messages with Streamlit's AppTest (the browser test covers the rest)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.support.paths import APP
from tests.support.server import free_port


def test_an_empty_database_points_at_the_admin_tab(store, app_env):
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert any("No images are indexed yet" in info.value and "Admin" in info.value for info in at.info)
    assert any("Connected to bolt://127.0.0.1" in s.value for s in at.sidebar.success)


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
