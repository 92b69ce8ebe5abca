"""Who may change the index: open on localhost; served to others, indexing and removing images need
the admin password, and indexing only reads folders under the configured roots. The checks of
retrieval/access.py on their own, then the app in both modes (AppTest, test Neo4j, real photos)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest
from test_app_safety import rerun_until, texts

from retrieval.access import folder_under_roots, is_loopback, load_policy, password_matches
from retrieval.core.errors import RetrievalError
from retrieval.core.settings import Settings, load_settings
from retrieval.examples import Example
from retrieval.indexing import index_folder
from tests.support.paths import APP, BENCH


@pytest.mark.parametrize("address", ["127.0.0.1", "127.3.2.1", "::1", "[::1]", "localhost", "LocalHost"])
def test_loopback_addresses_reach_only_this_machine(address):
    assert is_loopback(address)


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "", None, "192.168.1.20", "10.0.0.1", "example.org"])
def test_any_other_address_or_none_serves_others(address):
    assert not is_loopback(address)


def test_the_password_must_match_exactly():
    assert password_matches("s3cret ü", "s3cret ü")
    assert not password_matches("s3cret", "s3cret ü") and not password_matches("", "s3cret")


def test_any_folder_is_indexable_when_no_roots_are_set(tmp_path):
    assert folder_under_roots(f"{tmp_path}/a/../b", None) == Path(f"{tmp_path}/a/../b")
    assert folder_under_roots("~/photos", None) == Path.home() / "photos"


def test_no_folder_is_indexable_when_the_roots_are_empty(tmp_path):
    with pytest.raises(RetrievalError, match="set RETRIEVAL_INDEX_ROOTS"):
        folder_under_roots(str(tmp_path), ())


def test_a_folder_under_a_root_resolves_and_one_escaping_it_is_refused(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "shop").mkdir(parents=True)
    outside.mkdir()
    (root / "link").symlink_to(outside)
    roots = (root,)
    assert folder_under_roots(str(root), roots) == root
    assert folder_under_roots(f"{root}/shop/", roots) == root / "shop"
    assert folder_under_roots(f"{root}/shop/../shop", roots) == root / "shop"
    for escape in (str(outside), f"{root}/../outside", f"{root}/link", f"{root}/link/deeper", f"{root}x"):
        with pytest.raises(RetrievalError, match=r"is not under a folder the app may index"):
            folder_under_roots(escape, roots)


def test_roots_given_through_a_symbolic_link_are_compared_by_their_real_path(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    policy = load_policy("0.0.0.0", Settings(index_roots=str(tmp_path / "alias")))
    assert policy.roots == (tmp_path / "real",)
    assert folder_under_roots(str(tmp_path / "alias"), policy.roots) == tmp_path / "real"


def test_the_policy_is_open_on_localhost_and_closed_when_served_or_asked_to():
    local = load_policy("127.0.0.1", Settings())
    assert (local.login, local.roots) == (False, None)
    served = load_policy("0.0.0.0", Settings())
    assert (served.login, served.roots, served.password) == (True, (), None)
    assert load_policy("127.0.0.1", load_settings({"RETRIEVAL_REQUIRE_LOGIN": "1"}, Path())).login
    roots = load_policy("0.0.0.0", Settings(index_roots=os.pathsep.join(["/srv/a", "", "/srv/b"]))).roots
    assert roots == (Path(os.path.realpath("/srv/a")), Path(os.path.realpath("/srv/b")))


def test_the_password_comes_from_the_environment_then_the_secrets_file_in_the_working_directory(tmp_path):
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text('RETRIEVAL_ADMIN_PASSWORD = "from-secrets"\n')
    assert load_policy("0.0.0.0", load_settings({}, tmp_path)).password_matches("from-secrets")
    env = {"RETRIEVAL_ADMIN_PASSWORD": "from-env"}
    assert load_policy("0.0.0.0", load_settings(env, tmp_path)).password_matches("from-env")
    assert not load_policy("0.0.0.0", Settings()).password_matches("")


@pytest.fixture
def served_beyond_localhost():
    """The app as if started with --server.address 0.0.0.0 (nothing is bound: AppTest serves nothing)."""
    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    yield
    config.set_option("server.address", before)


@pytest.mark.usefixtures("app_env", "served_beyond_localhost", "fresh_caches")
def test_served_beyond_localhost_without_a_password_the_writing_controls_are_off_and_search_is_open(store, lite, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for source in sorted((BENCH / "images" / "dalmatian").glob("*.jpg"))[:12]:
        shutil.copy(source, photos / source.name)
    index_folder(store, lite, photos)
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state.examples = [Example.indexed(str(sorted(photos.iterdir())[0]))]
    at.run()
    assert not at.exception
    assert any(s.value == "12 similar images" for s in at.subheader)  # searching needs no password
    assert any("RETRIEVAL_ADMIN_PASSWORD" in w.value and ".streamlit/secrets.toml" in w.value for w in at.warning)
    assert at.button(key="sidebar_index").disabled
    assert not [b for b in at.button if b.key in ("admin_index", "prune", "admin_login")]  # the Admin tab shows none


@pytest.mark.usefixtures("app_env", "fresh_caches")
def test_with_login_required_the_password_opens_the_admin_tab_and_only_folders_under_the_roots_are_indexed(
    store, monkeypatch, tmp_path
):
    root = tmp_path / "shop"
    (root / "photos").mkdir(parents=True)
    shutil.copy(sorted((BENCH / "images" / "llama").glob("*.jpg"))[0], root / "photos" / "llama.jpg")
    monkeypatch.setenv("RETRIEVAL_REQUIRE_LOGIN", "1")
    monkeypatch.setenv("RETRIEVAL_ADMIN_PASSWORD", "correct horse")
    monkeypatch.setenv("RETRIEVAL_INDEX_ROOTS", str(root))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert at.button(key="sidebar_index").disabled and not [b for b in at.button if b.key == "admin_index"]
    at.text_input(key="admin_password").set_value("wrong")
    at.button(key="admin_login").click().run()
    assert "Wrong password." in [e.value for e in at.error]
    at.text_input(key="admin_password").set_value("correct horse")
    at.button(key="admin_login").click().run()
    assert not at.exception and not at.button(key="sidebar_index").disabled

    for outside in (str(BENCH / "images"), f"{root}/../", str(tmp_path)):
        at.text_input(key="admin_folder").set_value(outside)
        at.button(key="admin_index").click().run()
        assert f"{outside} is not under a folder the app may index ({root})" in texts(at.error)
    assert store.paths() == []  # refused before any indexing
    at.text_input(key="admin_folder").set_value(f"{root}/photos")
    at.button(key="admin_index").click()
    summary = f"{root / 'photos'}: 1 new, 0 updated"
    rerun_until(at, lambda at: any(summary in s.value for s in at.success), seconds=60)
    assert store.paths() == [str(root / "photos" / "llama.jpg")]
