"""Retrieval metrics for one query's ranking, as small pure functions.

A ranking is given as relevance flags, best first, with the query itself already left out;
`relevant_total` is how many relevant items exist in the whole collection, found or not.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retrieval.core.rerank import CANDIDATES, ranked_rows


def exact_ranking(
    database: np.ndarray, labels: np.ndarray, query: np.ndarray, row: int | None, label: object = None, *, rerank: bool = False
) -> list[bool]:
    """Leave-one-out exact search: whether each database row but `row` (the query's own; None when the
    query is not among them) has the query's label, `label` or else `row`'s, best first by dot
    product with `query` (ties in row order), or with `rerank` as the default search orders them (see
    rerank.py). The one implementation that the evaluation's `--exact` and the benches' exact figures share."""
    order = ranked_rows(database, query, CANDIDATES if rerank else 0)
    if row is not None:
        order = order[order != row]
    wanted = labels[row] if label is None else label
    return [bool(x) for x in labels[order] == wanted]


def average_precision(ranking: Sequence[bool], relevant_total: int) -> float:
    """Mean of the precision at each relevant item's rank, over all relevant items (missed ones count 0)."""
    if relevant_total <= 0:
        return 0.0
    found, total = 0, 0.0
    for rank, relevant in enumerate(ranking, 1):
        if relevant:
            found += 1
            total += found / rank
    return total / relevant_total


def precision_at(ranking: Sequence[bool], k: int) -> float:
    """Fraction of the top k that is relevant (a ranking shorter than k counts its gaps as misses)."""
    return sum(ranking[:k]) / k


def recall_at(ranking: Sequence[bool], k: int, relevant_total: int) -> float:
    """Fraction of all relevant items that are in the top k."""
    return sum(ranking[:k]) / relevant_total if relevant_total > 0 else 0.0
