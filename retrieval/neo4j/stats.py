"""What the admin tab and `stats` show: images stored, the state of each space's vector index, its
vectors by the precision they were computed in, and the latest evaluation figures."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from retrieval.core.spaces import VectorSpace
from retrieval.neo4j.images import COUNT_IMAGES, Images
from retrieval.neo4j.schema import Schema

# Evaluation figures (see evaluate.py) are kept in the database the app reads, flattened to properties.
SAVE_EVALUATION = "CREATE (e:Evaluation) SET e = $row, e.at = datetime()"

LATEST_EVALUATION = "MATCH (e:Evaluation) RETURN e {.*, at: toString(e.at)} AS row ORDER BY e.at DESC LIMIT 1"

# Each vector's precision (images.py); one scan, as counting the vectors alone would be.
PRECISION_COUNTS = (
    "MATCH (node:`{label}`) WHERE node.`{prop}` IS NOT NULL RETURN node.`{precision}` AS precision, count(node) AS n"
)

# The precision of the vectors written before images recorded theirs (upgrade.py), if known.
PRECISION_BEFORE = "MATCH (s:VectorSpace {index: $index}) RETURN s.precision_before AS precision"

UNRECORDED = "not recorded"


@dataclass(frozen=True)
class IndexState:
    model: str
    index_name: str
    state: str  # ONLINE, POPULATING, FAILED, or MISSING when not created yet
    population_percent: float
    vectors: int
    precisions: dict[str, int]  # vectors by the precision they were computed in (f32, bf16)

    @property
    def by_precision(self) -> str:
        """The vectors by precision as a user reads them, e.g. `150 bf16, 150 f32`."""
        return ", ".join(f"{n} {precision}" for precision, n in self.precisions.items())


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
        """Images stored, and per model the state of its vector index and its vectors by precision."""
        indexes = []
        for space in spaces:
            row = self._index_row(space)
            precisions = self.precision_counts(space)
            indexes.append(
                IndexState(
                    model=str(space),
                    index_name=self.index_name(space),
                    state=row["state"] if row else "MISSING",
                    population_percent=float(row["population"]) if row else 0.0,
                    vectors=sum(precisions.values()),
                    precisions=precisions,
                )
            )
        return StoreStats(images=self._query(COUNT_IMAGES)[0]["n"], indexes=indexes)

    def precision_counts(self, space: VectorSpace) -> dict[str, int]:
        """`space`'s vectors by the precision they were computed in, most first; those written before
        images recorded it count under the precision the previous release's fingerprint named."""
        names = {"prop": space.vector_property, "precision": space.precision_property}
        counts: Counter[str] = Counter()
        for row in self._query(PRECISION_COUNTS, names):
            if (precision := row["precision"]) is None:
                before = self._query(PRECISION_BEFORE, index=self.index_name(space))
                precision = (before[0]["precision"] if before else None) or UNRECORDED
            counts[precision] += row["n"]
        return dict(counts.most_common())
