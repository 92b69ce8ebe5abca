"""Near-duplicate groups: images joined by SIMILAR_TO links scoring at least a threshold, taken as
connected components (Neo4j Community has no Graph Data Science library, so networkx does it).

A re-encoded, resized, cropped or mirrored copy of a photo scores far above two different photos
of the same thing; DEFAULT_THRESHOLD was chosen on such copies of ../shared/bench photos mixed
with the originals (docs/QUALITY.md has the precision and recall at each threshold).
"""

from __future__ import annotations

from dataclasses import dataclass

from retrieval.neo4j.store import ImageStore
from retrieval.vision.models import ModelSpec

DEFAULT_THRESHOLD = 0.89


@dataclass(frozen=True)
class DuplicateGroup:
    paths: list[str]  # sorted
    links: list[tuple[str, str, float]]  # the links that join them, best first

    @property
    def best_score(self) -> float:
        return self.links[0][2]

    @property
    def lowest_score(self) -> float:
        return self.links[-1][2]

    def best_match(self, path: str) -> float:
        """The highest score of the links that join `path` to the rest of its group."""
        return max(score for a, b, score in self.links if path in (a, b))


def duplicate_groups(store: ImageStore, spec: ModelSpec, threshold: float = DEFAULT_THRESHOLD) -> list[DuplicateGroup]:
    """Groups of two or more images, largest first (then by best score)."""
    import networkx as nx  # here, not at the top: its import is slow, and only this needs it

    graph: nx.Graph[str] = nx.Graph()
    for a, b, score in store.similar_pairs(spec.space, threshold):
        if score > graph.get_edge_data(a, b, {"score": -1.0})["score"]:
            graph.add_edge(a, b, score=score)
    groups = []
    for component in nx.connected_components(graph):
        edges: list[tuple[str, str, float]] = sorted(graph.subgraph(component).edges(data="score"), key=lambda e: -e[2])
        groups.append(DuplicateGroup(sorted(component), [(a, b, s) for a, b, s in edges]))
    return sorted(groups, key=lambda g: (-len(g.paths), -g.best_score, g.paths[0]))
