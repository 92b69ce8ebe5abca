"""The bench's ranking figures computed exactly, leave-one-out over vectors in memory, as the default
search ranks (query expansion, then its candidates re-ranked by neighbourhood) or by plain cosine."""

from __future__ import annotations

import numpy as np

from retrieval.core.blending import blend
from retrieval.core.metrics import average_precision, precision_at
from retrieval.core.rerank import NEIGHBOURS, ranked_rows


def scores(
    queries: np.ndarray,
    database: np.ndarray,
    labels: np.ndarray,
    candidates: int = 0,
    rows: np.ndarray | None = None,
    *,
    at: np.ndarray | None = None,
) -> tuple[float, float, float]:
    """Exact leave-one-out mAP, P@1, P@10: each query row ranks `database` (by dot product, or as the
    default search does with `candidates`, re-ranking `rows` when given), its own row left out (the
    query's own row is its position, or `at`'s entry for it)."""
    aps, p1, p10 = [], [], []
    for i, query in zip(np.arange(len(queries)) if at is None else at, queries, strict=True):
        order = (
            ranked_rows(database if rows is None else rows, query, candidates)
            if candidates
            else np.argsort(-(database @ query), kind="stable")
        )
        ranking = list(labels[order[order != i]] == labels[i])
        aps.append(average_precision(ranking, int((labels == labels[i]).sum()) - 1))
        p1.append(precision_at(ranking, 1))
        p10.append(precision_at(ranking, 10))
    return float(np.mean(aps)), float(np.mean(p1)), float(np.mean(p10))


def with_neighbours(queries: np.ndarray, collection: np.ndarray, at: np.ndarray | None = None) -> np.ndarray:
    """Each row blended with its NEIGHBOURS nearest other rows of `collection` (itself, at its position
    or at `at`'s entry for it, left out)."""
    similarity = queries @ collection.T
    similarity[np.arange(len(queries)), np.arange(len(queries)) if at is None else at] = -np.inf
    nearest = np.argsort(-similarity, axis=1)[:, :NEIGHBOURS]
    return np.stack(
        [blend(queries[i], [(collection[j], float(similarity[i, j])) for j in nearest[i]]) for i in range(len(queries))]
    )
