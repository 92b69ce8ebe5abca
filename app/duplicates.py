"""The Duplicates tab: groups in a tier (same picture, near-duplicates, similar), largest first, a page
at a time; each group's thumbnails with what the files differ in, and its paths to download; and, for
whoever may change the index, resolving them (app/resolving.py). Nothing is deleted."""

from __future__ import annotations

from functools import partial

import streamlit as st

from app.resolving import group_actions, page_actions
from app.widgets import duplicate_group, neo4j_down, shown_errors
from retrieval import DEFAULT_TIER, PER_PAGE, TIERS, ImageStore, ModelSpec, Neo4jSettings, duplicate_page, tier_named
from retrieval.serving import AccessPolicy

TITLES = {t.name: f"{t.title} (cosine ≥ {t.threshold})" for t in TIERS}


@st.fragment
def duplicates_tab(store: ImageStore, spec: ModelSpec, connection: Neo4jSettings, policy: AccessPolicy) -> None:
    if neo4j_down(store, connection):
        return
    with shown_errors(connection):
        if unlisted := store.count_unlisted(spec.space):
            st.info(f"{unlisted} images have no similarity list yet: run `python -m retrieval link`.")
        duplicates_body(store, spec, policy)


def duplicates_body(store: ImageStore, spec: ModelSpec, policy: AccessPolicy) -> None:
    name = st.radio(
        "Tier",
        list(TITLES),
        index=list(TITLES).index(DEFAULT_TIER.name),
        format_func=TITLES.__getitem__,
        horizontal=True,
        key="dup_tier",
        help=" · ".join(f"{t.title}: {t.means}" for t in TIERS),
    )
    tier = tier_named(name)
    page = st.number_input("Page of groups", min_value=1, value=1, key=f"dup_page:{tier.name}")
    found = duplicate_page(store, spec, tier, int(page), PER_PAGE)
    if not found.total_groups:
        st.info(f"No groups of {tier.title.lower()} in the catalogue.")
    elif not found.groups:
        st.info(f"Page {page} is past the last one, {found.pages}, of {found.total_groups} groups.")
    else:
        st.markdown(
            f"**{found.total_groups} groups** of {found.total_images} images, largest first; page {page} of {found.pages}"
        )
    page_actions(store, policy, found.groups)
    for group in found.groups:
        duplicate_group(group, partial(group_actions, store, policy))
