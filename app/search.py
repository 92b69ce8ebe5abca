"""The Search tab: the upload box and the search's settings, then the catalogue, or the query and its results."""

from __future__ import annotations

import streamlit as st

from app.catalogue import catalogue_grid
from app.filters import catalogue_filter, photo_filter
from app.query import follow_address, new_query, set_query, take_upload, uploader_key
from app.results import run_query, show_found
from app.widgets import fresh, neo4j_down, shown_errors
from retrieval import IMAGE_EXTENSIONS, TIERS, Embedder, ImageStore, ModelSpec, Neo4jSettings, Store, model_mismatch

UPLOAD_TYPES = sorted(ext.lstrip(".") for ext in IMAGE_EXTENSIONS)
SCORE_HELP = (
    "Keep only results scoring at least this. The score under a result is the plain cosine of its photo's vector to "
    "the query's (1.000: the very picture), whichever search ranked it, so it reads the same as the Duplicates tab's "
    "tiers: "
    + ", ".join(f"{t.threshold:.2f} and above {t.word}" for t in TIERS)
    + ". The default search orders results by their neighbourhood, which finds more of the same kind, so a result "
    "may score a little lower than one below it."
)


@st.fragment
def search_tab(store: ImageStore, embedder: Embedder, connection: Neo4jSettings) -> None:
    """A fragment: an upload or a click here reruns only this tab, not the sidebar and admin."""
    down = neo4j_down(store, connection)
    with shown_errors(connection):
        search_body(store, embedder, down)


def not_searchable(store: Store, spec: ModelSpec) -> str | None:
    """Why a search with `spec` can find nothing yet (no images, or no vector index), and what to do
    here, in the app's words; None when it can."""
    (own,) = store.stats([spec.space]).indexes
    if own.vectors == 0:
        return (
            "No images are indexed yet. Index a folder with **Index folder** in the sidebar (or the **Admin** tab), "
            "or run `python -m retrieval index FOLDER`."
        )
    if own.state == "MISSING":
        return f"The vector index {own.index_name} does not exist yet: index a folder again (Admin tab) to make it."
    return None


def search_body(store: ImageStore, embedder: Embedder, down: bool) -> None:
    """The controls, then the query and its results; with Neo4j down only the controls, so that any
    of them tries again."""
    spec = embedder.spec
    if picked := st.session_state.pop("graph_pick", None):
        set_query(picked)
    if not down:
        with st.empty().container():  # the address's messages in one place, so the controls below keep theirs
            follow_address(store, spec)
        if problem := not_searchable(store, spec):
            st.info(problem)
            return
    left, middle, right = st.columns([3, 2, 2])
    left.file_uploader("Drop a photo to search with", type=UPLOAD_TYPES, key=uploader_key(), on_change=take_upload)
    k = right.slider("Results", 1, 50, 12, key="k")
    min_score = right.slider("Minimum similarity", 0.0, 1.0, 0.0, 0.05, key="min_score", help=SCORE_HELP)
    plain = right.toggle(
        "Plain cosine",
        key="plain",
        help="Rank by the plain cosine of the two photos' vectors (an identical photo scores 1.000). "
        "Off: the query is blended with its nearest neighbours, and its best candidates are ranked each blended with "
        "its own neighbours among them, which finds more of the same kind (docs/QUALITY.md). Either way the score "
        "shown is the plain cosine (see Minimum similarity).",
    )
    if down:
        return
    with fresh("choices"):
        facts = photo_filter(store, store.count_vectors(spec.space))
        within = catalogue_filter(store)
    with middle:
        found = run_query(store, embedder, k=k, plain=plain, within=within, facts=facts)
        if found.query:
            st.button("← Back to the catalogue", key="to_catalogue", on_click=new_query, args=([],))
    with fresh("results"):  # drawn once the search is done, so the previous results stay until then
        if warning := model_mismatch(store, spec, embedder.fingerprint, embedder.former_fingerprints):
            st.warning(warning)
        if not found.query:
            catalogue_grid(store, spec, within, facts)
            return
        show_found(store, spec, found, min_score)
