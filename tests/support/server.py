"""The tests' Neo4j servers (own homes, own ports, fresh data each session): the shared one, which no
test stops, with a driver, an empty store (`store`), one before its first index as well (`fresh_database`)
and the demo photos indexed (`demo_store`, made once and checked for each test); and a second one for the
tests that stop Neo4j (`outage_server`), all in tests/test_outages.py. Each pytest-xdist worker has servers
of its own: the one that runs that file starts the second.
Also what tests write into or read out of them."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from neo4j import Driver, GraphDatabase

from retrieval.core.batches import chunks
from retrieval.indexing import index_folder
from retrieval.neo4j.images import ImageRecord
from retrieval.neo4j.java import default_version, line_of
from retrieval.neo4j.server import LocalNeo4j
from retrieval.neo4j.store import ImageStore
from retrieval.vision.embed import Embedder
from retrieval.vision.models import MODELS, ModelSpec
from tests.support.paths import DEMO_IMAGES, PROJECT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_server(name: str, heap: str, pagecache: str, version: str = "", settings: tuple[str, ...] = ()) -> LocalNeo4j:
    """A server of its own home under .neo4j/ on a free port, with no data (not started), of `version`
    or the default one: a server left over from an interrupted session is stopped and its data removed."""
    home, version = PROJECT / ".neo4j" / name, version or default_version()
    server = LocalNeo4j(home=home, port=free_port(), version=version, heap=heap, pagecache=pagecache, settings=settings)
    server.stop()
    shutil.rmtree(server.data_dir, ignore_errors=True)
    return server


def crash(server: LocalNeo4j) -> None:
    """Stop `server` as a crash (or the OOM killer) would, and return once its port refuses connections.
    The outage tests stop Neo4j so: a clean stop takes it some 13 s (10 s of them its Bolt server's
    quiet periods), and a client sees both alike, its connections dropped and new ones refused; the
    next `start` recovers the store."""
    if (pid := server.status().pid) is None:
        return
    os.kill(pid, signal.SIGKILL)
    while True:  # the kernel closes a killed process's sockets at once: an event, polled, with no deadline
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
        except OSError:
            return
        time.sleep(0.05)


def discard(server: LocalNeo4j) -> None:
    """End a test server when the session is over: crashed, not shut down, as the next session removes
    its data anyway (`fresh_server`)."""
    crash(server)


# A test server lives minutes, and its JVM's C2 compiler threads took a large share of its CPU on 2
# cores, compiling code it never ran long enough to earn back: the tests' servers compile with C1
# only, as short-lived JVMs do (docs/NEO4J.md has the measurements). The JIT level changes speed, not
# what the tests check. A session that runs a benchmark keeps the full compiler: its
# figures are the product's, whose server (`db start`) always runs with HotSpot's defaults.
QUICK_JIT = "server.jvm.additional=-XX:TieredStopAtLevel=1"


def chosen_server(session: pytest.Session, name: str, heap: str, pagecache: str) -> LocalNeo4j:
    """A fresh server (see `fresh_server`) of the version `--neo4j` names, with `--cypher-default` as its
    databases' default language where it has two (5.26 has one), and QUICK_JIT unless the session
    runs a benchmark. Each pytest-xdist worker has servers of its own (home `test-gw0`, ...), as a
    database is the whole server's in Community edition."""
    config = session.config
    version, language = config.getoption("--neo4j"), config.getoption("--cypher-default")
    settings = (f"db.query.default_language=CYPHER_{language}",) if language and line_of(version) != "5.26" else ()
    if not any(item.get_closest_marker("bench") for item in session.items):
        settings += (QUICK_JIT,)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    home = f"{name}-{worker}" if worker else name
    return fresh_server(home, heap=heap, pagecache=pagecache, version=version, settings=settings)


@pytest.fixture(scope="session")
def neo4j_server(request: pytest.FixtureRequest) -> Iterator[LocalNeo4j]:
    """The tests' server, shared by the whole session: no test stops it (those that stop Neo4j use
    `outage_server`)."""
    server = chosen_server(request.session, "test", heap="1g", pagecache="512m")
    server.start()
    yield server
    discard(server)


OUTAGE_PASSWORD = "-starts-with-a-dash-"  # and a random rest: a generated password starts so one time in 64


@pytest.fixture(scope="session")
def outage_server(request: pytest.FixtureRequest) -> Iterator[LocalNeo4j]:
    """A second server, of the same version and settings, for the tests that stop Neo4j under a run or
    the app (each starts it again before it ends), so that no test stops a server another one uses.
    Started once, on first use; its password starts with a dash (tests/test_outages.py checks it works)."""
    server = chosen_server(request.session, "outage", heap="512m", pagecache="64m")
    server.home.mkdir(parents=True, exist_ok=True)
    server.password_file.write_text(OUTAGE_PASSWORD + secrets.token_urlsafe(12))
    server.password_file.chmod(0o600)
    server.start()
    yield server
    discard(server)


@pytest.fixture(scope="session")
def outage_driver(outage_server: LocalNeo4j) -> Iterator[Driver]:
    auth = ("neo4j", outage_server.password())
    with GraphDatabase.driver(outage_server.uri, auth=auth, notifications_min_severity="OFF") as driver:
        yield driver


@pytest.fixture
def outage_store(outage_server: LocalNeo4j, outage_driver: Driver) -> ImageStore:
    """An empty store on `outage_server`, running (a test that stopped it started it again)."""
    outage_server.start()
    return empty_store(outage_driver)


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
def demo_state() -> dict[str, list]:
    """What the database held when `demo_store` last indexed the demo photos (its snapshot), once it has."""
    return {}


@pytest.fixture
def demo_store(driver: Driver, lite: Embedder, demo_state: dict[str, list]) -> ImageStore:
    """The demo photos (images/, however many it holds) indexed as `index_folder` leaves them. Indexed
    once and kept: each test that asks for it finds the database as that indexing left it, checked
    with one snapshot of every node, link, index and constraint against the one taken then; only when
    an earlier test changed the database (emptied it, wrote to it) is it emptied and indexed again.
    A test may write to it: the next one that asks for it finds the change and indexes again."""
    if demo_state.get("snapshot") != database_snapshot(driver):
        index_folder(empty_store(driver), lite, DEMO_IMAGES)
        driver.execute_query("CALL db.awaitIndexes(300)")  # the snapshot sees them ONLINE, as every later one will
        demo_state["snapshot"] = database_snapshot(driver)
    return ImageStore(driver)


def image_schema(driver: Driver) -> list[str]:
    """The indexes on the Image label (the path constraint's own index among them)."""
    query = "SHOW INDEXES YIELD name, labelsOrTypes WHERE $label IN labelsOrTypes RETURN name ORDER BY name"
    return [r["name"] for r in driver.execute_query(query, label="Image").records]


@pytest.fixture
def fresh_database(store: ImageStore) -> Iterator[ImageStore]:
    """A database before its first `index`: no Image nodes, indexes or constraint (put back afterwards)."""
    constraints = "SHOW CONSTRAINTS YIELD name, labelsOrTypes WHERE $label IN labelsOrTypes RETURN name"
    for record in store.driver.execute_query(constraints, label="Image").records:
        store.driver.execute_query(f"DROP CONSTRAINT `{record['name']}`")  # names cannot be parameters
    for name in image_schema(store.driver):
        store.driver.execute_query(f"DROP INDEX `{name}`")
    yield store
    store.ensure_schema(MODELS["efficientnet-lite0"].space)


def server_env(neo4j_server: LocalNeo4j) -> dict[str, str]:
    """Environment that points `python -m retrieval` and the app at the test server, never at a user's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "RETRIEVAL_"))}
    return {
        **env,
        "NEO4J_LOCAL_HOME": str(neo4j_server.home),
        "NEO4J_LOCAL_PORT": str(neo4j_server.port),
        "RETRIEVAL_MODEL": "efficientnet-lite0",
        "RETRIEVAL_SECRETS_FILE": str(PROJECT / ".neo4j" / "no-secrets.toml"),  # a developer's own secrets never apply
    }


OUTAGE_RETRY_SECONDS = "1"  # a run meeting a crashed server gives up after 1 s of retries, not the default 30


def outage_env(outage_server: LocalNeo4j) -> dict[str, str]:
    """`server_env` for the server the outage tests crash: the driver's retries of a lost transaction,
    which would meet a refused connection for 30 s, end after OUTAGE_RETRY_SECONDS."""
    return server_env(outage_server) | {"NEO4J_RETRY_SECONDS": OUTAGE_RETRY_SECONDS}


def write_vectors(store: ImageStore, spec: ModelSpec, vectors: np.ndarray, batch: int, folder: str, *, first: int = 0) -> float:
    """Seconds to store `vectors[first:]` with `ImageStore.upsert`, one transaction per `batch`, as images
    `/<folder>/<row>.jpg` (named `<row>.jpg`, so a search hit's name gives back its row)."""
    started = time.perf_counter()
    for rows in chunks(range(first, len(vectors)), batch):
        store.upsert(spec.space, [ImageRecord(f"/{folder}/{i}.jpg", f"{i}.jpg", 0, 0, "", 0, 0, vectors[i]) for i in rows])
    return time.perf_counter() - started


def database_snapshot(driver: Driver) -> list:
    """Every node, relationship, index and constraint with all their properties, to compare before and after
    a command that must write nothing (Community edition keeps no transaction counter to ask instead)."""
    queries = (
        "MATCH (n) RETURN elementId(n) AS id, labels(n) AS labels, properties(n) AS properties ORDER BY id",
        "MATCH ()-[r]->() RETURN elementId(r) AS id, type(r) AS type, properties(r) AS properties ORDER BY id",
        "SHOW INDEXES YIELD name, state RETURN name, state ORDER BY name",
        "SHOW CONSTRAINTS YIELD name RETURN name ORDER BY name",
    )
    return [[dict(r.items()) for r in driver.execute_query(query).records] for query in queries]


def plan_operators(driver: Driver, statement: str, params: dict) -> list[tuple[str, str]]:
    """Each operator of the statement's plan, with its details."""
    language = "CYPHER 25 " if statement.startswith("CYPHER 25\n") else ""
    plan = driver.execute_query(language + "EXPLAIN " + statement.removeprefix("CYPHER 25\n"), params).summary.plan
    found, todo = [], [plan]
    while todo:
        step = todo.pop()
        found.append((step["operatorType"], step.get("args", {}).get("Details", "")))
        todo += step.get("children", [])
    return found


def forget_links(driver: Driver) -> None:
    """No image with a SIMILAR_TO list: as an index run stopped before its lists, or `--no-link`, leaves them."""
    driver.execute_query("MATCH (i:Image) OPTIONAL MATCH (i)-[r:SIMILAR_TO]->() DELETE r REMOVE i.linked_efficientnet_lite0")


@contextmanager
def first_batch_held(store: ImageStore, folder: Path) -> Iterator[None]:
    """An index run of `folder` (its files only, not below) held before it stores anything, until the block
    ends: a transaction creates, uncommitted, the node of each of its files, so the run's MERGE of the same
    path waits for that path's lock; rolled back after, the run goes on as if nothing had happened. Meanwhile
    its progress stays at 0, however fast or slow the machine (no batch stored, no SIMILAR_TO list written)."""
    paths = [str(path) for path in folder.iterdir() if path.is_file()]
    with store.driver.session(database=store.database) as session:
        held = session.begin_transaction()
        try:
            held.run(f"UNWIND $paths AS path CREATE (:`{store.label}` {{path: path}})", paths=paths).consume()
            yield
        finally:
            held.rollback()
