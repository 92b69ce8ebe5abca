"""Checks of the whole similarity graph against exact nearest neighbours, shared by the link and
concurrency tests."""

from __future__ import annotations

import pytest

from retrieval.neighbours import NEIGHBOURS
from retrieval.neo4j.store import ImageStore
from retrieval.vision.models import ModelSpec

LINKS = (
    "MATCH (a:Image)-[r:SIMILAR_TO {model: $model}]->(b:Image) "
    "RETURN a.path AS a, b.path AS b, r.score AS score ORDER BY r.score DESC, b.path"
)


def stored_links(store: ImageStore, spec: ModelSpec) -> dict[str, list[tuple[str, float]]]:
    links: dict[str, list[tuple[str, float]]] = {}
    for r in store.driver.execute_query(LINKS, model=spec.name).records:
        links.setdefault(r["a"], []).append((r["b"], r["score"]))
    return links


def assert_links_are_the_exact_nearest_neighbours(store: ImageStore, spec: ModelSpec) -> None:
    """Every image with a vector has exactly its NEIGHBOURS nearest others as links, once each, with their cosines."""
    vectors = store.vectors(spec.space)
    links = stored_links(store, spec)
    assert set(links) == set(vectors)
    for path, vector in vectors.items():
        exact = sorted(((float(vector @ v), p) for p, v in vectors.items() if p != path), reverse=True)[:NEIGHBOURS]
        assert len(links[path]) == NEIGHBOURS, path
        assert {p for p, _ in links[path]} == {p for _, p in exact}, path
        assert sorted(s for _, s in links[path]) == pytest.approx(sorted(s for s, _ in exact), abs=1e-5)
