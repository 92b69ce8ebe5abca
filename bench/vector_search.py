"""The app's two rankings, done exactly in numpy over the bench photos' vectors, for benchmarks that
try many queries (sets of examples, regions, thresholds) faster than through Neo4j: plain cosine,
and the default (the query expanded with its 10 nearest, cos^3 weights, then its best candidates
re-ranked by their neighbourhood among themselves, as search.py and core/rerank.py do it); and the top k
as the app shows them, each scored by its plain cosine to the query."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retrieval.core.blending import WEIGHT_POWER
from retrieval.core.metrics import average_precision, precision_at
from retrieval.core.rerank import CANDIDATES, NEIGHBOURS, neighbourhood_scores, ranked_rows


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


def expand(queries: np.ndarray, collection: np.ndarray, left_out: Sequence[Sequence[int]] = ()) -> np.ndarray:
    """Each query row blended with its NEIGHBOURS nearest collection rows, its `left_out[i]` rows not counted."""
    similarity = queries @ collection.T
    for i, rows in enumerate(left_out):
        similarity[i, list(rows)] = -np.inf
    nearest = np.argpartition(-similarity, NEIGHBOURS, axis=1)[:, :NEIGHBOURS]
    weights = np.maximum(np.take_along_axis(similarity, nearest, axis=1), 0) ** WEIGHT_POWER
    return _unit(queries + np.einsum("qn,qnd->qd", weights, collection[nearest]))


def scores(
    queries: np.ndarray, database: np.ndarray, labels: np.ndarray, wanted: Sequence[str], left_out: Sequence[Sequence[int]]
) -> tuple[float, float]:
    """mAP and P@10 of ranking `database` by dot product with each query row, relevant = label
    `wanted[i]`, rows `left_out[i]` not ranked."""
    similarity = queries @ database.T
    aps, p10 = [], []
    for i, row in enumerate(similarity):
        row[list(left_out[i])] = -np.inf
        order = np.argsort(-row, kind="stable")[: len(row) - len(left_out[i])]
        ranking = list(labels[order] == wanted[i])
        aps.append(average_precision(ranking, sum(ranking)))
        p10.append(precision_at(ranking, 10))
    return float(np.mean(aps)), float(np.mean(p10))


def default_scores(
    queries: np.ndarray, database: np.ndarray, labels: np.ndarray, wanted: Sequence[str], left_out: Sequence[Sequence[int]]
) -> tuple[float, float]:
    """As `scores`, for expanded queries ranked as the default search ranks them: each query's
    CANDIDATES best rows by dot product re-ranked by their neighbourhood, then the rest."""
    aps, p10 = [], []
    for i, query in enumerate(queries):
        order = np.argsort(-(database @ query), kind="stable")
        near = neighbourhood_scores(query, database[order[:CANDIDATES]])
        ranked = np.argsort(-near, kind="stable")
        order[: len(near)] = order[: len(near)][ranked]
        kept = ~np.isin(order, list(left_out[i]))
        ranking = list(labels[order[kept]] == wanted[i])
        aps.append(average_precision(ranking, sum(ranking)))
        p10.append(precision_at(ranking, 10))
    return float(np.mean(aps)), float(np.mean(p10))


def shown_top(
    queries: np.ndarray, database: np.ndarray, left_out: Sequence[Sequence[int]], k: int, *, expanded: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Each query's top k rows as the app shows them, and their scores: ranked as the default search
    ranks them for the `expanded` queries (CANDIDATES re-ranked), or with None by plain cosine; rows
    `left_out[i]` not counted; each scored by its plain cosine to `queries[i]`, as the app shows it."""
    ranked_by, candidates = (queries, 0) if expanded is None else (expanded, CANDIDATES)
    rows = []
    for by, left in zip(ranked_by, left_out, strict=True):
        ranked = ranked_rows(database, by, candidates)
        rows.append(ranked[~np.isin(ranked, list(left))][:k])
    top = np.stack(rows)
    return top, np.einsum("qkd,qd->qk", database[top], queries)
