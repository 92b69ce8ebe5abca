"""Who may change the index: open on localhost; served to others, indexing and removing images need
the admin password, and indexing only reads folders under the configured roots. The checks of
retrieval/serving/access.py on their own, then the app in both modes (AppTest, test Neo4j, real photos)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from streamlit import config
from streamlit.runtime.context import ContextProxy
from streamlit.testing.v1 import AppTest
from test_app_safety import rerun_until, texts

from retrieval.core.errors import RetrievalError
from retrieval.core.settings import Settings, load_settings
from retrieval.examples import Example
from retrieval.indexing import index_folder
from retrieval.serving.access import (
    BEHIND_A_PROXY,
    FREE_GUESSES,
    FREE_IN_ALL,
    PROXY_HEADERS,
    LoginThrottle,
    Proxies,
    folder_under_roots,
    is_loopback,
    load_policy,
    networks,
    password_matches,
    server_networks,
    visitor_address,
)
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


@pytest.mark.parametrize("folder", ["", "   ", "\t"])
def test_an_empty_folder_name_is_refused_rather_than_indexing_the_working_directory(folder):
    for roots in (None, (Path.cwd(),)):
        with pytest.raises(RetrievalError, match="Name the folder to index"):
            folder_under_roots(folder, roots)


def test_a_folder_name_with_a_nul_character_is_refused_with_a_message(tmp_path):
    for roots in (None, (tmp_path,)):
        with pytest.raises(RetrievalError, match="cannot contain a NUL character"):
            folder_under_roots(f"{tmp_path}/a\0b", roots)


def test_the_apps_own_cache_its_parents_and_its_sub_folders_are_never_indexed(tmp_path):
    cache = tmp_path / "app" / ".cache" / "thumbnails"
    (cache / "ab").mkdir(parents=True)
    (tmp_path / "app" / "photos").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "app")
    for roots in (None, (tmp_path,)):
        for folder in (cache, cache / "ab", cache.parent, tmp_path / "app", tmp_path, tmp_path / "alias", f"{cache}/../.."):
            with pytest.raises(RetrievalError, match="is, holds or lies in the app's own thumbnail cache"):
                folder_under_roots(str(folder), roots, cache=cache)
        assert folder_under_roots(str(tmp_path / "app" / "photos"), roots, cache=cache) == tmp_path / "app" / "photos"


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


def test_login_is_on_for_a_request_from_another_machine_or_through_a_proxy_whatever_the_bind_address():
    local = load_policy("127.0.0.1", Settings())
    assert not local.for_request(None, {}).login  # Streamlit gives None for 127.0.0.1 and ::1
    assert not local.for_request("127.0.0.2", {"Host": "127.0.0.1:8501"}).login
    for client, headers in [
        ("192.168.1.20", {}),
        ("2001:db8::1", {}),
        (None, {"X-Forwarded-For": "203.0.113.7"}),
        (None, {"x-real-ip": "203.0.113.7"}),
        (None, {"Forwarded": "for=203.0.113.7"}),
        *((None, {name.title(): "203.0.113.7"}) for name in PROXY_HEADERS),  # each alone, as some proxies and CDNs send one
    ]:
        visitor = local.for_request(client, headers)
        assert (visitor.login, visitor.roots) == (True, ()), (client, headers)  # and no folder indexable without roots
    rooted = load_policy("127.0.0.1", Settings(index_roots="/srv/photos")).for_request("10.0.0.9", {})
    assert (rooted.login, rooted.roots) == (True, (Path(os.path.realpath("/srv/photos")),))


def test_a_visitor_is_counted_by_the_connecting_address_and_by_what_only_a_trusted_proxy_appended():
    none, nginx_here = Proxies(), Proxies(networks("127.0.0.1", "test"))
    assert visitor_address("192.168.1.20", [], none) == "192.168.1.20"
    assert visitor_address(None, [], none) == "127.0.0.1"
    # From this machine, Streamlit's server reports the header's last entry: whatever the sender wrote.
    for forged in ("203.0.113.7", "198.51.100.1, 203.0.113.8", "[2001:db8::1]:4711"):
        reported = forged.split(",")[-1].strip().split("]")[0].strip("[")
        assert visitor_address(reported, [forged], none) == BEHIND_A_PROXY, forged  # one address for them all
        assert visitor_address(reported, [forged], nginx_here) == reported  # what the proxy of ours appended
    # From elsewhere, the header is the sender's own text and is never believed...
    assert visitor_address("192.168.1.20", ["203.0.113.7"], nginx_here) == "192.168.1.20"
    # ...unless the sender is a proxy of ours, which appended the last entry itself.
    lan_proxy = Proxies(networks("10.0.0.0/8", "test"))
    assert visitor_address("10.0.0.5", ["203.0.113.7, 198.51.100.9"], lan_proxy) == "198.51.100.9"
    # With FORWARDED_ALLOW_IPS=* the server takes the first entry from anyone: the peer is never known.
    anyone = Proxies(networks("10.0.0.0/8", "test"), server_networks("*"))
    assert visitor_address("203.0.113.7", ["203.0.113.7, 10.1.1.1"], anyone) == BEHIND_A_PROXY
    assert visitor_address("192.168.1.20", [], anyone) == "192.168.1.20"


def test_a_trusted_proxies_setting_that_is_no_address_is_refused_naming_it():
    with pytest.raises(RetrievalError, match="RETRIEVAL_TRUSTED_PROXIES must list IP addresses or networks"):
        load_policy("0.0.0.0", Settings(trusted_proxies="127.0.0.1, nginx"))
    assert load_policy("0.0.0.0", load_settings({"RETRIEVAL_TRUSTED_PROXIES": "127.0.0.1 ::1"}, Path())).proxies.trust("::1")


def test_wrong_passwords_from_ever_new_sessions_and_addresses_are_slowed_down_all_together():
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    attempts = [throttle.attempt([f"session:{i}", f"address:10.0.{i // 250}.{i % 250}"], lambda: False) for i in range(100)]
    assert [a.checked for a in attempts[:FREE_IN_ALL]] == [True] * FREE_IN_ALL
    assert attempts[FREE_IN_ALL - 1].wait == 1.0  # everyone's lock-out starts, each new address met by it
    assert sum(a.checked for a in attempts) == FREE_IN_ALL
    clock.now += 1.0
    assert throttle.attempt(["session:x", "address:10.9.9.9"], lambda: False).wait == 2.0  # and it doubles
    clock.now += 2.0
    assert throttle.attempt(["session:y", "address:10.9.9.8"], lambda: True).passed  # the right one passes after it
    assert throttle.attempt(["session:z", "address:10.9.9.7"], lambda: False).wait == 0.0  # and forgets everyone's


class Clock:
    """A clock the test moves by hand, so a lock-out is checked without waiting for it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_wrong_passwords_lock_the_session_and_the_address_out_for_longer_each_time_and_the_right_one_then_passes():
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    keys = ["session:a", "address:10.0.0.9"]
    checked = []

    def wrong() -> bool:
        checked.append(1)
        return False

    messages = [throttle.attempt(keys, wrong).message() for _ in range(FREE_GUESSES)]
    assert messages == [  # the third wrong guess starts the lock-out
        "Wrong password. 2 more tries before a wait.",
        "Wrong password. 1 more try before a wait.",
        "Wrong password. Wait 1 s before the next try.",
    ]
    refused = throttle.attempt(keys, wrong)
    assert (refused.checked, refused.passed, refused.wait) == (False, False, 1.0) and len(checked) == FREE_GUESSES
    assert refused.message() == "Too many wrong passwords: try again in 1 s."
    assert throttle.attempt(["session:b", "address:10.0.0.9"], lambda: True).wait == 1.0  # a new tab, same address
    assert throttle.attempt(["session:a", "address:10.0.0.10"], lambda: True).wait == 1.0  # same tab, other address
    assert throttle.attempt(["session:c", "address:10.0.0.10"], lambda: True).passed  # anyone else is not held up
    for lock in (1.0, 2.0, 4.0, 8.0):  # each guess waited for doubles the next wait
        clock.now += lock / 2
        assert not throttle.attempt(keys, wrong).checked
        clock.now += lock / 2
        assert throttle.attempt(keys, wrong).wait == 2 * lock
    clock.now += 16.0
    right = throttle.attempt(keys, lambda: True)
    assert (right.checked, right.passed, right.wait) == (True, True, 0.0)
    assert throttle.attempt(keys, wrong).wait == 0.0  # a success forgets the failures


def test_the_lock_out_stops_growing_at_a_quarter_of_an_hour():
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(40):
        clock.now += 10_000
        attempt = throttle.attempt(["address:x"], lambda: False)
    assert attempt.wait == 900.0


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
    assert not [b for b in at.button if b.key in ("sidebar_index", "admin_index", "prune", "admin_login")]
    assert not [t for t in at.text_input if t.key == "sidebar_folder"]  # nor the server's folders


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
    assert not [b for b in at.button if b.key in ("sidebar_index", "admin_index")]
    at.text_input(key="admin_password").set_value("wrong")
    at.button(key="admin_login").click().run()
    assert "Wrong password. 2 more tries before a wait." in [e.value for e in at.error]
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
    rerun_until(at, lambda at: summary in texts(at.success), seconds=60)  # the path as shown, not as escaped Markdown
    assert summary in texts(at.success)
    assert store.paths() == [str(root / "photos" / "llama.jpg")]


@pytest.mark.usefixtures("app_env", "fresh_caches")
@pytest.mark.parametrize("visitor", ["this machine", "another machine"])
def test_settings_that_cannot_be_read_are_explained_in_full_only_to_a_visitor_on_this_machine(
    visitor, tmp_path, monkeypatch, caplog
):
    (secrets := tmp_path / "secrets.toml").write_text("RETRIEVAL_ADMIN_PASSWORD = \n")  # not TOML
    monkeypatch.setenv("RETRIEVAL_SECRETS_FILE", str(secrets))
    if visitor == "another machine":
        monkeypatch.setattr(ContextProxy, "ip_address", property(lambda self: "203.0.113.7"))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    said = " ".join(e.value for e in at.error)
    if visitor == "this machine":
        assert "is not valid TOML" in said and str(tmp_path) in said
    else:
        assert "not set up right" in said and str(tmp_path) not in said and "TOML" not in said
    assert f"{secrets} is not valid TOML" in caplog.text  # for whoever runs the server
