"""Real parts: a Neo4j server of the tests' own (own home, own port, fresh data each session),
the demo photos, the labelled bench photos, and the pretrained EfficientNet-Lite0."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from neo4j import Driver, GraphDatabase

from retrieval.embed import MODELS, Embedder
from retrieval.server import LocalNeo4j
from retrieval.store import ImageStore

PROJECT = Path(__file__).resolve().parent.parent
DEMO_IMAGES = PROJECT / "images"
BENCH = PROJECT.parent / "shared" / "bench" / "caltech101"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def neo4j_server() -> Iterator[LocalNeo4j]:
    server = LocalNeo4j(home=PROJECT / ".neo4j" / "test", port=free_port(), heap="1g", pagecache="512m")
    server.stop()  # one left over from an interrupted session
    shutil.rmtree(server.home / "data", ignore_errors=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def driver(neo4j_server: LocalNeo4j) -> Iterator[Driver]:
    auth = ("neo4j", neo4j_server.password())
    with GraphDatabase.driver(neo4j_server.uri, auth=auth, notifications_min_severity="OFF") as driver:
        yield driver


def empty_store(driver: Driver) -> ImageStore:
    driver.execute_query("MATCH (n) DETACH DELETE n")
    return ImageStore(driver)


@pytest.fixture
def store(driver: Driver) -> ImageStore:
    """An empty store: every test starts from a database with no nodes."""
    return empty_store(driver)


@pytest.fixture(scope="session")
def lite() -> Embedder:
    return Embedder.load(MODELS["efficientnet-lite0"])


def server_env(neo4j_server: LocalNeo4j) -> dict[str, str]:
    """Environment that points `python -m retrieval` and the app at the test server, never at a user's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "RETRIEVAL_"))}
    return {
        **env,
        "NEO4J_LOCAL_HOME": str(neo4j_server.home),
        "NEO4J_LOCAL_PORT": str(neo4j_server.port),
        "RETRIEVAL_MODEL": "efficientnet-lite0",
    }


@pytest.fixture
def cli_env(neo4j_server: LocalNeo4j) -> dict[str, str]:
    return server_env(neo4j_server)


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "retrieval", *args], env=env, cwd=PROJECT, capture_output=True, text=True, check=False
    )
