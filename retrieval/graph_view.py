"""A small picture of a search's neighbourhood in the similarity graph: the query joined to its
results by their scores, and the results' own SIMILAR_TO links among each other. Built with the
`graphviz` package as DOT, which Streamlit's graphviz chart draws in the browser."""

from __future__ import annotations

from collections.abc import Sequence

import graphviz

from retrieval.neo4j.images import Hit

QUERY_NODE = "query"


def neighbourhood_graph(query_name: str, hits: Sequence[Hit], links: Sequence[tuple[str, str, float]]) -> graphviz.Graph:
    graph = graphviz.Graph(
        graph_attr={"layout": "neato", "overlap": "false", "bgcolor": "transparent"},
        node_attr={"shape": "box", "style": "rounded,filled", "fillcolor": "#eef1f6", "fontname": "sans-serif", "fontsize": "10"},
        edge_attr={"fontname": "sans-serif", "fontsize": "9"},
    )
    graph.node(QUERY_NODE, f"query\n{query_name}", fillcolor="#ffd8a8")
    shown = {h.path for h in hits}
    for hit in hits:
        graph.node(hit.path, hit.name)
        length = 1.5 + 4 * (1 - max(hit.score, 0.0))  # closer results sit nearer the query
        graph.edge(QUERY_NODE, hit.path, label=f"{hit.score:.2f}", penwidth="2", len=f"{length:.2f}")
    drawn: set[frozenset[str]] = set()
    for a, b, score in links:
        pair = frozenset((a, b))
        if a != b and pair <= shown and pair not in drawn:
            drawn.add(pair)
            graph.edge(a, b, tooltip=f"{score:.2f}", style="dashed", color="#b4b9c2")  # unlabelled: they are many
    return graph
