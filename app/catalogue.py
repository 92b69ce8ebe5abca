"""The catalogue before any search: the indexed images newest first, a page at a time; one click on
"Search" under a thumbnail searches with it (and the address bar carries it, so Back returns here)."""

from __future__ import annotations

import streamlit as st

from app.markdown import literal
from app.query import set_query
from app.widgets import COLUMNS, card
from retrieval import CatalogueFilter, Listed, ModelSpec, PhotoFilter, Store

GRID_PAGE = 4 * COLUMNS


def catalogue_grid(store: Store, spec: ModelSpec, within: CatalogueFilter | None, facts: PhotoFilter | None = None) -> None:
    """A page of thumbnails; "Older" and "Newer" move by a page, each starting after the last image
    of the page before it (kept in the session), so no page reads the images before it."""
    total = store.count_listed(spec.space, within, facts)
    shown_of = " and ".join(str(f) for f in (within, facts) if f)
    st.markdown(f"**{total:,} images in the catalogue**" + (f" of {literal(shown_of)}" if shown_of else ""))
    starts = pages_of(shown_of)
    page = store.newest(spec.space, GRID_PAGE, starts[-1] if starts else None, within, facts)
    columns = st.columns(COLUMNS)
    for i, image in enumerate(page.images):
        with columns[i % COLUMNS], st.container(key=f"pick-{i}"):
            card(image.path, literal(image.name))
            st.button("Search", key=f"search:{image.path}", on_click=set_query, args=(image.path,))
    newer, where, older = st.columns([1, 2, 1])
    newer.button("← Newer", key="grid_newer", disabled=not starts, on_click=turn_page, args=(starts[:-1],))
    where.caption(f"Page {len(starts) + 1} of {max(1, -(-total // GRID_PAGE))}, newest first")
    if page.more and page.last is not None:
        older.button("Older →", key="grid_older", on_click=turn_page, args=([*starts, page.last],))


def pages_of(view: str) -> list[Listed]:
    """Where each page before the shown one ends, for this view of the catalogue (a new filter starts at the first page)."""
    if st.session_state.get("grid_view") != view:
        st.session_state.grid_view, st.session_state.grid_starts = view, []
    starts: list[Listed] = st.session_state.grid_starts
    return starts


def turn_page(starts: list[Listed]) -> None:
    st.session_state.grid_starts = starts
