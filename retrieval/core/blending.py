"""Blending a vector with its neighbours' (database-side augmentation and query expansion), as
pure arithmetic, so that the store can update a blended vector in place when a list changes.

A blended vector is the unit-length form of `vector + sum(weight(cos_i) * neighbour_i)`. The store
keeps that sum's length beside the unit vector, so a list that gains or loses a few neighbours is
re-blended from the vectors that changed, not from all of them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

WEIGHT_POWER = 3  # a neighbour counts with its cosine to this power, so close ones dominate


def weight(score: float, power: int = WEIGHT_POWER) -> float:
    return max(score, 0.0) ** power


def blend_sum(vector: np.ndarray, neighbours: Iterable[tuple[np.ndarray, float]], power: int = WEIGHT_POWER) -> np.ndarray:
    """`vector` plus its neighbours' vectors weighted by `weight`, in float64, not normalised."""
    mixed = vector.astype(np.float64).copy()
    for other, score in neighbours:
        mixed += weight(score, power) * other
    return mixed


def blend(vector: np.ndarray, neighbours: Sequence[tuple[np.ndarray, float]], power: int = WEIGHT_POWER) -> np.ndarray:
    """`vector` plus its neighbours' vectors weighted by max(cosine, 0)**power, back to unit length."""
    mixed = blend_sum(vector, neighbours, power)
    unit: np.ndarray = (mixed / np.linalg.norm(mixed)).astype(np.float32)
    return unit
