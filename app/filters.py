"""The Search tab's filters: only images attached to part of the user's own catalogue."""

from __future__ import annotations

import streamlit as st

from retrieval.catalogue import OWNER_VALUES_SHOWN, owner_keys, owner_labels, owner_values
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
