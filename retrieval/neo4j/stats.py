"""What the admin tab and `stats` show: images stored, the state of each space's vector index, and
the latest evaluation figures."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from retrieval.core.spaces import VectorSpace
from retrieval.neo4j.images import COUNT_IMAGES, Images
from retrieval.neo4j.schema import Schema

# Evaluation figures (see evaluate.py) are kept in the database the app reads, flattened to properties.
SAVE_EVALUATION = "CREATE (e:Evaluation) SET e = $row, e.at = datetime()"

LATEST_EVALUATION = "MATCH (e:Evaluation) RETURN e {.*, at: toString(e.at)} AS row ORDER BY e.at DESC LIMIT 1"


@dataclass(frozen=True)
class IndexState:
    model: str
    index_name: str
    state: str  # ONLINE, POPULATING, FAILED, or MISSING when not created yet
    population_percent: float
    vectors: int


@dataclass(frozen=True)
class StoreStats:
    images: int
    indexes: list[IndexState]


class Stats(Schema, Images):
    """Counts and index states."""

    def save_evaluation(self, figures: dict[str, str | int | float]) -> None:
        self._write(SAVE_EVALUATION, row=figures)

    def latest_evaluation(self) -> dict[str, str | int | float] | None:
        rows = self._query(LATEST_EVALUATION)
        return rows[0]["row"] if rows else None

    def stats(self, spaces: Iterable[VectorSpace]) -> StoreStats:
        """Images stored, and per model the state of its vector index."""
        indexes = []
        for space in spaces:
            row = self._index_row(space)
            vectors = self.count_vectors(space)
            indexes.append(
                IndexState(
                    model=str(space),
                    index_name=self.index_name(space),
                    state=row["state"] if row else "MISSING",
                    population_percent=float(row["population"]) if row else 0.0,
                    vectors=vectors,
                )
            )
        return StoreStats(images=self._query(COUNT_IMAGES)[0]["n"], indexes=indexes)
