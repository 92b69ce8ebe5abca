"""What the app makes once per process and shares between sessions: the Neo4j driver and store,
the model, the indexing job, the access policy and login throttle, the demo photos' credits."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from neo4j import Driver

from app.credits import load_credits
from retrieval import Embedder, ImageStore, ModelChoice, Neo4jSettings, Settings, choose_model, open_driver
from retrieval.serving import AccessPolicy, IndexJob, LoginThrottle, load_policy

PROJECT = Path(__file__).resolve().parents[1]
DEMO_FOLDER = PROJECT / "images"
THUMBNAIL_CACHE = PROJECT / ".cache" / "thumbnails"
CONNECTION_TIMEOUT = 5.0  # seconds to reach Neo4j before a page says it cannot


@st.cache_resource(show_spinner="Connecting to Neo4j ...")
def get_driver(uri: str, username: str, _settings: Neo4jSettings) -> Driver:
    """One driver per server and user (the driver is thread-safe); a failure is not cached, so the next rerun retries."""
    return open_driver(_settings, connection_timeout=CONNECTION_TIMEOUT)


@st.cache_resource(show_spinner="Loading the image model ...")
def get_model(_settings: Settings) -> tuple[ModelChoice, Embedder]:
    choice = choose_model(None, _settings)
    return choice, Embedder.load(choice.spec, _settings)


@st.cache_resource(show_spinner=False)
def get_store(uri: str, username: str, _driver: Driver, database: str | None, _server: Neo4jSettings) -> ImageStore:
    """One store per server (the catalogue cache keys on it). It writes nothing: the schema and the
    similarity links are made by indexing (here the Admin tab, or the CLI), never by a search."""
    return ImageStore(_driver, database, server=_server)


@st.cache_resource(show_spinner=False)
def get_job() -> IndexJob:
    """The process's one indexing job, shared by every session."""
    return IndexJob()


@st.cache_resource(show_spinner=False)
def server_policy(_settings: Settings) -> AccessPolicy:
    """Who may change the index, decided once per process from the server address and the settings."""
    return load_policy(st.get_option("server.address"), _settings)


def access_policy(given: Settings) -> AccessPolicy:
    """The server's policy for this visitor: login is on for a request from another machine or through a proxy."""
    return server_policy(given).for_request(st.context.ip_address, st.context.headers)


@st.cache_resource(show_spinner=False)
def login_throttle() -> LoginThrottle:
    """Wrong passwords counted for the whole process, by session and by client address."""
    return LoginThrottle()


@st.cache_data(show_spinner=False)
def demo_credits() -> dict[str, str]:
    return load_credits(DEMO_FOLDER)
