"""Pytest's entry: the command-line options, and the shared fixtures, which live in tests/support/
(the browser's are loaded only by the browser tests)."""

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
