"""Parts every page uses: errors shown as messages, a thumbnail card, a duplicate group's row of
cards, a place drawn afresh, and whether Neo4j can be reached."""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

from app.login import insider, readable_roots
from app.markdown import literal
from app.resources import DEMO_FOLDER, THUMBNAIL_CACHE, demo_credits
from retrieval import (
    DriverFailed,
    Group,
    ImageStore,
    Neo4jSettings,
    QueryFailed,
    RetrievalError,
    UnreadableImage,
    group_paths,
    tier_of,
)
from retrieval.serving import driver_errors, thumbnail, unreachable

COLUMNS = 6  # thumbnails in a row: the catalogue, a duplicate group, the query's examples
NAMED = 60  # a duplicate group's members named under its row at most (its export lists them all)


@contextmanager
def shown_errors(connection: Neo4jSettings) -> Iterator[None]:
    """The last resort: an error of the library or of the Neo4j driver becomes a message with what to
    do, not a traceback; the next action starts afresh (nothing failed is cached). Bugs still raise.
    The message is shown as text: it may hold a name or path that came from a visitor."""
    try:
        with driver_errors(connection, "on this page"):
            yield
    except (DriverFailed, QueryFailed) as e:  # the server's own words: for those who may learn of its insides
        st.error(literal(str(e)) if insider() else "Neo4j failed on this page; the admin finds why in the server's log.")
    except RetrievalError as e:
        st.error(literal(str(e)))


def card(path: str, caption: str) -> None:
    """A thumbnail inline in the page (one message, no extra request per image), its caption (Markdown,
    names in it escaped with `literal`) and credit."""
    try:
        data = base64.b64encode(thumbnail(Path(path), THUMBNAIL_CACHE, roots=readable_roots()).read_bytes()).decode()
    except (UnreadableImage, OSError):
        st.warning("file missing or unreadable")
    else:
        name = html.escape(Path(path).name)
        st.html(f'<img src="data:image/jpeg;base64,{data}" alt="{name}" style="width:100%;border-radius:0.4rem">')
    credit = demo_credits().get(Path(path).name) if Path(path).parent == DEMO_FOLDER else None
    st.caption(caption + (f"  \nPhoto: {literal(credit)}" if credit else ""))


@contextmanager
def fresh(name: str) -> Iterator[None]:
    """A part of the page drawn into a new container on each run, never over the previous run's
    elements. Streamlit reuses a container at the same place, and removes what a run no longer draws
    only when the run's end reaches the browser; a fragment run starting at once after it (the
    indexing progress, every second) can turn that end into "stopped early", leaving replaced result
    cards or a removed example on the page (Streamlit 1.67). So two places take turns: the one drawn
    into was left empty by the previous run, and the other is emptied."""
    turn = st.session_state.get(f"turn:{name}", 0)
    st.session_state[f"turn:{name}"] = 1 - turn
    places = (st.empty(), st.empty())
    with places[turn].container():
        yield


def neo4j_down(store: ImageStore, connection: Neo4jSettings) -> bool:
    """Whether Neo4j is unreachable, said here in a few seconds. A fragment run that finds it otherwise
    than the page was drawn redraws the whole page, so that the sidebar's status follows."""
    down = unreachable(store, connection)
    if (down is not None) != st.session_state.get("neo4j_down", False):
        st.rerun()
    if down is not None:
        st.error(down)
    return down is not None


def in_words(score: float) -> str:
    """What a score means, in the duplicate tiers' words (Search and Duplicates tabs alike):
    " · same picture", " · near-duplicate", " · similar", or nothing under them."""
    return f" · {tier.word}" if (tier := tier_of(score)) else ""


def duplicate_group(group: Group, actions: Callable[[Group], None] | None = None) -> None:
    """A group's thumbnails, each with its facts, what they differ in, its paths as a text file, and
    the `actions` a person may take on it."""
    with st.container(border=True, key=f"dup-{group.tier}-{group.number}"):
        st.markdown(f"**Group {group.number}**: {len(group.members)} images, cosine {group.lowest:.3f} to {group.best:.3f}")
        st.caption(" · ".join(group.differences()))
        for column, member in zip(st.columns(COLUMNS), group.members[:COLUMNS], strict=False):
            with column:
                match = f"best match **{member.match:.3f}**{in_words(member.match)}"
                card(member.path, f"{literal(member.name)}  \n{member.facts()}  \n{match}")
        if len(group.members) > COLUMNS:
            named = ", ".join(literal(m.name) for m in group.members[COLUMNS:NAMED])
            st.caption(f"and {len(group.members) - COLUMNS} more: {named}" + (", …" if len(group.members) > NAMED else ""))
        st.download_button(
            "Export paths",
            group_paths([group]),
            f"{group.tier}-group-{group.number}.txt",
            "text/plain",
            key=f"dup-export-{group.tier}-{group.number}",
            on_click="ignore",
        )
        if actions is not None:
            actions(group)
