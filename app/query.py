"""The session's query: its examples, kept in the session and carried by the address bar
(`?image=PATH&not=PATH`) when every example is indexed, so a link opens the same search and Back
returns to the page before it."""

from __future__ import annotations

from typing import cast

import streamlit as st

from app.markdown import literal
from retrieval import MAX_EXAMPLES, Example, ImageStore, ModelSpec, distinct
from retrieval.serving import catalogued


def examples() -> list[Example]:
    """The query: examples to look like and not to look like."""
    return cast(list[Example], st.session_state.setdefault("examples", []))


def address() -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(st.query_params.get_all("image")), tuple(st.query_params.get_all("not"))


def follow_address(store: ImageStore, spec: ModelSpec) -> None:
    """The query follows the URL's `?image=PATH` (repeated for several) and `&not=PATH` when a session
    starts (a shared link opens the same results) and when the browser changed the URL (Back, Forward)
    to other than the session last wrote. The URL is anyone's: each path counts once, MAX_EXAMPLES at
    most; a path is kept only when the catalogue has an image of it, asked before any file is touched;
    any other path gets one message, whether or not a file is there."""
    if "examples" in st.session_state and address() == st.session_state.setdefault("address", address()):
        return
    images, nots = address()
    shared = distinct([(p, True) for p in images] + [(p, False) for p in nots])
    if len(shared) > MAX_EXAMPLES:  # before the catalogue is asked: a URL of thousands costs no more than ten
        st.warning(
            f"This link names {len(shared)} photos; a query takes at most {MAX_EXAMPLES}: the first {MAX_EXAMPLES} are used."
        )
        shared = shared[:MAX_EXAMPLES]
    known = catalogued(store, spec.space, [p for p, _ in shared])
    new_query([Example.indexed(p, positive) for p, positive in shared if p in known])
    for path in dict.fromkeys(p for p, _ in shared if p not in known):
        st.warning(f"Not an indexed image: {literal(path)}. Pick one from the catalogue, or drop a photo.")


def new_query(query: list[Example]) -> None:
    """Another query (MAX_EXAMPLES examples at most): its region is forgotten; the URL carries it when
    every example is indexed."""
    query = query[:MAX_EXAMPLES]
    if query[:1] != examples()[:1]:
        st.session_state.pop("box", None)
    st.session_state.examples = query
    if query and all(e.path for e in query):
        st.query_params.from_dict(
            {key: [e.path or "" for e in query if e.positive is positive] for key, positive in (("image", True), ("not", False))}
        )
    else:
        st.query_params.clear()
    st.session_state.address = address()


def set_query(path: str) -> None:
    """Search from an indexed image ("More like this", the catalogue, a graph node)."""
    new_query([Example.indexed(path)])


def add_example(path: str, positive: bool) -> None:
    """ "Add to query" and "Less like this": the image joins the query (once, as the latest said), unless it is full."""
    if may_add(path):
        new_query([*(e for e in examples() if e.path != path), Example.indexed(path, positive)])


def may_add(path: str) -> bool:
    """Whether the image can join the query: it is in it already (and may change sides), or there is room."""
    return len(examples()) < MAX_EXAMPLES or any(e.path == path for e in examples())


def remove_example(index: int) -> None:
    new_query([e for i, e in enumerate(examples()) if i != index])


def uploader_key() -> str:
    return f"upload{st.session_state.get('uploader', 0)}"


def take_upload() -> None:
    """The dropped file becomes the query, and the uploader is emptied (a new key): the next drop then
    lands in an empty uploader and costs one rerun, where replacing a held file costs two (removal, arrival)."""
    if (upload := st.session_state.get(uploader_key())) is not None:
        new_query([Example(upload.name, data=upload.getvalue())])
        st.session_state.uploader = st.session_state.get("uploader", 0) + 1
