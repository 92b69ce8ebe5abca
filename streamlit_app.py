"""Find images like this one, in your Neo4j. A thin Streamlit face over the `retrieval` library."""

from __future__ import annotations

import base64
import html
import io
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from neo4j import Driver
from PIL import Image, ImageDraw
from streamlit_agraph import Config, Edge, Node, agraph
from streamlit_image_coordinates import streamlit_image_coordinates

from retrieval.access import AccessPolicy, LoginThrottle, catalogued, folder_under_roots, load_policy
from retrieval.catalogue import OWNER_VALUES_SHOWN, owner_keys, owner_labels, owner_values, owners
from retrieval.closeness import nothing_close_line
from retrieval.core.errors import ExampleGone, ModelUnavailable, RetrievalError, UnreadableImage
from retrieval.core.settings import MODEL_ENV, PASSWORD_KEY, RESNET50_WEIGHTS_ENV, Settings, load_settings
from retrieval.credits import load_credits
from retrieval.duplicates import DEFAULT_THRESHOLD, duplicate_groups
from retrieval.examples import Example, example_vectors, picture, search_examples
from retrieval.jobs import IndexJob, IndexRun, unreachable
from retrieval.markdown import literal
from retrieval.neo4j.catalogue import CatalogueFilter
from retrieval.neo4j.connection import Neo4jSettings, neo4j_errors, neo4j_settings, open_driver
from retrieval.neo4j.images import Hit
from retrieval.neo4j.store import ImageStore
from retrieval.pruning import remove_missing
from retrieval.region import Box
from retrieval.search import model_mismatch
from retrieval.thumbnail_graph import MAX_NODES, ThumbnailGraph, query_node, thumbnail_graph
from retrieval.vision.decode import IMAGE_EXTENSIONS
from retrieval.vision.embed import Embedder
from retrieval.vision.models import MODELS, ModelChoice, ModelSpec, choose_model
from retrieval.vision.thumbnails import THUMBNAIL_PIXELS, thumbnail

PROJECT = Path(__file__).resolve().parent
DEMO_FOLDER = PROJECT / "images"
THUMBNAIL_CACHE = PROJECT / ".cache" / "thumbnails"
QUERY_ID = "query"  # the graph's node of an uploaded query
UPLOAD_TYPES = sorted(ext.lstrip(".") for ext in IMAGE_EXTENSIONS)
GRID_COLUMNS = 4
GALLERY_PAGE = 12
GALLERY_COLUMNS = 6
DUPLICATE_GROUPS = 20
PROGRESS_SECONDS = 1.0  # how often a session redraws a running indexing job
CONNECTION_TIMEOUT = 5.0  # seconds to reach Neo4j before a page says it cannot

st.set_page_config(page_title="Image search on Neo4j", layout="wide")


@st.cache_resource(show_spinner="Connecting to Neo4j ...")
def get_driver(uri: str, username: str, _settings: Neo4jSettings) -> Driver:
    """One driver per server and user (the driver is thread-safe); a failure is not cached, so the next rerun retries."""
    return open_driver(_settings, connection_timeout=CONNECTION_TIMEOUT)


@st.cache_resource(show_spinner="Loading the image model ...")
def get_model(_settings: Settings) -> tuple[ModelChoice, Embedder]:
    choice = choose_model(None, _settings)
    return choice, Embedder.load(choice.spec, _settings)


@st.cache_resource(show_spinner=False)
def get_store(uri: str, username: str, _driver: Driver, database: str | None) -> ImageStore:
    """One store per server (the catalogue cache keys on it). It writes nothing: the schema and the
    similarity links are made by indexing (here the Admin tab, or the CLI), never by a search."""
    return ImageStore(_driver, database)


@st.cache_resource(show_spinner=False)
def get_job() -> IndexJob:
    """The process's one indexing job, shared by every session."""
    return IndexJob()


@st.cache_resource(show_spinner=False)
def server_policy(_settings: Settings) -> AccessPolicy:
    """Who may change the index, decided once per process from the server address and the settings."""
    return load_policy(st.get_option("server.address"), _settings)


def access_policy(given: Settings) -> AccessPolicy:
    """The server's policy for this visitor: login is on for a request from another machine or through a proxy."""
    return server_policy(given).for_request(st.context.ip_address, st.context.headers)


@st.cache_resource(show_spinner=False)
def login_throttle() -> LoginThrottle:
    """Wrong passwords counted for the whole process, by session and by client address."""
    return LoginThrottle()


@contextmanager
def shown_errors(connection: Neo4jSettings) -> Iterator[None]:
    """The last resort: an error of the library or of the Neo4j driver becomes a message with what to
    do, not a traceback; the next action starts afresh (nothing failed is cached). Bugs still raise.
    The message is shown as text: it may hold a name or path that came from a visitor."""
    try:
        with neo4j_errors(connection, "on this page"):
            yield
    except RetrievalError as e:
        st.error(literal(str(e)))


@st.cache_data(show_spinner=False)
def demo_credits() -> dict[str, str]:
    return load_credits(DEMO_FOLDER)


def card(path: str, caption: str) -> None:
    """A thumbnail inline in the page (one message, no extra request per image), its caption (Markdown,
    names in it escaped with `literal`) and credit."""
    try:
        data = base64.b64encode(thumbnail(Path(path), THUMBNAIL_CACHE).read_bytes()).decode()
    except (UnreadableImage, OSError):
        st.warning("file missing or unreadable")
    else:
        name = html.escape(Path(path).name)
        st.html(f'<img src="data:image/jpeg;base64,{data}" alt="{name}" style="width:100%;border-radius:0.4rem">')
    credit = demo_credits().get(Path(path).name) if Path(path).parent == DEMO_FOLDER else None
    st.caption(caption + (f"  \nPhoto: {literal(credit)}" if credit else ""))


def uploader_key() -> str:
    return f"upload{st.session_state.get('uploader', 0)}"


def examples() -> list[Example]:
    """The query: examples to look like and not to look like."""
    return st.session_state.setdefault("examples", [])


def shared_query(store: ImageStore, spec: ModelSpec) -> None:
    """A new session starts from the URL's `?image=PATH` (repeated for several) and `&not=PATH`, so a
    link to a search opens the same results. The URL is anyone's: a path is kept only when the
    catalogue has an image of it, asked before any file is touched; any other path gets one message,
    whether or not a file is there."""
    if "examples" in st.session_state:
        return
    shared = [(p, True) for p in st.query_params.get_all("image")] + [(p, False) for p in st.query_params.get_all("not")]
    known = catalogued(store, spec.space, [p for p, _ in shared])
    new_query([Example.indexed(p, positive) for p, positive in shared if p in known])
    for path in dict.fromkeys(p for p, _ in shared if p not in known):
        st.warning(f"Not an indexed image: {literal(path)}. Pick one from the gallery, or drop a photo.")


def new_query(query: list[Example]) -> None:
    """Another query: its region is forgotten; the URL carries it when every example is indexed."""
    if query[:1] != examples()[:1]:
        st.session_state.pop("box", None)
    st.session_state.examples = query
    if query and all(e.path for e in query):
        st.query_params.from_dict(
            {key: [e.path for e in query if e.positive is positive] for key, positive in (("image", True), ("not", False))}
        )
    else:
        st.query_params.clear()


def set_query(path: str) -> None:
    """Search from an indexed image ("More like this", the gallery, a graph node)."""
    new_query([Example.indexed(path)])
    st.session_state.show_gallery = False


def add_example(path: str, positive: bool) -> None:
    """ "Add to query" and "Less like this": the image joins the query (once, as the latest said)."""
    new_query([*(e for e in examples() if e.path != path), Example.indexed(path, positive)])


def remove_example(index: int) -> None:
    new_query([e for i, e in enumerate(examples()) if i != index])


def take_upload() -> None:
    """The dropped file becomes the query, and the uploader is emptied (a new key): the next drop then
    lands in an empty uploader and costs one rerun, where replacing a held file costs two (removal, arrival)."""
    if (upload := st.session_state.get(uploader_key())) is not None:
        new_query([Example(upload.name, data=upload.getvalue())])
        st.session_state.uploader = st.session_state.get("uploader", 0) + 1


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
    if key is None:
        return None
    values = catalogue_choices(store, attached, label, key)
    if len(values) < OWNER_VALUES_SHOWN:
        value = right.selectbox("Value", values, key="filter_value")
    else:
        value = right.text_input("Value", key="filter_value_text")
    return CatalogueFilter(label, key, value) if value else None


def show_results(
    store: ImageStore, spec: ModelSpec, hits: list[Hit], min_score: float, query: tuple[str, str | None, bytes | None]
) -> None:
    """The result cards, and the graph; `query`: the query's name, indexed path (or None) and upload thumbnail."""
    shown = [h for h in hits if h.score >= min_score]
    st.subheader(f"{len(shown)} similar images")
    if not shown:
        st.info("No result reaches the minimum score, or no image matches the filter; lower the score or change the filter.")
    owned = owners(store, [h.path for h in shown])
    for row in range(0, len(shown), GRID_COLUMNS):
        cells = zip(st.columns(GRID_COLUMNS), shown[row : row + GRID_COLUMNS], strict=False)
        for rank, (column, hit) in enumerate(cells, row + 1):
            with column, st.container(border=True, key=f"result-{rank}"):
                of = "".join(f"  \nof {literal(owner.describe())}" for owner in owned.get(hit.path, []))
                card(hit.path, f"**{literal(hit.name)}**  \nsimilarity **{hit.score:.3f}**{of}")
                st.button("More like this", key=f"more:{hit.path}", on_click=set_query, args=(hit.path,))
                st.button("Add to query", key=f"add:{hit.path}", on_click=add_example, args=(hit.path, True))
                st.button("Less like this", key=f"less:{hit.path}", on_click=add_example, args=(hit.path, False))
    if shown and st.toggle("Show these results in the similarity graph", key="show_graph"):
        links = store.links_among(spec.space, [h.path for h in shown])
        name, path, jpeg = query
        clicked = draw_graph(thumbnail_graph(query_node(name, path, THUMBNAIL_CACHE, jpeg), shown, links, THUMBNAIL_CACHE))
        if clicked and clicked != (path or QUERY_ID):
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
            title=n.title,
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
    return agraph(nodes, edges, config)


def gallery(store: ImageStore, choice: ModelChoice, total: int) -> None:
    pages = max(1, -(-total // GALLERY_PAGE))
    page = st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, key="gallery_page")
    columns = st.columns(GALLERY_COLUMNS)
    for i, (path, name) in enumerate(store.page(choice.spec.space, (page - 1) * GALLERY_PAGE, GALLERY_PAGE)):
        with columns[i % GALLERY_COLUMNS], st.container(key=f"pick-{i}"):
            card(path, literal(name))
            st.button("Search", key=f"pick:{path}", on_click=set_query, args=(path,))


def unlinked_note(store: ImageStore, spec: ModelSpec) -> None:
    """Images indexed without a similarity list are missing from duplicate groups; say how to list them."""
    if unlisted := store.count_unlisted(spec.space):
        st.info(f"{unlisted} images have no similarity list yet: run `python -m retrieval link`.")


def searchable(store: ImageStore, spec: ModelSpec) -> int:
    """How many images a search can find, or 0 with an info saying what is missing (never an error)."""
    (own,) = store.stats([spec.space]).indexes
    if own.vectors == 0:
        st.info("No images are indexed yet. Open the **Admin** tab (or use the sidebar) and index a folder.")
        return 0
    if own.state == "MISSING":
        st.info(f"The vector index {own.index_name} does not exist yet: index a folder again (Admin tab) to make it.")
        return 0
    return own.vectors


def neo4j_down(store: ImageStore, connection: Neo4jSettings) -> bool:
    """Whether Neo4j is unreachable, said here in a few seconds. A fragment run that finds it otherwise
    than the page was drawn redraws the whole page, so that the sidebar's status follows."""
    down = unreachable(store, connection)
    if (down is not None) != st.session_state.get("neo4j_down", False):
        st.rerun()
    if down is not None:
        st.error(down)
    return down is not None


@st.fragment
def search_tab(store: ImageStore, choice: ModelChoice, embedder: Embedder, connection: Neo4jSettings) -> None:
    """A fragment: an upload or a click here reruns only this tab, not the sidebar and admin."""
    down = neo4j_down(store, connection)
    with shown_errors(connection):
        search_body(store, choice, embedder, down)


def search_body(store: ImageStore, choice: ModelChoice, embedder: Embedder, down: bool) -> None:
    """The controls, then the query and its results; with Neo4j down only the controls, so that any
    of them tries again."""
    if picked := st.session_state.pop("graph_pick", None):
        set_query(picked)
    if not down:
        shared_query(store, choice.spec)
        if not (total := searchable(store, choice.spec)):
            return
    left, middle, right = st.columns([3, 2, 2])
    left.file_uploader("Drop a photo to search with", type=UPLOAD_TYPES, key=uploader_key(), on_change=take_upload)
    k = right.slider("Results", 1, 50, 12, key="k")
    min_score = right.slider("Minimum similarity", 0.0, 1.0, 0.0, 0.05, key="min_score")
    plain = right.toggle(
        "Plain cosine",
        key="plain",
        help="Rank by the plain cosine of the two photos' vectors (an identical photo scores 1.000). "
        "Off: the query is blended with its nearest neighbours, and its best candidates are ranked each blended with "
        "its own neighbours among them, which finds more of the same kind (mAP 0.76 -> 0.87 on our labelled photos).",
    )
    if down:
        return
    with fresh("choices"):
        # A toggle, not an expander: an expander's content is built on every rerun.
        if st.toggle("…or pick an indexed image", key="show_gallery"):
            gallery(store, choice, total)
        within = catalogue_filter(store)
    with middle:
        found = run_query(store, choice, embedder, k=k, plain=plain, within=within)
    with fresh("results"):  # drawn once the search is done, so the previous results stay until then
        if warning := model_mismatch(store, choice.spec, embedder.fingerprint):
            st.warning(warning)
        show_found(store, choice.spec, found, min_score)


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
    store: ImageStore, choice: ModelChoice, embedder: Embedder, *, k: int, plain: bool, within: CatalogueFilter | None
) -> Found:
    """The query photo (or the region picker on it) is drawn here, in the current column; the results later."""
    if not (query := examples()):
        return Found(query, plain)
    first = query[0]
    try:
        photo = picture(first) if first.data is not None or st.session_state.get("region_on") else None
    except UnreadableImage as e:
        return Found(query, plain, error=f"Cannot search with {literal(first.name)}: {literal(e.reason)}.")
    box = query_photo(first, photo)
    if not any(e.positive for e in query):
        return Found(query, plain)
    try:
        positives, negatives = example_vectors(store, embedder, query, box)
    except ExampleGone as e:
        new_query([x for x in query if x != e.example])
        return Found(query, plain, warning=f"{literal(str(e))}. Pick another image or drop a photo.")
    exclude = {e.path for e in query if e.path}
    hits = search_examples(store, choice.spec, positives, negatives, k, plain=plain, within=within, exclude=exclude)
    upload = graph_jpeg(photo) if first.path is None and photo is not None else None
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
        if len(query) == 1 and (line := nothing_close_line(found.hits, plain=found.plain, leave_out=first.path)):
            st.warning(line)
        show_results(store, spec, found.hits, min_score, (first.name, first.path, found.upload))


def query_photo(first: Example, photo: Image.Image | None) -> Box | None:
    """The query photo, or the region picker on it (with the box drawn) when the region toggle is on."""
    box = region(photo, first) if photo is not None and st.session_state.get("region_on") else None
    if box is None and photo is not None:
        preview = photo.copy()
        preview.thumbnail((THUMBNAIL_PIXELS, THUMBNAIL_PIXELS))  # encoding the full-size photo costs ~0.2 s a rerun
        st.image(preview, width="stretch", output_format="JPEG")
        st.caption(f"Query: {literal(first.name)}")
    elif box is None and first.path:
        card(first.path, f"Query: {literal(first.name)}")
    st.toggle("Search a region of the photo", key="region_on", help="Drag a box on the photo: only that part is searched.")
    return box


def graph_jpeg(photo: Image.Image) -> bytes:
    small = photo.copy()
    small.thumbnail((96, 96))
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def region(photo: Image.Image, first: Example) -> Box | None:
    """The box drawn on the query photo (streamlit-image-coordinates, dragged), shown on it; None
    until a box is drawn. The box is kept in photo pixels, so the shown size does not matter."""
    shown = photo.copy()
    shown.thumbnail((2 * THUMBNAIL_PIXELS, 2 * THUMBNAIL_PIXELS))
    scale = photo.width / shown.width
    box: Box | None = st.session_state.get("box")
    if box is not None:
        corners = [box.left / scale, box.top / scale, (box.left + box.width) / scale, (box.top + box.height) / scale]
        ImageDraw.Draw(shown).rectangle(corners, outline="#f08c00", width=3)
    st.caption("Drag a box over the part of the photo to search for.")
    drag = streamlit_image_coordinates(
        shown,
        key=f"region:{first.path or first.name}",
        click_and_drag=True,
        width="stretch",
        cursor="crosshair",
        image_format="JPEG",
    )
    if drag and "x1" in drag and drag["unix_time"] != st.session_state.get("box_time"):
        st.session_state.box_time = drag["unix_time"]
        corners = (drag["x1"], drag["y1"], drag["x2"], drag["y2"])
        box = Box.from_corners(corners, photo.width / drag["width"], photo.size)
        st.session_state.box = box
        st.rerun(scope="fragment")  # redraw the photo with the box on it
    if box is not None:
        st.caption(f"Region {box} (left, top, width, height) of {photo.width}x{photo.height}: {literal(first.name)}")
        st.button("Whole photo", key="whole_photo", on_click=st.session_state.pop, args=("box", None))
    return box


def example_row(query: list[Example]) -> None:
    """The query's examples as small thumbnails, each with a way to remove it."""
    st.markdown(f"**Query:** {len(query)} examples, combined (like the green ones, not like the red ones)")
    for column, (i, example) in zip(st.columns(max(len(query), GALLERY_COLUMNS)), enumerate(query), strict=False):
        with column, st.container(border=True, key=f"example-{i}"):
            if example.path:
                like = ":green[like]" if example.positive else ":red[not like]"
                card(example.path, f"{like} {literal(example.name)}")
            else:
                st.image(graph_jpeg(picture(example)), width="stretch")
                st.caption(f"like {literal(example.name)}")
            st.button("Remove", key=f"remove:{i}", on_click=remove_example, args=(i,))


@st.fragment
def duplicates_tab(store: ImageStore, spec: ModelSpec, connection: Neo4jSettings) -> None:
    """Groups of near-duplicates from the SIMILAR_TO links, each as a row of thumbnails."""
    if neo4j_down(store, connection):
        return
    with shown_errors(connection):
        duplicates_body(store, spec)


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
            for column, path in zip(st.columns(GALLERY_COLUMNS), group.paths[:GALLERY_COLUMNS], strict=False):
                with column:
                    card(path, f"{literal(Path(path).name)}  \nbest match **{group.best_match(path):.3f}**")
            if len(group.paths) > GALLERY_COLUMNS:
                st.caption(
                    f"and {len(group.paths) - GALLERY_COLUMNS} more: "
                    + ", ".join(literal(Path(p).name) for p in group.paths[GALLERY_COLUMNS:])
                )


def start_indexing(store: ImageStore, embedder: Embedder, policy: AccessPolicy, folder: str, connection: Neo4jSettings) -> None:
    """Start the process's indexing job on `folder` if it is allowed and no run is going (in any session)."""
    try:
        checked = folder_under_roots(folder, policy.roots, cache=THUMBNAIL_CACHE)
    except RetrievalError as e:
        st.error(literal(str(e)))
        return
    if (running := get_job().start(store, embedder, checked, connection, roots=policy.roots)) is None:
        st.rerun()  # redraw the whole page, so that every panel of the run (sidebar, Admin tab) follows it
    st.warning(
        f"An indexing run of {literal(running.folder)} is in progress: {running.progress.done} of {running.progress.total}. "
        "Wait for it to finish before starting another."
    )


def job_status(detailed: bool) -> None:
    """The latest indexing run, in every session: redrawn every PROGRESS_SECONDS while it runs. An idle
    page polls nothing: a timed fragment run that follows another fragment's run at once can leave that
    run's replaced elements on the page (Streamlit 1.67: a removed example, result cards twice), so a
    run another session starts shows at this session's next action (and pressing "Index folder" says so)."""
    run = get_job().latest()
    st.session_state.job_poll = PROGRESS_SECONDS if run and run.running else None
    st.fragment(run_every=st.session_state.job_poll)(job_panel)(detailed)


def job_panel(detailed: bool) -> None:
    run = get_job().latest()
    if (st.session_state.job_poll == PROGRESS_SECONDS) != bool(run and run.running):
        st.rerun()  # a run began or ended since the page was drawn: redraw it all (counts, polling rate) once
    if run is None:
        return
    if run.running:
        show_progress(run)
    elif run.error:
        st.error(f"Indexing {literal(run.folder)} stopped: {literal(run.error)}")
    elif run.report:
        st.progress(1.0, text=f"Done in {run.report.seconds:.1f} s")
        st.success(f"{literal(run.folder)}: {run.report.summary()}. {run.report.links.summary() if run.report.links else ''}")
        if detailed and run.report.skipped:
            st.dataframe([{"file": s.path, "reason": s.reason} for s in run.report.skipped], hide_index=True)


def show_progress(run: IndexRun) -> None:
    report, linking = run.progress, run.linking
    if linking is not None:
        st.progress(linking.done / max(linking.total, 1), text=f"Linking similar images: {linking.done} of {linking.total}")
    else:
        st.progress(report.done / max(report.total, 1), text=f"Indexing {literal(run.folder)}: {report.done} of {report.total}")
    st.markdown(
        f"new **{report.new}** · updated **{report.updated}** · unchanged **{report.unchanged}**"
        f" · skipped **{len(report.skipped)}** · elapsed **{time.time() - run.started:.0f} s**"
    )


def may_change(policy: AccessPolicy) -> bool:
    """Whether this session may index and remove images: always on localhost, else once logged in."""
    return not policy.login or st.session_state.get("admin", False)


def login(policy: AccessPolicy) -> None:
    """The admin password form, or how to set one when none is configured."""
    if policy.password is None:
        st.warning(
            "This app is served beyond localhost (or RETRIEVAL_REQUIRE_LOGIN is set), so indexing and removing images "
            f"need an admin password, and none is set: put `{PASSWORD_KEY}` in `.streamlit/secrets.toml` "
            "(or the environment) and restart the app. Searching needs no password."
        )
        return
    st.subheader("Log in to change the index")
    given = st.text_input("Admin password", type="password", key="admin_password")
    if st.button("Log in", key="admin_login"):
        # Counted for this session and for its client address, so neither new tabs nor many addresses' worth of tabs go fast.
        keys = [f"session:{st.session_state.setdefault('visitor', uuid.uuid4().hex)}", f"address:{st.context.ip_address}"]
        attempt = login_throttle().attempt(keys, lambda: policy.password_matches(given))
        if attempt.passed:
            st.session_state.admin = True
            st.rerun()
        st.error(attempt.message())


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
        start_indexing(store, embedder, policy, folder, connection)
    job_status(detailed=True)
    if down is not None:
        st.error(down)
        return

    st.subheader("Database")
    stats = store.stats(m.space for m in MODELS.values())
    st.metric("Images", stats.images)
    st.dataframe(
        [
            {
                "model": s.model,
                "vector index": s.index_name,
                "state": s.state,
                "populated %": s.population_percent,
                "vectors": s.vectors,
            }
            for s in stats.indexes
        ],
        hide_index=True,
    )
    st.subheader("Search quality")
    if latest := store.latest_evaluation():
        st.caption(
            f"Latest `python -m retrieval evaluate`: {latest['model']} on {latest['dataset']} "
            f"({latest['images']} photos, {latest['queries']} queries, leave-one-out), {latest['at'][:16].replace('T', ' ')} UTC"
        )
        shown = {"mAP": "index_map", "P@1": "index_p_at_1", "P@10": "index_p_at_10", "Recall@10": "index_recall_at_10"}
        for column, (label, key) in zip(st.columns(len(shown)), shown.items(), strict=True):
            column.metric(label, f"{latest[key]:.3f}")
    else:
        st.caption("No evaluation yet: `python -m retrieval evaluate FOLDER` measures search quality on a labelled photo set.")
    st.subheader("Clean up")
    sure = st.checkbox("I understand this deletes the nodes of images whose files are gone", key="prune_sure")
    if st.button("Remove missing images", key="prune", disabled=not sure):
        gone = remove_missing(store)
        st.success(f"Removed {len(gone)} images whose files are gone.")


def sidebar(
    choice: ModelChoice | None, embedder: Embedder | None, store: ImageStore, policy: AccessPolicy, connection: Neo4jSettings
) -> None:
    if choice is not None and embedder is not None:
        st.markdown(f"Model: **{choice.spec.name}** ({choice.spec.dimensions}-d) on **{embedder.runtime.name}**")
        with st.expander("Why this model"):
            st.caption(f"{choice.reason}. Runtime {embedder.runtime.name}: {embedder.runtime.reason}.")
    st.header("Index")
    if not may_change(policy):  # a visitor sees neither the server's folders nor the last run
        st.caption("Indexing needs the admin password: see the **Admin** tab.")
        return
    folder = st.text_input("Folder", value=str(DEMO_FOLDER), key="sidebar_folder")
    if st.button("Index folder", key="sidebar_index", disabled=embedder is None):
        start_indexing(store, embedder, policy, folder, connection)
    job_status(detailed=False)


def main() -> None:
    st.title("Image search on Neo4j")
    st.markdown("Drop a photo and find the most similar images in your Neo4j catalogue, ranked by cosine similarity.")
    try:  # the app's settings, read once per run where it starts: the environment, then .streamlit/secrets.toml here
        given = load_settings(os.environ, Path.cwd())
        settings = neo4j_settings(given)
    except RetrievalError as e:
        st.error(str(e))
        st.stop()
    with shown_errors(settings):
        app(given, settings)


def app(given: Settings, settings: Neo4jSettings) -> None:
    policy = access_policy(given)
    st.sidebar.header("Connection")
    try:
        driver = get_driver(settings.uri, settings.username, settings)
    except RetrievalError as e:
        st.sidebar.error(str(e))
        st.error(str(e))
        st.stop()
    store = get_store(settings.uri, settings.username, driver, settings.database)
    down = unreachable(store, settings)  # a server gone since the driver was made: said at once, the controls kept
    st.session_state.neo4j_down = down is not None
    if down is None:
        st.sidebar.success(f"Connected to {settings.uri}")
    else:
        st.sidebar.error(down)
    try:
        choice, embedder = get_model(given)
    except ModelUnavailable as e:
        choice = embedder = None
        st.error(
            f"{e} Set `{MODEL_ENV}` to a usable model (`python -m retrieval models` lists them), or "
            f"`{RESNET50_WEIGHTS_ENV}` to a ResNet50 weights file, and restart the app. Searching needs the model; "
            "the Admin tab works without it."
        )
    with st.sidebar:
        sidebar(choice, embedder, store, policy, settings)

    search, duplicates, admin = st.tabs(["Search", "Duplicates", "Admin"])
    if choice is not None and embedder is not None:
        with search:
            search_tab(store, choice, embedder, settings)
        with duplicates:
            duplicates_tab(store, choice.spec, settings)
    with admin:
        admin_tab(store, embedder, policy, settings, down)


main()
