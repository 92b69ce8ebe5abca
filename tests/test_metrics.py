"""The retrieval metrics on hand-made rankings whose values are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.core.metrics import average_precision, exact_ranking, precision_at, recall_at

T, F = True, False


def test_average_precision_averages_precision_at_each_hit_over_all_relevant_items():
    # hits at ranks 1 and 3; a third relevant item is never found: (1/1 + 2/3 + 0) / 3
    assert average_precision([T, F, T, F, F], relevant_total=3) == pytest.approx((1 + 2 / 3) / 3)


def test_average_precision_is_one_for_a_perfect_ranking_and_lower_when_reversed():
    assert average_precision([T, T, F, F], relevant_total=2) == 1.0
    assert average_precision([F, F, T, T], relevant_total=2) == pytest.approx((1 / 3 + 2 / 4) / 2)


def test_average_precision_of_a_query_with_nothing_relevant_is_zero():
    assert average_precision([F, F], relevant_total=0) == 0.0


def test_precision_at_k_counts_hits_in_the_top_k_and_gaps_as_misses():
    assert precision_at([T, F, T, F, F], 1) == 1.0
    assert precision_at([T, F, T, F, F], 5) == pytest.approx(0.4)
    assert precision_at([T, T], 10) == pytest.approx(0.2)


def test_recall_at_k_is_the_share_of_all_relevant_items_in_the_top_k():
    assert recall_at([T, F, T, F, F], 1, relevant_total=4) == pytest.approx(0.25)
    assert recall_at([T, F, T, F, F], 5, relevant_total=4) == pytest.approx(0.5)
    assert recall_at([F, F], 2, relevant_total=0) == 0.0


def test_exact_ranking_leaves_the_query_out_and_orders_the_rest_by_similarity_ties_in_row_order():
    database = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.9, 0.1]])
    labels = np.array(["a", "a", "b", "b"])
    assert exact_ranking(database, labels, database[0], 0) == [True, False, False]  # rows 1, 3 (tie: row order), 2
    assert exact_ranking(database, labels, database[2], 2) == [False, True, False]  # rows 1, 3 (tie), 0


def test_exact_ranking_of_a_query_not_among_the_rows_is_judged_by_the_querys_own_label():
    database = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.9, 0.1]])
    labels = np.array(["a", "a", "b", "b"])  # the last row's label, "b", must not stand in for the query's
    assert exact_ranking(database, labels, np.array([1.0, 0.0]), None, "a") == [True, True, False, False]
