"""Find images like this one, in your Neo4j: the app's entry. It reads the settings once, connects,
loads the model and draws the tabs; each tab and part is a module of `app/`, and everything that is
not UI is in the `retrieval` library."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from app.admin import admin_tab
from app.duplicates import duplicates_tab
from app.resources import access_policy, get_driver, get_model, get_store
from app.search import search_tab
from app.sidebar import sidebar
from app.widgets import shown_errors
from retrieval.core.errors import ModelUnavailable, RetrievalError
from retrieval.core.settings import MODEL_ENV, RESNET50_WEIGHTS_ENV, Settings, load_settings
from retrieval.neo4j.connection import Neo4jSettings, neo4j_settings
from retrieval.serving.jobs import unreachable
from retrieval.vision.embed import Embedder
from retrieval.vision.models import ModelChoice

st.set_page_config(page_title="Image search on Neo4j", layout="wide")


def main() -> None:
    st.title("Image search on Neo4j")
    st.markdown("Drop a photo and find the most similar images in your Neo4j catalogue, ranked by cosine similarity.")
    try:  # the app's settings, read once per run where it starts: the environment, then .streamlit/secrets.toml here
        given = load_settings(os.environ, Path.cwd())
        settings = neo4j_settings(given)
    except RetrievalError as e:
        st.error(str(e))
        st.stop()
    with shown_errors(settings):
        app(given, settings)


def app(given: Settings, settings: Neo4jSettings) -> None:
    policy = access_policy(given)
    st.sidebar.header("Connection")
    try:
        driver = get_driver(settings.uri, settings.username, settings)
    except RetrievalError as e:
        st.sidebar.error(str(e))
        st.error(str(e))
        st.stop()
    store = get_store(settings.uri, settings.username, driver, settings.database)
    down = unreachable(store, settings)  # a server gone since the driver was made: said at once, the controls kept
    st.session_state.neo4j_down = down is not None
    if down is None:
        st.sidebar.success(f"Connected to {settings.uri}")
    else:
        st.sidebar.error(down)
    choice: ModelChoice | None = None
    embedder: Embedder | None = None
    try:
        choice, embedder = get_model(given)
    except ModelUnavailable as e:
        st.error(
            f"{e} Set `{MODEL_ENV}` to a usable model (`python -m retrieval models` lists them), or "
            f"`{RESNET50_WEIGHTS_ENV}` to a ResNet50 weights file, and restart the app. Searching needs the model; "
            "the Admin tab works without it."
        )
    with st.sidebar:
        sidebar(choice, embedder, store, policy, settings)

    search, duplicates, admin = st.tabs(["Search", "Duplicates", "Admin"])
    if embedder is not None:
        with search:
            search_tab(store, embedder, settings)
        with duplicates:
            duplicates_tab(store, embedder.spec, settings, policy)
    with admin:
        admin_tab(store, embedder, policy, settings, down)


main()
