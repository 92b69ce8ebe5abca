"""Find images like this one, in your Neo4j: the app's entry. It reads the settings once, connects,
loads the model and draws the tabs; each tab and part is a module of `app/`, and everything that is
not UI is in the `retrieval` library."""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path

import streamlit as st

from app.admin import admin_tab
from app.duplicates import duplicates_tab
from app.login import insider, keep_for_this_run
from app.resources import access_policy, get_driver, get_model, get_store
from app.search import search_tab
from app.sidebar import sidebar
from app.widgets import shown_errors
from retrieval import (
    MODEL_ENV,
    RESNET50_WEIGHTS_ENV,
    Embedder,
    ModelChoice,
    ModelUnavailable,
    Neo4jSettings,
    RetrievalError,
    Settings,
    load_settings,
    neo4j_settings,
)
from retrieval.serving import AccessPolicy, from_this_machine, unreachable

LOG = logging.getLogger("streamlit_app")
st.set_page_config(page_title="Image search on Neo4j", layout="wide")


def main() -> None:
    st.title("Image search on Neo4j")
    st.markdown("Drop a photo and find the most similar images in your Neo4j catalogue, ranked by cosine similarity.")
    try:  # the app's settings, read once per run where it starts: the environment, then .streamlit/secrets.toml here
        given = load_settings(os.environ, Path.cwd())
        settings = neo4j_settings(given)
        policy = access_policy(given)
    except RetrievalError as e:
        # Before the access policy is known, only a visitor on this machine reads why (a path, a setting's
        # value); the app's log has it for whoever runs the server.
        LOG.error("The app's settings could not be read: %s", e)
        here = from_this_machine(st.context.ip_address, st.context.headers)
        st.error(str(e) if here else "The app is not set up right: whoever runs it finds the reason in its log.")
        st.stop()
    keep_for_this_run(policy)  # before any part reads a file to show it or tells of the server
    # What messages say of the server: an anonymous visitor of a served app learns that Neo4j answers, not where it is.
    told = settings if insider() else replace(settings, uri="the catalogue's database", username="", password="", local=None)
    with shown_errors(told):
        app(given, policy, settings, told)


def app(given: Settings, policy: AccessPolicy, settings: Neo4jSettings, told: Neo4jSettings) -> None:
    """The page; `settings` reach Neo4j, `told` is what the page may say of them."""
    st.sidebar.header("Connection")
    try:
        driver = get_driver(settings.uri, settings.username, settings)
    except RetrievalError as e:
        problem = str(e) if insider() else "Neo4j cannot be reached at the moment: try again later."
        st.sidebar.error(problem)
        st.error(problem)
        st.stop()
    # One store for each way the page may name the server: an anonymous visitor's errors say "the catalogue's database".
    store = get_store(told.uri, settings.username, driver, settings.database, told)
    settings = told
    down = unreachable(store, settings)  # a server gone since the driver was made: said at once, the controls kept
    st.session_state.neo4j_down = down is not None
    if down is None:
        st.sidebar.success(f"Connected to {settings.uri}" if insider() else "Connected to Neo4j")
    else:
        st.sidebar.error(down)
    choice: ModelChoice | None = None
    embedder: Embedder | None = None
    try:
        choice, embedder = get_model(given)
    except ModelUnavailable as e:
        if not insider():
            st.error("Searching is unavailable for now: the image model could not be loaded.")
        else:
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
