"""The app under Streamlit's AppTest, in this process: its environment and its cached resources."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.server import server_env


@pytest.fixture
def app_env(neo4j_server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment of an AppTest: the test server, never a user's."""
    for key, value in server_env(neo4j_server).items():
        monkeypatch.setenv(key, value)
    for key in ("NEO4J_URI", "NEO4J_USERNAME", "NEO4J_PASSWORD", "RETRIEVAL_RESNET50_WEIGHTS"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def fresh_caches() -> Iterator[None]:
    """The app's cached resources (driver, model, indexing job, access policy) made anew before and
    after a test that changes what they are made from; AppTest runs the app in this process."""
    import streamlit as st

    st.cache_resource.clear()
    yield
    st.cache_resource.clear()
