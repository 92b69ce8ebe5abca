"""A search's neighbourhood as a graph of thumbnails: the query joined to each result by its
score, and the results' own SIMILAR_TO links among each other. Plain data (node ids, captions,
JPEG thumbnails as data URIs, edge widths), which the app hands to a graph component to draw;
thumbnails come from the thumbnail cache (thumbnails.py), so a redraw decodes no photo."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from retrieval.core.errors import UnreadableImage
from retrieval.neo4j.images import Hit
from retrieval.vision.thumbnails import thumbnail

MAX_NODES = 50  # the query and at most 49 results: more is slow to draw and no longer readable
GRAPH_PIXELS = 96  # thumbnails' long side in the graph
QUERY_NODE = "query"


@dataclass(frozen=True)
class GraphNode:
    id: str  # the image's path (clicking it searches from it), or QUERY_NODE for an upload
    label: str  # drawn under the thumbnail
    title: str  # shown on hover, as text: vis-network sets a string title as the tooltip's innerText
    image: str | None  # a JPEG data URI, or None when the file is gone
    query: bool = False


@dataclass(frozen=True)
class GraphEdge:
    source: str
    target: str
    score: float
    width: float  # 1 (the weakest shown) to 8 (the strongest)
    to_query: bool


@dataclass(frozen=True)
class ThumbnailGraph:
    nodes: list[GraphNode]
    edges: list[GraphEdge]


def data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()


def small_jpeg(photo: Image.Image) -> bytes:
    """A photo that is not in the thumbnail cache (an upload) as a graph-sized JPEG."""
    small = photo.copy()
    small.thumbnail((GRAPH_PIXELS, GRAPH_PIXELS))
    buffer = io.BytesIO()
    small.convert("RGB").save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _cached(path: str, cache_dir: Path, roots: tuple[Path, ...] | None) -> str | None:
    try:
        return data_uri(thumbnail(Path(path), cache_dir, GRAPH_PIXELS, roots=roots).read_bytes())
    except (UnreadableImage, OSError):
        return None


def query_node(
    name: str, path: str | None, cache_dir: Path, jpeg: bytes | None = None, *, roots: tuple[Path, ...] | None
) -> GraphNode:
    """The query's node: an indexed image by its path and cached thumbnail (if `roots` let it be read),
    or an upload's `jpeg`."""
    image = data_uri(jpeg) if jpeg is not None else _cached(path, cache_dir, roots) if path else None
    return GraphNode(path or QUERY_NODE, f"query: {name}", f"query: {name}", image, query=True)


def thumbnail_graph(
    query: GraphNode,
    hits: Sequence[Hit],
    links: Sequence[tuple[str, str, float]],
    cache_dir: Path,
    *,
    roots: tuple[Path, ...] | None,
) -> ThumbnailGraph:
    """The graph of `hits` around the `query` node (made by `query_node`), at most MAX_NODES nodes,
    with `links` among the results; thumbnails of the files `roots` let be read."""
    shown = [h for h in hits if h.path != query.id][: MAX_NODES - 1]
    nodes = [query]
    for h in shown:
        title = f"{h.name}, similarity {h.score:.3f}"
        nodes.append(GraphNode(h.path, f"{h.name}\n{h.score:.2f}", title, _cached(h.path, cache_dir, roots)))
    scores = [h.score for h in shown] + [s for _, _, s in links]
    low, high = (min(scores), max(scores)) if scores else (0.0, 1.0)

    def width(score: float) -> float:
        return 1 + 7 * (score - low) / (high - low) if high > low else 4.0

    edges = [GraphEdge(query.id, h.path, h.score, width(h.score), to_query=True) for h in shown]
    ids, drawn = {h.path for h in shown}, set()
    for a, b, score in links:
        pair = frozenset((a, b))
        if a != b and pair <= ids and pair not in drawn:
            drawn.add(pair)
            edges.append(GraphEdge(a, b, score, width(score), to_query=False))
    return ThumbnailGraph(nodes, edges)
