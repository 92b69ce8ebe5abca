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
    """Per candidate row r_i, the cosine between `query` and r_i blended with its `neighbours` nearest
    other candidates r_j, each weighted by w_ij = max(cos, 0)**WEIGHT_POWER, as `blend` does.

    Computed from dot products alone, in float32, without forming the blended vectors:
    q.(r_i + sum_j w_ij r_j) = p_i + (W p)_i with p = R q, and |r_i + sum_j w_ij r_j|^2 =
    S_ii + 2 (W*S)_i. + (W*(W S))_i. with S = R R^T, the row sums of elementwise products."""
    rows = candidates.astype(np.float32, copy=False)
    toward = rows @ query.astype(np.float32)
    similar = rows @ rows.T
    own = similar.diagonal().copy()
    weights = np.zeros_like(similar)
    if (k := min(neighbours, len(rows) - 1)) > 0:
        np.fill_diagonal(similar, -np.inf)
        nearest = np.argpartition(-similar, k - 1, axis=1)[:, :k]
        np.fill_diagonal(similar, own)
        np.put_along_axis(weights, nearest, np.maximum(np.take_along_axis(similar, nearest, axis=1), 0.0) ** WEIGHT_POWER, axis=1)
    length = np.sqrt(own + 2 * (weights * similar).sum(axis=1) + (weights * (weights @ similar)).sum(axis=1))
    scores: np.ndarray = (toward + weights @ toward) / length
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
