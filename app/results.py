"""A query run and what it found: the query's examples, the result cards, and the similarity graph."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from streamlit_agraph import Config, Edge, Node, agraph

from app.login import readable_roots
from app.markdown import as_text_in_graph, literal
from app.query import add_example, examples, may_add, new_query, remove_example, set_query
from app.query_photo import query_photo
from app.resources import THUMBNAIL_CACHE
from app.widgets import COLUMNS, card, in_words
from retrieval import (
    MAX_EXAMPLES,
    CatalogueFilter,
    Embedder,
    Example,
    ExampleGone,
    Hit,
    ImageStore,
    ModelSpec,
    PhotoFilter,
    UnreadableImage,
    nothing_close_line,
    owners,
    picture,
    reaching,
    search_query,
)
from retrieval.serving import MAX_NODES, QUERY_NODE, ThumbnailGraph, query_node, small_jpeg, thumbnail_graph

RESULT_COLUMNS = 4


@dataclass(frozen=True)
class Found:
    """What the Search tab's query found: the hits, or why there are none."""

    query: list[Example]
    plain: bool
    hits: list[Hit] | None = None
    error: str | None = None  # shown instead of the examples and results
    warning: str | None = None  # shown after the examples, instead of the results
    upload: bytes | None = None  # an uploaded query's thumbnail, for the graph


def run_query(
    store: ImageStore,
    embedder: Embedder,
    *,
    k: int,
    plain: bool,
    within: CatalogueFilter | None,
    facts: PhotoFilter | None = None,
) -> Found:
    """The query photo (or the region picker on it) is drawn here, in the current column; the results later."""
    if not (query := examples()):
        return Found(query, plain)
    first = query[0]
    try:
        photo = picture(first, readable_roots()) if first.data is not None or st.session_state.get("region_on") else None
    except UnreadableImage as e:
        return Found(query, plain, error=f"Cannot search with {literal(first.name)}: {literal(e.reason)}.")
    box = query_photo(first, photo)
    if not any(e.positive for e in query):
        return Found(query, plain)
    try:
        hits = search_query(
            store, embedder, query, box, k=k, roots=readable_roots(), pictures=[photo], plain=plain, within=within, facts=facts
        )
    except ExampleGone as e:
        new_query([x for x in query if x != e.example])
        return Found(query, plain, warning=f"{literal(str(e))}. Pick another image or drop a photo.")
    upload = small_jpeg(photo) if first.path is None and photo is not None else None
    return Found(query, plain, hits=hits, upload=upload)


def show_found(store: ImageStore, spec: ModelSpec, found: Found, min_score: float) -> None:
    if found.error:
        st.error(found.error)
        return
    if not (query := found.query):
        return
    first = query[0]
    if len(query) > 1 or not first.positive:
        example_row(query)
    if found.warning:
        st.warning(found.warning)
    elif found.hits is None:
        st.info("Add an image to look like (**Add to query** on a result, or drop a photo): negatives only say what to avoid.")
    else:
        if len(query) == 1 and (line := nothing_close_line(found.hits, leave_out=first.path)):
            st.warning(line)
        show_results(store, spec, found.hits, min_score, (first.name, first.path, found.upload))


def show_results(
    store: ImageStore, spec: ModelSpec, hits: list[Hit], min_score: float, query: tuple[str, str | None, bytes | None]
) -> None:
    """The result cards, and the graph; `query`: the query's name, indexed path (or None) and upload thumbnail."""
    shown = reaching(hits, min_score)
    st.subheader(f"{len(shown)} similar images")
    if not shown:
        st.info("No result reaches the minimum score, or no image matches the filter; lower the score or change the filter.")
    owned = owners(store, [h.path for h in shown])
    for row in range(0, len(shown), RESULT_COLUMNS):
        cells = zip(st.columns(RESULT_COLUMNS), shown[row : row + RESULT_COLUMNS], strict=False)
        for rank, (column, hit) in enumerate(cells, row + 1):
            with column, st.container(border=True, key=f"result-{rank}"):
                of = "".join(f"  \nof {literal(owner.describe())}" for owner in owned.get(hit.path, []))
                card(hit.path, f"**{literal(hit.name)}**  \nsimilarity **{hit.score:.3f}**{in_words(hit.score)}{of}")
                st.button("More like this", key=f"more:{hit.path}", on_click=set_query, args=(hit.path,))
                full = None if may_add(hit.path) else f"A query takes at most {MAX_EXAMPLES} examples: remove one first."
                for label, key, positive in (("Add to query", "add", True), ("Less like this", "less", False)):
                    st.button(
                        label,
                        key=f"{key}:{hit.path}",
                        on_click=add_example,
                        args=(hit.path, positive),
                        disabled=bool(full),
                        help=full,
                    )
    if shown and st.toggle("Show these results in the similarity graph", key="show_graph"):
        links = store.links_among(spec.space, [h.path for h in shown])
        name, path, jpeg = query
        roots = readable_roots()
        graph = thumbnail_graph(
            query_node(name, path, THUMBNAIL_CACHE, jpeg, roots=roots), shown, links, THUMBNAIL_CACHE, roots=roots
        )
        clicked = draw_graph(graph)
        if clicked and clicked != (path or QUERY_NODE):
            st.session_state.graph_pick = clicked  # searched from at the top of the next run, before its widgets
            st.rerun(scope="fragment")
        st.caption(
            f"Each result (at most {MAX_NODES - 1}) joined to the query, thicker the more similar; grey: SIMILAR_TO links "
            "between results. Hover for the score; click an image to search from it."
        )


def draw_graph(graph: ThumbnailGraph) -> str | None:
    """The graph drawn by streamlit-agraph (vis-network, bundled: nothing loads from the internet);
    returns the id of a clicked node."""
    nodes = [
        Node(
            id=n.id,
            label=n.label,
            title=as_text_in_graph(n.title),
            shape="image" if n.image else "dot",
            image=n.image or "",
            size=40 if n.query else 24,
            shapeProperties={"useBorderWithImage": True},
            borderWidth=6 if n.query else 1,
            color={"border": "#f08c00" if n.query else "#c9ced6", "background": "#ffffff"},
            font={"size": 12, "color": "#c2410c" if n.query else "#31333f"},
        )
        for n in graph.nodes
    ]
    edges = [
        Edge(
            source=e.source,
            target=e.target,
            width=e.width,
            title=f"{e.score:.3f}",
            color="#f08c00" if e.to_query else "#b4b9c2",
            dashes=not e.to_query,
            length=200 + 1000 * (1 - max(e.score, 0.0)) if e.to_query else 300,
        )
        for e in graph.edges
    ]
    config = Config(width=800, height=600, directed=False, physics=True, stabilization=True, fit=True)
    clicked: str | None = agraph(nodes, edges, config)
    return clicked


def example_row(query: list[Example]) -> None:
    """The query's examples as small thumbnails, each with a way to remove it."""
    st.markdown(f"**Query:** {len(query)} examples, combined (like the green ones, not like the red ones)")
    for column, (i, example) in zip(st.columns(max(len(query), COLUMNS)), enumerate(query), strict=False):
        with column, st.container(border=True, key=f"example-{i}"):
            if example.path:
                like = ":green[like]" if example.positive else ":red[not like]"
                card(example.path, f"{like} {literal(example.name)}")
            else:
                st.image(small_jpeg(picture(example)), width="stretch")
                st.caption(f"like {literal(example.name)}")
            st.button("Remove", key=f"remove:{i}", on_click=remove_example, args=(i,))
