"""The Search tab's filters: only photos taken in a date range, below a folder, with a camera (the
same filter as the CLI's --taken, --under and --camera), and only images attached to part of the
user's own catalogue."""

from __future__ import annotations

import datetime
import os
from dataclasses import replace

import streamlit as st

from app.login import insider
from retrieval.catalogue import OWNER_VALUES_SHOWN, owner_keys, owner_labels, owner_values
from retrieval.core.filters import PhotoFilter
from retrieval.neo4j.catalogue import CatalogueFilter
from retrieval.neo4j.store import ImageStore


@st.cache_data(show_spinner=False, hash_funcs={ImageStore: id}, max_entries=100)
def catalogue_choices(store: ImageStore, attached: int, label: str | None = None, key: str | None = None) -> list[str]:
    """The filter's choices: owner labels, a label's properties, or a property's values. Each scans
    the HAS_IMAGE links, so it is kept rather than redone on every upload's rerun, keyed on how many
    links there are (`attached`, an instant count): attaching or detaching images shows at once (a
    property edited in place on an owner node shows once the links change or the app restarts)."""
    if label is None:
        return owner_labels(store)
    return owner_keys(store, label) if key is None else owner_values(store, label, key)


def catalogue_filter(store: ImageStore) -> CatalogueFilter | None:
    """Offered once images are attached to the user's own nodes (`python -m retrieval attach`)."""
    if not (attached := store.attachment_count()) or not (labels := catalogue_choices(store, attached)):
        return None
    if not st.toggle("Only images of part of my catalogue", key="filter_on"):
        return None
    left, middle, right = st.columns(3)
    label = left.selectbox("Node label", labels, key="filter_label")
    key = middle.selectbox("Property", catalogue_choices(store, attached, label), key="filter_key")
    if label is None or key is None:
        return None
    values = catalogue_choices(store, attached, label, key)
    if len(values) < OWNER_VALUES_SHOWN:
        value = right.selectbox("Value", values, key="filter_value")
    else:
        value = right.text_input("Value", key="filter_value_text")
    return CatalogueFilter(label, key, value) if value else None


@st.cache_data(show_spinner=False, hash_funcs={ImageStore: id}, max_entries=10)
def camera_choices(store: ImageStore, images: int) -> list[str]:
    """The catalogue's cameras, kept per number of indexed images (`images`), which indexing changes."""
    return store.cameras()


def photo_filter(store: ImageStore, images: int) -> PhotoFilter | None:
    """The photos' own facts to filter by, behind a toggle: a date range, a folder, a camera."""
    if not st.toggle("Only photos taken when, where or with what I say", key="facts_on"):
        return None
    left, middle, right = st.columns(3)
    days = left.date_input("Taken between", value=[], min_value=datetime.date(1900, 1, 1), key="facts_taken")
    under = middle.text_input("Below the folder", key="facts_under").strip()
    if under and not os.path.isabs(under) and not insider():  # made absolute, it would show the app's working folder
        st.warning("Give the folder from the root, as the catalogue stores it (e.g. /photos/2021).")
        under = ""
    camera = right.selectbox("Camera", camera_choices(store, images), index=None, key="facts_camera")
    start, end = (*days, None, None)[:2] if isinstance(days, tuple) else (days, days)
    chosen = replace(PhotoFilter.of(under=under or None, camera=camera) or PhotoFilter(), taken_from=start, taken_to=end)
    return chosen if chosen.active else None
