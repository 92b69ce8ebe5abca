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
    assert set(stored_links(store, spec)) == set(vectors)
    assert_lists_are_exact_for(store, spec, list(vectors))


def assert_lists_are_exact_for(store: ImageStore, spec: ModelSpec, paths: list[str]) -> None:
    """The images at `paths` have exactly their NEIGHBOURS nearest others as links, once each, with their cosines."""
    vectors = store.vectors(spec.space)
    links = stored_links(store, spec)
    for path in paths:
        vector = vectors[path]
        exact = sorted(((float(vector @ v), p) for p, v in vectors.items() if p != path), reverse=True)[:NEIGHBOURS]
        assert len(links[path]) == NEIGHBOURS, path
        assert {p for p, _ in links[path]} == {p for _, p in exact}, path
        assert sorted(s for _, s in links[path]) == pytest.approx(sorted(s for s, _ in exact), abs=1e-5)


def assert_every_close_pair_is_linked(store: ImageStore, spec: ModelSpec) -> None:
    """Whatever order concurrent runs stored them in: every image has one list of NEIGHBOURS distinct
    others with their true cosines, and of two images each among the other's NEIGHBOURS nearest (as
    near-duplicates are), one lists the other: the later one's list was made after the earlier was stored."""
    vectors = store.vectors(spec.space)
    links = stored_links(store, spec)
    assert set(links) == set(vectors)
    nearest = {}
    for path, vector in vectors.items():
        assert len(links[path]) == len({p for p, _ in links[path]}) == NEIGHBOURS, (path, links[path])
        for other, score in links[path]:
            assert score == pytest.approx(float(vector @ vectors[other]), abs=1e-5)
        ranked = sorted(((float(vector @ v), p) for p, v in vectors.items() if p != path), reverse=True)[:NEIGHBOURS]
        nearest[path] = {p for _, p in ranked}
    listed = {path: {p for p, _ in found} for path, found in links.items()}
    for a, close in nearest.items():
        for b in close:
            if a in nearest[b]:
                assert b in listed[a] or a in listed[b], (a, b)
