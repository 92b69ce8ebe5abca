"""Ranking by the query's own neighbourhood, at search time (the re-ranking of SuperGlobal, Shao et al.,
ICCV 2023): the expanded query's best plain candidates, each blended with its nearest neighbours among
those same candidates, ranked by cosine to the expanded query. Nothing is stored for it, so indexing
pays nothing for the quality, and the cost is the candidates' (M x M), not the collection's.

Pure arithmetic on unit vectors, so it can be checked and measured without a database."""

from __future__ import annotations

import numpy as np

from retrieval.core.blending import WEIGHT_POWER

NEIGHBOURS = 10  # the neighbours blended into the query and into each candidate
# How many plain candidates of the expanded query are blended and re-ranked: the smallest that keeps
# the bench's mAP, P@1 and P@10 with the stored design's (docs/QUALITY.md, "Ranking at search time").
CANDIDATES = 300


def neighbourhood_scores(query: np.ndarray, candidates: np.ndarray, neighbours: int = NEIGHBOURS) -> np.ndarray:
    """Per candidate row, the cosine between `query` and the candidate blended with its `neighbours`
    nearest other candidates, each weighted by max(cosine, 0)**WEIGHT_POWER, as `blend` does."""
    count = len(candidates)
    if count == 0:
        return np.zeros(0, dtype=np.float32)
    rows = candidates.astype(np.float32, copy=False)
    k = min(neighbours, count - 1)
    mixed = rows.astype(np.float64)
    if k > 0:
        similar = rows @ rows.T
        np.fill_diagonal(similar, -np.inf)
        nearest = np.argpartition(-similar, k - 1, axis=1)[:, :k]
        weights = np.maximum(np.take_along_axis(similar, nearest, axis=1), 0.0).astype(np.float64) ** WEIGHT_POWER
        mixed += np.einsum("mk,mkd->md", weights, rows[nearest].astype(np.float64))
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    scores: np.ndarray = (mixed @ query.astype(np.float64)).astype(np.float32)
    return scores


def ranked_rows(matrix: np.ndarray, query: np.ndarray, candidates: int = CANDIDATES) -> np.ndarray:
    """Every row of `matrix` best first, as the default search ranks them (exactly, without an index):
    the `candidates` best by plain cosine to `query` in their neighbourhood order, then the rest by
    plain cosine. With `candidates` 0, the plain order."""
    order = np.argsort(-(matrix @ query), kind="stable")
    if candidates:
        top = order[:candidates]
        order[: len(top)] = top[np.argsort(-neighbourhood_scores(query, matrix[top]), kind="stable")]
    return order
