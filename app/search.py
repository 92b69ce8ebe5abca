"""The Search tab: the upload box and the search's settings, then the query and its results."""

from __future__ import annotations

import streamlit as st

from app.filters import catalogue_filter
from app.query import set_query, shared_query, take_upload, uploader_key
from app.results import run_query, show_found
from app.widgets import COLUMNS, card, fresh, neo4j_down, shown_errors
from retrieval.markdown import literal
from retrieval.neo4j.connection import Neo4jSettings
from retrieval.neo4j.store import ImageStore
from retrieval.search import model_mismatch, not_searchable
from retrieval.vision.decode import IMAGE_EXTENSIONS
from retrieval.vision.embed import Embedder
from retrieval.vision.models import ModelSpec

UPLOAD_TYPES = sorted(ext.lstrip(".") for ext in IMAGE_EXTENSIONS)
GALLERY_PAGE = 12


@st.fragment
def search_tab(store: ImageStore, embedder: Embedder, connection: Neo4jSettings) -> None:
    """A fragment: an upload or a click here reruns only this tab, not the sidebar and admin."""
    down = neo4j_down(store, connection)
    with shown_errors(connection):
        search_body(store, embedder, down)


def search_body(store: ImageStore, embedder: Embedder, down: bool) -> None:
    """The controls, then the query and its results; with Neo4j down only the controls, so that any
    of them tries again."""
    spec = embedder.spec
    if picked := st.session_state.pop("graph_pick", None):
        set_query(picked)
    if not down:
        shared_query(store, spec)
        if problem := not_searchable(store, spec):
            st.info(problem)
            return
    left, middle, right = st.columns([3, 2, 2])
    left.file_uploader("Drop a photo to search with", type=UPLOAD_TYPES, key=uploader_key(), on_change=take_upload)
    k = right.slider("Results", 1, 50, 12, key="k")
    min_score = right.slider("Minimum similarity", 0.0, 1.0, 0.0, 0.05, key="min_score")
    plain = right.toggle(
        "Plain cosine",
        key="plain",
        help="Rank by the plain cosine of the two photos' vectors (an identical photo scores 1.000). "
        "Off: the query is blended with its nearest neighbours, and its best candidates are ranked each blended with "
        "its own neighbours among them, which finds more of the same kind (docs/QUALITY.md).",
    )
    if down:
        return
    with fresh("choices"):
        # A toggle, not an expander: an expander's content is built on every rerun.
        if st.toggle("…or pick an indexed image", key="show_gallery"):
            gallery(store, spec)
        within = catalogue_filter(store)
    with middle:
        found = run_query(store, embedder, k=k, plain=plain, within=within)
    with fresh("results"):  # drawn once the search is done, so the previous results stay until then
        if warning := model_mismatch(store, spec, embedder.fingerprint):
            st.warning(warning)
        show_found(store, spec, found, min_score)


def gallery(store: ImageStore, spec: ModelSpec) -> None:
    total = store.count_vectors(spec.space)
    pages = max(1, -(-total // GALLERY_PAGE))
    page = st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, key="gallery_page")
    columns = st.columns(COLUMNS)
    for i, (path, name) in enumerate(store.page(spec.space, (page - 1) * GALLERY_PAGE, GALLERY_PAGE)):
        with columns[i % COLUMNS], st.container(key=f"pick-{i}"):
            card(path, literal(name))
            st.button("Search", key=f"pick:{path}", on_click=set_query, args=(path,))
