"""Real parts for tests/ and bench/: a Neo4j server of the tests' own (own home, own port, fresh
data each session), the demo photos, the labelled bench photos, the pretrained EfficientNet-Lite0,
and the app served on a free port for Debian's Chromium."""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import torch
from neo4j import Driver, GraphDatabase
from PIL import Image, ImageOps
from playwright.sync_api import Page, Route, sync_playwright

from retrieval.decode import load_image
from retrieval.embed import Embedder
from retrieval.models import MODELS, ModelSpec
from retrieval.server import DEFAULT_VERSION, VERSIONS, LocalNeo4j, line_of
from retrieval.store import ImageRecord, ImageStore

PROJECT = Path(__file__).resolve().parent
DEMO_IMAGES = PROJECT / "images"
APP = str(PROJECT / "streamlit_app.py")
BENCH = PROJECT.parent / "shared" / "bench" / "caltech101"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--neo4j",
        default=os.environ.get("RETRIEVAL_TEST_NEO4J") or DEFAULT_VERSION,
        help=f"Neo4j version of the tests' server: {' or '.join(VERSIONS)} (env RETRIEVAL_TEST_NEO4J)",
    )
    parser.addoption(
        "--cypher-default",
        default=os.environ.get("RETRIEVAL_TEST_CYPHER", ""),
        choices=["", "5", "25"],
        help="the databases' default Cypher language, 5 or 25, on a server that has both (env RETRIEVAL_TEST_CYPHER)",
    )


def fresh_server(name: str, heap: str, pagecache: str, version: str = "", settings: tuple[str, ...] = ()) -> LocalNeo4j:
    """A server of its own home under .neo4j/ on a free port, with no data (not started), of `version`
    or the default one: a server left over from an interrupted session is stopped and its data removed."""
    home, version = PROJECT / ".neo4j" / name, version or DEFAULT_VERSION
    server = LocalNeo4j(home=home, port=free_port(), version=version, heap=heap, pagecache=pagecache, settings=settings)
    server.stop()
    shutil.rmtree(server.data_dir, ignore_errors=True)
    return server


@pytest.fixture(scope="session")
def neo4j_server(request: pytest.FixtureRequest) -> Iterator[LocalNeo4j]:
    """The tests' server, of the version `--neo4j` names, with `--cypher-default` as its databases' default
    language where it has two (5.26 has one)."""
    version, language = request.config.getoption("--neo4j"), request.config.getoption("--cypher-default")
    settings = (f"db.query.default_language=CYPHER_{language}",) if language and line_of(version) != "5.26" else ()
    server = fresh_server("test", heap="1g", pagecache="512m", version=version, settings=settings)
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
        "RETRIEVAL_SECRETS_FILE": str(PROJECT / ".neo4j" / "no-secrets.toml"),  # a developer's own secrets never apply
    }


def bench_vectors(embedder: Embedder) -> np.ndarray:
    """The 1,965 bench photos' vectors from `embedder`, in labels.csv order, kept in .cache/ between runs."""
    cache = PROJECT / ".cache" / "bench-vectors" / f"{embedder.spec.slug}.npy"
    if not cache.exists():
        paths = [BENCH / row["path"] for row in csv.DictReader((BENCH / "labels.csv").open())]
        vectors = [embedder.embed([load_image(p) for p in paths[i : i + 32]]) for i in range(0, len(paths), 32)]
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, np.concatenate(vectors))
    return np.load(cache)


def seed_loop(embedder: Embedder, paths: Sequence[Path]) -> np.ndarray:
    """The seed recipe as written: open, convert, preprocess, model, one image at a time, torch eager
    fp32 under no_grad (the baseline of the speed benchmarks)."""
    vectors = []
    for path in paths:
        image = Image.open(path).convert("RGB")
        with torch.no_grad():
            vectors.append(embedder.network(embedder.preprocess(image).unsqueeze(0)).flatten().numpy())
    return np.stack(vectors)


def write_vectors(store: ImageStore, spec: ModelSpec, vectors: np.ndarray, batch: int, folder: str, *, first: int = 0) -> float:
    """Seconds to store `vectors[first:]` with `ImageStore.upsert`, one transaction per `batch`, as images
    `/<folder>/<row>.jpg` (named `<row>.jpg`, so a search hit's name gives back its row)."""
    started = time.perf_counter()
    for start in range(first, len(vectors), batch):
        rows = range(start, min(start + batch, len(vectors)))
        store.upsert(spec, [ImageRecord(f"/{folder}/{i}.jpg", f"{i}.jpg", 0, 0, "", 0, 0, vectors[i]) for i in rows])
    return time.perf_counter() - started


def brute_force_seconds(vectors: np.ndarray, query: np.ndarray, k: int) -> float:
    """Seconds for exact top-k search in numpy over rows already in memory: a matrix-vector product
    and a partial sort (the baseline the search benchmarks compare the index with)."""
    started = time.perf_counter()
    scores = vectors @ query
    top = np.argpartition(-scores, k)[:k]
    top[np.argsort(-scores[top])]
    return time.perf_counter() - started


def noisy_copies(real: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """`size` unit vectors: `real`'s rows, then copies of them with Gaussian noise of norm ~0.5 (cosine ~0.9
    to their source), to stand in for a larger collection of similar photos."""
    copies = real[np.arange(len(real), size) % len(real)]
    noisy = copies + rng.normal(0, 0.5 / np.sqrt(real.shape[1]), copies.shape).astype(np.float32)
    vectors = np.concatenate([real[:size], noisy])
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def cli_env(neo4j_server: LocalNeo4j) -> dict[str, str]:
    return server_env(neo4j_server)


@pytest.fixture
def app_env(neo4j_server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment of an AppTest: the test server, never a user's."""
    for key, value in server_env(neo4j_server).items():
        monkeypatch.setenv(key, value)
    for key in ("NEO4J_URI", "NEO4J_USERNAME", "NEO4J_PASSWORD", "RETRIEVAL_RESNET50_WEIGHTS"):
        monkeypatch.delenv(key, raising=False)


def run_cli(*args: str, env: dict[str, str], wrapper: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    """`python -m retrieval ARGS`, optionally behind a wrapper command such as `setpriv ...`."""
    return subprocess.run(
        [*wrapper, sys.executable, "-m", "retrieval", *args], env=env, cwd=PROJECT, capture_output=True, text=True, check=False
    )


def start_cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """`python -m retrieval ARGS` started in the background, its output captured: for runs a test
    stops, kills or races with others."""
    command = [sys.executable, "-m", "retrieval", *args]
    return subprocess.Popen(command, env=env, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def make_near_duplicates(folder: Path, classes: Sequence[str], per_class: int, copied_every: int) -> list[set[str]]:
    """Copy `per_class` bench photos of each class into `folder`, and beside every `copied_every`-th
    one four altered copies: re-encoded at JPEG quality 30, resized to 75 %, cropped to its centre
    90 %, mirrored. Returns the groups a near-duplicate finder should make: each original with its copies."""
    folder.mkdir(parents=True, exist_ok=True)
    groups = []
    originals = [p for label in classes for p in sorted((BENCH / "images" / label).glob("*.jpg"))[:per_class]]
    for i, source in enumerate(originals):
        original = folder / f"{source.parent.name}_{source.stem}.jpg"
        shutil.copy(source, original)
        if i % copied_every:
            continue
        with Image.open(source) as opened:
            photo = opened.convert("RGB")
        w, h = photo.size
        copies = {
            "reencoded": (photo, 30),
            "resized": (photo.resize((w * 3 // 4, h * 3 // 4), Image.Resampling.LANCZOS), 90),
            "crop": (photo.crop((w // 20, h // 20, w - w // 20, h - h // 20)), 90),
            "mirror": (ImageOps.mirror(photo), 90),
        }
        for name, (image, quality) in copies.items():
            image.save(folder / f"{original.stem}_{name}.jpg", quality=quality)
        groups.append({str(original), *(str(folder / f"{original.stem}_{name}.jpg") for name in copies)})
    return groups


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def app_url(neo4j_server, tmp_path_factory) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("app") / "streamlit.log"
    log = log_path.open("w")
    app = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port)],
        cwd=PROJECT,
        env=server_env(neo4j_server),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).close()
            break
        except OSError:
            if app.poll() is not None:
                pytest.fail(f"the app exited: {log_path.read_text()}")
            time.sleep(0.3)
    yield url
    app.terminate()
    app.wait(timeout=20)
    log.close()


@pytest.fixture(scope="module")
def outside_requests() -> list[str]:
    """Every request the browser tried beyond localhost (each one refused): the app must work with no internet."""
    return []


@pytest.fixture(scope="module")
def browser_page(app_url, outside_requests) -> Iterator[Page]:
    def localhost_only(route: Route) -> None:
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside_requests.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.route("**/*", localhost_only)
        page = context.new_page()
        page.set_default_timeout(60_000)
        yield page
        browser.close()
    assert not outside_requests, f"the page asked for resources beyond localhost: {outside_requests[:5]}"


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


def forget_links(driver: Driver) -> None:
    """No image linked: as an index run stopped before linking, or a version before links, leaves them."""
    driver.execute_query(
        "MATCH (i:Image) OPTIONAL MATCH (i)-[r:SIMILAR_TO]->() DELETE r "
        "REMOVE i.linked_efficientnet_lite0, i.linked_efficientnet_lite0_count, i.embedding_efficientnet_lite0_blended"
    )


@pytest.fixture
def fresh_caches() -> Iterator[None]:
    """The app's cached resources (driver, model, indexing job, access policy) made anew before and
    after a test that changes what they are made from; AppTest runs the app in this process."""
    import streamlit as st

    st.cache_resource.clear()
    yield
    st.cache_resource.clear()
