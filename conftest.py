"""Pytest's entry: the command-line options, the quick tier's marker, how many processes run the tests,
and the shared fixtures, which live in tests/support/ (the browser's are loaded only by the browser tests)."""

from __future__ import annotations

import os

import pytest

from retrieval.neo4j.java import VERSIONS, default_version

pytest_plugins = ["tests.support.server", "tests.support.photos", "tests.support.cli", "tests.support.app"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--neo4j",
        default=os.environ.get("RETRIEVAL_TEST_NEO4J") or default_version(),
        help=f"Neo4j version of the tests' server: {' or '.join(VERSIONS)} (env RETRIEVAL_TEST_NEO4J)",
    )
    parser.addoption(
        "--cypher-default",
        default=os.environ.get("RETRIEVAL_TEST_CYPHER", ""),
        choices=["", "5", "25"],
        help="the databases' default Cypher language, 5 or 25, on a server that has both (env RETRIEVAL_TEST_CYPHER)",
    )


WORKER_MEMORY = 5 << 30  # bytes a test process may need at most: its Neo4j servers, Streamlit apps and Chromium


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto` (what ./test.sh gives): a test process per CPU this one may run on, as many as the memory
    available holds (each starts a Neo4j of its own); where that is one, none: pytest runs the tests itself."""
    cpus = len(os.sched_getaffinity(0))
    with open("/proc/meminfo") as meminfo:
        available = next(int(line.split()[1]) << 10 for line in meminfo if line.startswith("MemAvailable:"))
    workers = min(cpus, available // WORKER_MEMORY)
    return workers if workers > 1 else 0


# A test that uses one of these starts a Neo4j server or a browser (directly or through another fixture).
SERVER_OR_BROWSER = {"neo4j_server", "outage_server", "browser"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `quick` every test that needs no Neo4j server, no browser and is not marked `slow`: the
    edit-and-test loop's tier (`./test.sh --quick`, i.e. `pytest -m quick`)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if not fixtures & SERVER_OR_BROWSER and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.quick)
