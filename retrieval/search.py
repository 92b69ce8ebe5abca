"""Find the stored images most similar to a picture, a file, or an image already in the store.

Scores: every result's score is the plain cosine between the query's vector and the image's own
stored vector (an identical photo scores 1.000), the scale the duplicate tiers are measured on, so a
person can read it (retrieval/duplicates.py, TIERS). The default search ranks by something else, the
cosine between the expanded query and each candidate blended with its neighbours among the
candidates (retrieval/core/rerank.py), which finds more of the same kind (docs/QUALITY.md) but
crowds every result near 1; so its order is that one, and the number beside each result is the
plain cosine, which need not fall down the list.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Unpack

import numpy as np
from PIL import Image

from retrieval.core.blending import blend
from retrieval.core.errors import RetrievalError
from retrieval.core.limits import checked_k
from retrieval.core.rerank import CANDIDATES, NEIGHBOURS, neighbourhood_scores
from retrieval.neo4j.images import Hit
from retrieval.neo4j.nearest import Candidates, Narrowing
from retrieval.neo4j.store import ImageStore
from retrieval.vision.decode import load_image
from retrieval.vision.models import ModelSpec

if TYPE_CHECKING:
    from retrieval.vision.embed import Embedder

# A stored image this close to the query by plain cosine is the same picture: it is shown first,
# with its plain score (1.000), whatever blending would make of it.
IDENTICAL = 0.9999


class SearchOptions(Narrowing, total=False):
    """The keywords every search takes: `plain` ranks by the plain cosine; `within` and `facts`
    narrow the images it may return (see `Narrowing`)."""

    plain: bool


def model_mismatch(store: ImageStore, spec: ModelSpec, fingerprint: str, former: Collection[str] = ()) -> str | None:
    """A warning when the stored vectors were made by another version of the model (other weights or
    preprocessing) than the one searching with `fingerprint`; None when they match, or when the
    stored fingerprint is one of `former`, the previous release's names of the same model (upgrade.py)."""
    stored = store.fingerprint(spec.space)
    if stored is None or stored == fingerprint or stored in former:
        return None
    return (
        f"The stored {spec.name} vectors were made by another version of the model (fingerprint {stored}, here "
        f"{fingerprint}): results may be off until you run `python -m retrieval index FOLDER --reembed`."
    )


def search_vector(
    store: ImageStore,
    spec: ModelSpec,
    vector: np.ndarray,
    k: int = 10,
    *,
    plain: bool = False,
    exclude: str | None = None,
    **narrowing: Unpack[Narrowing],
) -> list[Hit]:
    """The k best matches of a query vector, each scored by the plain cosine of its own vector to
    `vector`. By default the query is expanded with its NEIGHBOURS nearest images, and the expanded
    query's CANDIDATES best images are ranked by their neighbourhood among themselves (see
    retrieval/core/rerank.py); the same picture as the query (plain cosine >= IDENTICAL) comes first.
    `plain` ranks by the plain cosine. `exclude` leaves
    an image out of the expansion (the query's own node). `within` keeps only images of part of the
    user's catalogue and `facts` only photos whose own facts pass (the expansion uses the whole
    collection). Reads only: a search never writes."""
    checked_k(k)
    if plain:
        return store.nearest(spec.space, vector, k, **narrowing)
    nearest = store.neighbourhood(spec.space, vector, NEIGHBOURS + 1)
    filtered = any(v is not None for v in narrowing.values())
    same = [
        h
        for h in (store.nearest(spec.space, vector, NEIGHBOURS + 1, **narrowing) if filtered else nearest.hits)
        if h.score >= IDENTICAL
    ]
    query = expanded(vector, nearest, exclude)
    ranked = reranked(store, spec, query, vector, max(CANDIDATES, k), **narrowing)
    first = {h.path for h in same}
    return [*(replace(h, score=min(h.score, 1.0)) for h in same), *(h for h in ranked if h.path not in first)][:k]


def expanded(vector: np.ndarray, nearest: Candidates, exclude: str | None = None) -> np.ndarray:
    """`vector` blended with its NEIGHBOURS nearest images but `exclude` (query expansion)."""
    kept = [(row, hit.score) for row, hit in zip(nearest.vectors, nearest.hits, strict=True) if hit.path != exclude]
    return blend(vector, kept[:NEIGHBOURS])


def expanded_query(store: ImageStore, spec: ModelSpec, vector: np.ndarray, exclude: str | None = None) -> np.ndarray:
    """The default search's query for `vector` (see `expanded`)."""
    return expanded(vector, store.neighbourhood(spec.space, vector, NEIGHBOURS + 1), exclude)


def reranked(
    store: ImageStore,
    spec: ModelSpec,
    query: np.ndarray,
    scored_by: np.ndarray,
    candidates: int = CANDIDATES,
    **narrowing: Unpack[Narrowing],
) -> list[Hit]:
    """The expanded `query`'s `candidates` best images, ranked by their neighbourhood among themselves,
    each scored by the plain cosine of its own vector to `scored_by` (the query before expansion)."""
    found = store.neighbourhood(spec.space, query, candidates, rescored=False, **narrowing)
    return ranked_by_neighbourhood(found, query, scored_by)


def ranked_by_neighbourhood(candidates: Candidates, query: np.ndarray, scored_by: np.ndarray) -> list[Hit]:
    """The candidates, best first by the cosine of `query` to each blended with its neighbours among
    them; each scored by the cosine of its own vector (its float16 copy) to `scored_by`."""
    order = np.argsort(-neighbourhood_scores(query, candidates.vectors), kind="stable")
    plain = candidates.vectors @ scored_by.astype(np.float32)
    return [replace(candidates.hits[i], score=float(plain[i])) for i in order]


def search_image(
    store: ImageStore,
    embedder: Embedder,
    image: Image.Image,
    k: int = 10,
    **options: Unpack[SearchOptions],
) -> list[Hit]:
    """The `k` indexed images most like `image` (a decoded photo), best first; `within` keeps only
    images attached to catalogue nodes that match it, `facts` only images whose photo facts pass it."""
    return search_vector(store, embedder.spec, embedder.embed([image])[0], k, **options)


def search_file(
    store: ImageStore,
    embedder: Embedder,
    path: Path,
    k: int = 10,
    **options: Unpack[SearchOptions],
) -> list[Hit]:
    """`search_image` for the photo in the file at `path` (decoded with the same checks as indexing)."""
    return search_image(store, embedder, load_image(path), k, **options)


def search_indexed(
    store: ImageStore,
    spec: ModelSpec,
    path: str,
    k: int = 10,
    **options: Unpack[SearchOptions],
) -> list[Hit]:
    """Neighbours of an image already stored, from its stored vector: no decoding, no model."""
    checked_k(k)  # before any query
    vector = store.vector_of(spec.space, path)
    if vector is None:
        raise RetrievalError(f"{path} has no {spec.name} vector in the database; index its folder first.")
    return search_vector(store, spec, vector, k, exclude=path, **options)
