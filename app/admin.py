"""The Admin tab: indexing a folder, the database's figures, search quality, clean-up."""

from __future__ import annotations

import streamlit as st

from app.indexing import job_status, start_indexing
from app.login import login, may_change
from app.resources import DEMO_FOLDER
from retrieval import HEADLINE_FIGURES, MODELS, Embedder, ImageStore, Neo4jSettings, Store, remove_missing
from retrieval.serving import AccessPolicy


def admin_tab(
    store: ImageStore, embedder: Embedder | None, policy: AccessPolicy, connection: Neo4jSettings, down: str | None
) -> None:
    """Indexing, the database's figures and clean-up; `down`: why Neo4j cannot be reached, if it cannot."""
    if not may_change(policy):
        login(policy)
        return
    st.subheader("Index a folder")
    folder = st.text_input("Folder", value=str(DEMO_FOLDER), key="admin_folder")
    if st.button("Index folder", key="admin_index", type="primary", disabled=embedder is None or down is not None):
        assert embedder is not None  # the button is disabled without it
        start_indexing(store, embedder, policy, folder, connection)
    job_status(detailed=True)
    if down is not None:
        st.error(down)
        return
    database(store)
    search_quality(store)
    st.subheader("Clean up")
    sure = st.checkbox("I understand this deletes the nodes of images whose files are gone", key="prune_sure")
    if st.button("Remove missing images", key="prune", disabled=not sure):
        gone = remove_missing(store)
        st.success(f"Removed {len(gone)} images whose files are gone.")


def database(store: Store) -> None:
    st.subheader("Database")
    stats = store.stats(m.space for m in MODELS.values())
    st.metric("Images", stats.images)
    rows = [
        {
            "model": s.model,
            "vector index": s.index_name,
            "state": s.state,
            "populated %": s.population_percent,
            "vectors": s.vectors,
            "by precision": s.by_precision,
        }
        for s in stats.indexes
    ]
    st.dataframe(rows, hide_index=True)


def search_quality(store: Store) -> None:
    st.subheader("Search quality")
    if not (latest := store.latest_evaluation()):
        st.caption("No evaluation yet: `python -m retrieval evaluate FOLDER` measures search quality on a labelled photo set.")
        return
    st.caption(
        f"Latest `python -m retrieval evaluate`: {latest['model']} on {latest['dataset']} "
        f"({latest['images']} photos, {latest['queries']} queries, leave-one-out), {str(latest['at'])[:16].replace('T', ' ')} UTC"
    )
    for column, (label, key) in zip(st.columns(len(HEADLINE_FIGURES)), HEADLINE_FIGURES.items(), strict=True):
        column.metric(label, f"{float(latest[key]):.3f}")
