"""The Duplicates tab: groups of near-duplicates from the SIMILAR_TO links, each as a row of thumbnails."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.widgets import COLUMNS, card, neo4j_down, shown_errors
from retrieval.duplicates import DEFAULT_THRESHOLD, duplicate_groups
from retrieval.markdown import literal
from retrieval.neo4j.connection import Neo4jSettings
from retrieval.neo4j.store import ImageStore
from retrieval.vision.models import ModelSpec

DUPLICATE_GROUPS = 20


@st.fragment
def duplicates_tab(store: ImageStore, spec: ModelSpec, connection: Neo4jSettings) -> None:
    if neo4j_down(store, connection):
        return
    with shown_errors(connection):
        duplicates_body(store, spec)


def unlinked_note(store: ImageStore, spec: ModelSpec) -> None:
    """Images indexed without a similarity list are missing from duplicate groups; say how to list them."""
    if unlisted := store.count_unlisted(spec.space):
        st.info(f"{unlisted} images have no similarity list yet: run `python -m retrieval link`.")


def duplicates_body(store: ImageStore, spec: ModelSpec) -> None:
    unlinked_note(store, spec)
    threshold = st.slider(
        "Near-duplicate threshold (cosine)",
        0.5,
        1.0,
        DEFAULT_THRESHOLD,
        0.01,
        key="dup_threshold",
        help="Copies that were re-encoded, resized, cropped or mirrored score above the default; different photos below.",
    )
    groups = duplicate_groups(store, spec, threshold)
    if not groups:
        st.info("No near-duplicates at this threshold.")
        return
    st.markdown(
        f"**{len(groups)} groups**, largest first"
        + (f"; the first {DUPLICATE_GROUPS} shown" if len(groups) > DUPLICATE_GROUPS else "")
    )
    for number, group in enumerate(groups[:DUPLICATE_GROUPS], 1):
        with st.container(border=True, key=f"dup-{number}"):
            st.markdown(f"Group {number}: {len(group.paths)} images, cosine {group.lowest_score:.3f} to {group.best_score:.3f}")
            for column, path in zip(st.columns(COLUMNS), group.paths[:COLUMNS], strict=False):
                with column:
                    card(path, f"{literal(Path(path).name)}  \nbest match **{group.best_match(path):.3f}**")
            if len(group.paths) > COLUMNS:
                st.caption(
                    f"and {len(group.paths) - COLUMNS} more: " + ", ".join(literal(Path(p).name) for p in group.paths[COLUMNS:])
                )
