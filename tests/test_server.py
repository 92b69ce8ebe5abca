"""The local Neo4j: loopback only, auth on, harmless to start twice, and clear when it is down or its port is taken."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval.core.errors import Neo4jUnavailable, ServerError
from retrieval.core.settings import load_settings
from retrieval.neo4j.connection import neo4j_settings, open_driver
from retrieval.neo4j.java import LATEST_VERSION, LTS_VERSION, default_version, find_java, line_of, supported_java
from retrieval.neo4j.server import LocalNeo4j
from tests.support.cli import run_cli
from tests.support.paths import PROJECT
from tests.support.server import free_port


def test_status_prints_running_with_uri_version_and_java(neo4j_server, cli_env):
    result = run_cli("db", "status", env=cli_env)
    assert result.returncode == 0, result.stderr
    words = result.stdout.split()
    assert words[:4] == ["running", neo4j_server.uri, "Neo4j", neo4j_server.version]
    assert words[4] == "Java" and int(words[5]) in supported_java(neo4j_server.version)


def test_starting_a_running_server_is_harmless(neo4j_server):
    pid = neo4j_server.status().pid
    status = neo4j_server.start()
    assert status.running and status.pid == pid


def test_server_listens_on_loopback_only_with_auth_and_no_http(driver):
    records, _, _ = driver.execute_query(
        "SHOW SETTINGS YIELD name, value WHERE name IN $names RETURN name, value",
        names=["server.bolt.listen_address", "server.http.enabled", "server.https.enabled", "dbms.security.auth_enabled"],
    )
    settings = {r["name"]: r["value"] for r in records}
    assert settings["server.bolt.listen_address"].startswith("127.0.0.1:")
    assert settings["dbms.security.auth_enabled"] == "true"
    assert settings["server.http.enabled"] == settings["server.https.enabled"] == "false"


def test_generated_password_file_is_private(neo4j_server, monkeypatch):
    monkeypatch.delenv("NEO4J_PASSWORD", raising=False)
    assert stat.S_IMODE(neo4j_server.password_file.stat().st_mode) == 0o600


def test_a_busy_port_is_refused_with_advice(neo4j_server, tmp_path):
    other = LocalNeo4j(home=tmp_path / "home", port=neo4j_server.port)
    with pytest.raises(ServerError, match=f"Port {neo4j_server.port} on 127.0.0.1 is in use.*NEO4J_LOCAL_PORT"):
        other.start()


def test_a_stopped_neo4j_is_named_with_how_to_start_it(cli_env, tmp_path):
    port = free_port()
    env = {**cli_env, "NEO4J_LOCAL_HOME": str(tmp_path / "home"), "NEO4J_LOCAL_PORT": str(port)}
    result = run_cli("stats", env=env)
    assert result.returncode == 1
    assert f"bolt://127.0.0.1:{port}" in result.stderr
    assert "python -m retrieval db start" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_own_server_is_named_without_starting_anything(tmp_path):
    uri = f"neo4j://127.0.0.1:{free_port()}"
    settings = neo4j_settings(load_settings({"NEO4J_URI": uri, "NEO4J_PASSWORD": "x"}, tmp_path))
    assert settings.local is None
    with pytest.raises(Neo4jUnavailable, match=rf"{re.escape(uri)}: the server is not reachable"):
        open_driver(settings)


def test_environment_overrides_the_working_directorys_secrets_file_key_by_key(tmp_path):
    secrets = tmp_path / ".streamlit" / "secrets.toml"
    secrets.parent.mkdir()
    secrets.write_text(
        'NEO4J_URI = "neo4j+s://example.databases.neo4j.io"\nNEO4J_USERNAME = "reader"\nNEO4J_PASSWORD = "from-file"\n'
    )
    settings = neo4j_settings(load_settings({"NEO4J_PASSWORD": "from-env"}, tmp_path))
    assert (settings.uri, settings.username, settings.password) == ("neo4j+s://example.databases.neo4j.io", "reader", "from-env")


def test_db_and_stats_talk_to_the_server_the_secrets_file_names(neo4j_server, cli_env, tmp_path):
    env = {k: v for k, v in cli_env.items() if k not in ("NEO4J_LOCAL_PORT", "NEO4J_LOCAL_HOME")}
    secrets = tmp_path / "secrets.toml"
    env["RETRIEVAL_SECRETS_FILE"] = str(secrets)
    secrets.write_text(f'NEO4J_LOCAL_PORT = "{neo4j_server.port}"\nNEO4J_LOCAL_HOME = "{neo4j_server.home}"\n')
    status = run_cli("db", "status", env=env)
    assert (status.returncode, status.stdout.split()[:2]) == (0, ["running", neo4j_server.uri]), status.stderr
    stats = run_cli("stats", env=env)
    assert stats.returncode == 0 and stats.stdout.startswith("images: "), stats.stderr

    elsewhere = f"bolt://127.0.0.1:{(port := free_port())}"  # a server nobody started: both commands say so
    secrets.write_text(f'NEO4J_LOCAL_PORT = {port}\nNEO4J_LOCAL_HOME = "{tmp_path / "home"}"\n')
    status = run_cli("db", "status", env=env)
    assert (status.returncode, status.stdout.split()[:2]) == (3, ["stopped", elsewhere])
    stats = run_cli("stats", env=env)
    assert stats.returncode == 1 and f"Cannot use Neo4j at {elsewhere}" in stats.stderr


FETCH = "import sys, pathlib, retrieval.neo4j.maven as maven; maven.fetch_jars(sys.argv[1], pathlib.Path(sys.argv[2]))"


@pytest.mark.slow  # copies the server's jars twice: not for the quick tier
def test_two_first_starts_at_once_fetch_the_jars_one_at_a_time_and_both_find_them(tmp_path):
    version, lib = default_version(), tmp_path / "dist" / "lib"
    runs = [
        subprocess.Popen([sys.executable, "-c", FETCH, version, str(lib)], cwd=PROJECT, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    assert [(run.communicate()[1], run.returncode) for run in runs] == [("", 0)] * 2
    assert (lib / f"neo4j-server-{version}.jar").is_file()
    assert not (lib.parent / "lib.partial").exists()


def fake_jdk(root: Path, name: str, major: int) -> Path:
    """A folder that looks like a JDK of `major` to `find_java` (its `release` file and a bin/java)."""
    home = root / name
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("#!/bin/sh\nexit 1\n")
    (home / "bin" / "java").chmod(0o755)
    (home / "release").write_text(f'JAVA_VERSION="{major}.0.1"\n')
    return home


def test_java_home_is_used_when_the_version_supports_it(tmp_path):
    jvm = tmp_path / "jvm"
    fake_jdk(jvm, "jdk-25", 25)
    home = fake_jdk(tmp_path, "own-21", 21)
    java = find_java(LATEST_VERSION, env={"JAVA_HOME": str(home), "PATH": ""}, jvm_root=jvm)
    assert (java.major, java.source) == (21, "JAVA_HOME")


def test_a_java_home_the_version_does_not_support_gives_way_to_one_under_the_jvm_folder(tmp_path):
    jvm = tmp_path / "jvm"
    fake_jdk(jvm, "jdk-17", 17)
    fake_jdk(jvm, "jdk-25", 25)
    old = fake_jdk(tmp_path, "own-17", 17)
    assert find_java(LATEST_VERSION, env={"JAVA_HOME": str(old), "PATH": ""}, jvm_root=jvm).major == 25
    assert find_java(LTS_VERSION, env={"JAVA_HOME": str(jvm / "jdk-25"), "PATH": ""}, jvm_root=jvm).major == 17


def test_no_fitting_java_says_which_packages_to_install(tmp_path):
    jvm = tmp_path / "jvm"
    fake_jdk(jvm, "jdk-17", 17)
    with pytest.raises(
        ServerError, match=r"runs on Java 25 or 21.*seen: Java 17.*apt-get install openjdk-25-jre-headless or openjdk-21"
    ):
        find_java(LATEST_VERSION, env={"PATH": ""}, jvm_root=jvm)


def test_a_new_home_runs_the_newest_release_where_its_java_is_found_and_the_lts_elsewhere(tmp_path):
    jvm = tmp_path / "jvm"
    fake_jdk(jvm, "jdk-17", 17)
    assert default_version(env={"PATH": ""}, jvm_root=jvm) == LTS_VERSION
    fake_jdk(jvm, "jdk-25", 25)
    assert default_version(env={"PATH": ""}, jvm_root=jvm) == LATEST_VERSION


def test_each_release_line_keeps_its_own_database_in_the_home(tmp_path):
    lts = LocalNeo4j(home=tmp_path / "home", version=LTS_VERSION)
    latest = lts.of_version(LATEST_VERSION)
    assert lts.data_dir != latest.data_dir
    assert lts.password_file == latest.password_file  # the app reaches whichever runs
    assert lts.lib_dir != latest.lib_dir


def test_a_home_made_before_versions_had_folders_is_kept_as_the_lts_database(neo4j_server, tmp_path):
    home = tmp_path / "home"
    (home / "data" / "databases").mkdir(parents=True)
    (home / "conf").mkdir()
    latest = LocalNeo4j(home=home, port=neo4j_server.port, version=LATEST_VERSION)
    with pytest.raises(ServerError, match="in use"):  # the busy port stops it after the layout is looked at
        latest.start()
    assert (home / f"neo4j-{line_of(LTS_VERSION)}" / "data" / "databases").is_dir()
    assert not (home / "data").exists()
    assert latest.other_lines() == [LTS_VERSION]


def test_a_database_made_by_a_newer_patch_is_not_opened_by_an_older_one(tmp_path):
    server = LocalNeo4j(home=tmp_path / "home", port=free_port(), version=LTS_VERSION)
    server.server_home.mkdir(parents=True)
    (server.server_home / "version").write_text("5.26.99\n")
    with pytest.raises(ServerError, match=r"made by Neo4j 5\.26\.99.*db start --version 5\.26\.99"):
        server.start()


def test_without_a_version_a_home_runs_the_line_whose_database_it_holds(tmp_path):
    assert LocalNeo4j(home=tmp_path / "new").version == default_version()
    (tmp_path / "legacy" / "data").mkdir(parents=True)
    assert LocalNeo4j(home=tmp_path / "legacy").version == LTS_VERSION
    made = LocalNeo4j(home=tmp_path / "made", version=LATEST_VERSION).server_home
    made.mkdir(parents=True)
    (made / "version").write_text(f"{LATEST_VERSION}\n")
    assert LocalNeo4j(home=tmp_path / "made").version == LATEST_VERSION
