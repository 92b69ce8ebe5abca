"""The pure parts of a query beyond one whole photo: combining examples, boxes, the "nothing is
close" line and the thumbnail graph (the browser tests run them end to end)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from retrieval.closeness import NOTHING_CLOSE, nothing_close_line, reaching
from retrieval.core.errors import RetrievalError
from retrieval.examples import NEGATIVE_WEIGHT, combine
from retrieval.neo4j.images import Hit
from retrieval.region import Box
from retrieval.serving.thumbnail_graph import MAX_NODES, query_node, thumbnail_graph
from tests.support.paths import DEMO_IMAGES


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_combining_examples_is_the_normalised_mean_of_positives_less_the_weighted_negatives():
    a, b, c = unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)
    assert np.allclose(combine([a]), a)
    assert np.allclose(combine([a, b]), unit(1, 1, 0))
    assert np.allclose(combine([a, b], [c]), unit(0.5, 0.5, -NEGATIVE_WEIGHT))
    assert float(combine([a, b], [b]) @ b) < float(combine([a, b]) @ b)  # a negative pushes its side away


def test_examples_with_no_positive_or_that_cancel_out_are_refused_in_words():
    with pytest.raises(RetrievalError, match="at least one example to look like"):
        combine([], [unit(1, 0)])
    with pytest.raises(RetrievalError, match="cancel each other out"):
        combine([unit(1, 0)], [unit(1, 0)], weight=1.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,2,3", "LEFT,TOP,WIDTH,HEIGHT"),
        ("a,b,c,d", "LEFT,TOP,WIDTH,HEIGHT"),
        ("1.5,0,10,10", "LEFT,TOP,WIDTH,HEIGHT"),
        ("-1,0,10,10", "0 or more"),
        ("0,0,0,10", "at least 8 pixels"),
        ("0,0,10,7", "at least 8 pixels"),
    ],
)
def test_a_box_that_is_not_four_sane_whole_numbers_is_refused(text, message):
    with pytest.raises(RetrievalError, match=message):
        Box.parse(text)


def test_a_box_crops_the_upright_photo_and_may_not_reach_beyond_it():
    photo = Image.new("RGB", (300, 200))
    assert Box.parse("10, 20, 100, 50").crop(photo).size == (100, 50)
    assert Box.parse("200,100,100,100").crop(photo).size == (100, 100)  # up to the edges
    with pytest.raises(RetrievalError, match="reaches beyond the photo, which is 300x200"):
        Box.parse("201,100,100,100").crop(photo)


def test_a_dragged_box_is_scaled_to_photo_pixels_clamped_and_a_click_is_no_box():
    assert Box.from_corners((50, 40, 10, 10), 2.0, (300, 200)) == Box(20, 20, 80, 60)  # corners in any order
    assert Box.from_corners((-5, -5, 500, 500), 1.0, (300, 200)) == Box(0, 0, 300, 200)
    assert Box.from_corners((10, 10, 12, 40), 1.0, (300, 200)) is None


def hit(name: str, score: float) -> Hit:
    return Hit(str(DEMO_IMAGES / name), name, score)


def test_the_nothing_close_line_shows_only_when_every_result_is_under_the_threshold_but_the_query_itself():
    assert nothing_close_line([hit("a.jpg", NOTHING_CLOSE)]) is None
    line = nothing_close_line([hit("a.jpg", NOTHING_CLOSE - 0.01)])
    assert line and line.startswith("Nothing in the catalogue looks much like this photo")
    # the default search's order is not the scores': any result at the threshold is close enough
    assert nothing_close_line([hit("a.jpg", NOTHING_CLOSE - 0.1), hit("b.jpg", NOTHING_CLOSE)]) is None
    own = hit("own.jpg", 1.0)
    assert nothing_close_line([own, hit("b.jpg", 0.3)], leave_out=own.path) is not None


def test_a_minimum_score_keeps_the_results_at_or_above_it_in_their_order():
    hits = [hit("a.jpg", 0.7), hit("b.jpg", 0.9), hit("c.jpg", 0.5), hit("d.jpg", 0.8)]
    assert [h.name for h in reaching(hits, 0.8)] == ["b.jpg", "d.jpg"]
    assert reaching(hits, -1.0) == hits and reaching(hits, 0.95) == []


def test_the_thumbnail_graph_has_at_most_50_nodes_the_query_first_and_edges_weighted_by_score(tmp_path):
    photos = sorted(DEMO_IMAGES.glob("*.jpg"))
    hits = [Hit(str(p), p.name, 0.99 - i / 100) for i, p in enumerate(photos)] * 2  # 60 hits
    hits = [Hit(f"{h.path}?{i}" if i >= len(photos) else h.path, h.name, h.score) for i, h in enumerate(hits)]
    links = [(hits[0].path, hits[1].path, 0.9), (hits[1].path, hits[0].path, 0.9)]
    query = query_node("<b>q</b>.jpg", None, tmp_path, jpeg=b"\xff\xd8", roots=None)
    graph = thumbnail_graph(query, hits, links, tmp_path, roots=None)
    assert len(graph.nodes) == MAX_NODES and graph.nodes[0].query and graph.nodes[0].title == "query: <b>q</b>.jpg"  # text
    assert graph.nodes[1].image and graph.nodes[1].image.startswith("data:image/jpeg;base64,")
    assert graph.nodes[-1].image is None  # no such file: a plain node
    to_query = [e for e in graph.edges if e.to_query]
    assert len(to_query) == MAX_NODES - 1 and to_query[0].width > to_query[-1].width
    assert [(e.source, e.target) for e in graph.edges if not e.to_query] == [(hits[0].path, hits[1].path)]  # once
