"""The sidebar: the model in use, and indexing a folder for whoever may change the index."""

from __future__ import annotations

import streamlit as st

from app.indexing import job_status, start_indexing
from app.login import insider, may_change
from app.resources import DEMO_FOLDER
from retrieval import Embedder, ImageStore, ModelChoice, Neo4jSettings
from retrieval.serving import AccessPolicy


def sidebar(
    choice: ModelChoice | None, embedder: Embedder | None, store: ImageStore, policy: AccessPolicy, connection: Neo4jSettings
) -> None:
    if choice is not None and embedder is not None:
        st.markdown(f"Model: **{choice.spec.name}** ({choice.spec.dimensions}-d) on **{embedder.runtime.name}**")
        if insider():  # its reasons name cache paths and network errors of the server
            with st.expander("Why this model"):
                st.caption(f"{choice.reason}. Runtime {embedder.runtime.name}: {embedder.runtime.reason}.")
    st.header("Index")
    if not may_change(policy):  # a visitor sees neither the server's folders nor the last run
        st.caption("Indexing needs the admin password: see the **Admin** tab.")
        return
    folder = st.text_input("Folder", value=str(DEMO_FOLDER), key="sidebar_folder")
    if st.button("Index folder", key="sidebar_index", disabled=embedder is None):
        assert embedder is not None  # the button is disabled without it
        start_indexing(store, embedder, policy, folder, connection)
    job_status(detailed=False)
