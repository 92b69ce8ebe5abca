"""The neighbourhood picture: the query joined to every result, and each link between two shown
results drawn once, however many directions it was stored in."""

from __future__ import annotations

from retrieval.graph_view import neighbourhood_graph
from retrieval.neo4j.images import Hit


def test_the_picture_joins_the_query_to_each_result_and_draws_links_between_results_once():
    hits = [Hit("/a.jpg", "a.jpg", 0.91), Hit("/b.jpg", "b.jpg", 0.85), Hit('/c "quoted".jpg', 'c "quoted".jpg', 0.8)]
    links = [("/a.jpg", "/b.jpg", 0.88), ("/b.jpg", "/a.jpg", 0.88), ("/a.jpg", "/elsewhere.jpg", 0.9)]
    dot = neighbourhood_graph("photo.jpg", hits, links).source
    assert dot.count("query --") == 3 and "label=0.91" in dot
    assert dot.count("style=dashed") == 1 and "elsewhere" not in dot  # one a-b line; links to unshown images left out
    assert '\\"quoted\\"' in dot  # names are quoted for DOT, not pasted raw
