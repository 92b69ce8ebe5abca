"""The app under Streamlit's AppTest, in this process: its environment and its cached resources."""

from __future__ import annotations

import re
import string
from collections.abc import Iterator

import pytest
from streamlit.runtime.context import ContextProxy

from app.markdown import ZERO_WIDTH_SPACE
from tests.support.server import server_env

ESCAPED = re.compile(f"\\\\([{re.escape(string.punctuation)}])")


@pytest.fixture
def app_env(neo4j_server, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The environment of an AppTest: the test server, never a user's; and no cached data of another
    test's (AppTest runs the app in this process, where Streamlit's caches outlive a test)."""
    import streamlit as st

    for key, value in server_env(neo4j_server).items():
        monkeypatch.setenv(key, value)
    for key in ("NEO4J_URI", "NEO4J_USERNAME", "NEO4J_PASSWORD", "RETRIEVAL_RESNET50_WEIGHTS"):
        monkeypatch.delenv(key, raising=False)
    # AppTest has no client connection (its st.context.ip_address is a mock, which the app takes for
    # another machine's): a visitor on this machine, as a browser on localhost is.
    monkeypatch.setattr(ContextProxy, "ip_address", property(lambda self: None))
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def shown(markdown: str) -> str:
    """What a reader sees of the app's Markdown where names went through `literal`: no escapes."""
    return ESCAPED.sub(r"\1", markdown).replace(ZERO_WIDTH_SPACE, "")


@pytest.fixture
def fresh_caches() -> Iterator[None]:
    """The app's cached resources (driver, model, indexing job, access policy) made anew before and
    after a test that changes what they are made from; AppTest runs the app in this process."""
    import streamlit as st

    st.cache_resource.clear()
    yield
    st.cache_resource.clear()
