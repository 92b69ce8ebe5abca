"""Blending a vector with its neighbours' (query expansion, and each candidate's neighbourhood in the
default search's re-ranking), as pure arithmetic.

A blended vector is the unit-length form of `vector + sum(weight(cos_i) * neighbour_i)`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

WEIGHT_POWER = 3  # a neighbour counts with its cosine to this power, so close ones dominate


def blend(vector: np.ndarray, neighbours: Sequence[tuple[np.ndarray, float]], power: int = WEIGHT_POWER) -> np.ndarray:
    """`vector` plus its neighbours' vectors weighted by max(cosine, 0)**power, back to unit length."""
    mixed = vector.astype(np.float64).copy()
    for other, score in neighbours:
        mixed += max(score, 0.0) ** power * other
    unit: np.ndarray = (mixed / np.linalg.norm(mixed)).astype(np.float32)
    return unit
