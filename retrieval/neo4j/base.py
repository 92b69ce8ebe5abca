"""What every part of the store shares: a driver the caller owns, the node label, and Cypher
templates run as reads, writes or reads inside a write, under the vector spaces' locks.

Every value is a query parameter. Names are not values: labels, index and property names (from a
`VectorSpace`, or from the user for their catalogue) are checked against a strict pattern before
they are written into a statement.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np
from neo4j import Driver, ManagedTransaction, RoutingControl, SummaryCounters
from neo4j.exceptions import ClientError, DatabaseError, TransientError

from retrieval.core.errors import QueryFailed, RetrievalError
from retrieval.core.spaces import VectorSpace
from retrieval.neo4j.dialect import Dialect, dialect_of

# Templates: `{label}`, `{index}`, `{prop}` and `{constraint}` are filled with checked identifiers
# (see `checked_identifier`); everything else is a parameter. A vector property is named in the
# text (`i.`{prop}``), not looked up by a parameter (`i[$prop]`): Neo4j then tests its existence
# without reading the vector, which is much faster (docs/BENCHMARKS.md, "Figures behind rules in the code").
IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")

DEFAULT_LABEL = "Image"

# Every write to a vector space (a model's vectors, its links and blended vectors, or removing
# images) first locks the space's node, in the same transaction. Writes to one space are then
# serialised across every process and machine, so each sees all that committed before it: the
# links a run computes under the lock are exact for the images committed so far, and a run that
# adds images re-checks the lists they enter under the lock too (docs/RELIABILITY.md).
LOCK_SPACES = "UNWIND $indexes AS index MERGE (s:VectorSpace {{index: index}}) SET s.written_at = datetime()"


class Floats(list[float]):
    """A vector as a query parameter: a plain list of floats with a short repr. The driver (6.4.1)
    builds the text of a debug log line from the repr of every parameter even when debug logging
    is off, which took most of a batch's write time (docs/BENCHMARKS.md); this repr costs nothing."""

    def __repr__(self) -> str:
        return f"<{len(self)} floats>"


T = TypeVar("T")
Row = dict[str, Any]  # one record of a result, by column name


def parameter(vector: np.ndarray) -> Floats:
    return Floats(vector.astype(np.float32).tolist())


def checked_identifier(identifier: str) -> str:
    if not IDENTIFIER.match(identifier):
        raise RetrievalError(f"{identifier!r} is not a safe Neo4j identifier (letters, digits, underscore).")
    return identifier


class StoreBase:
    """Reads and writes a label's nodes through a driver the caller owns.

    The nodes' label is `Image` unless another is given: the evaluation keeps its labelled photos
    under a label of their own, with their own constraint and vector indexes, so they never show up
    in a user's searches.
    """

    def __init__(self, driver: Driver, database: str | None = None, label: str = DEFAULT_LABEL) -> None:
        self.driver = driver
        self.database = database
        self.label = checked_identifier(label)
        self._names = {"label": self.label, "constraint": f"{self.label.lower()}_path_unique"}

    def index_name(self, space: VectorSpace) -> str:
        """The vector index of `space`'s vectors on this store's label, e.g. image_efficientnet_lite0."""
        return checked_identifier(f"{self.label.lower()}_{space.slug}")

    @property
    def dialect(self) -> Dialect:
        return dialect_of(self.driver, self.database)

    def _cypher(self, template: str, names: Mapping[str, str] | None) -> str:
        checked = {name: checked_identifier(value) for name, value in (names or {}).items()}
        dialect = self.dialect
        template = template.replace("{candidates}", dialect.candidates("$vector"))
        template = template.replace("{own_candidates}", dialect.candidates("i.`{prop}`"))
        return dialect.prefix + template.format(**self._names, **checked)

    def query(self, template: str, names: Mapping[str, str] | None = None, /, **params: Any) -> list[Row]:
        """Run a Cypher template in a read transaction and return its rows: `{label}` is this store's
        label, other `{names}` must be plain identifiers (checked here), and everything else is a
        parameter. The server refuses any write in a read transaction, so a read path cannot write."""
        with _server_errors():
            records, _, _ = self.driver.execute_query(
                self._cypher(template, names), params, database_=self.database, routing_=RoutingControl.READ
            )
        # Not Record.data(): it walks every value in Python, milliseconds per vector (docs/BENCHMARKS.md).
        return [dict(zip(r.keys(), r.values(), strict=True)) for r in records]

    def write(
        self, template: str, names: Mapping[str, str] | None = None, /, *, locks: Sequence[str] = (), **params: Any
    ) -> tuple[list[Row], SummaryCounters]:
        """Like `query`, in one write transaction (retried by the driver on a transient failure), and
        with the counters of what it changed. `locks` names the vector spaces (index names) it changes:
        their nodes are locked first, so writes to a space are serialised (see LOCK_SPACES)."""
        query = self._cypher(template, names)

        def work(tx: ManagedTransaction) -> tuple[list[Row], SummaryCounters]:
            self._lock(tx, locks)
            result = tx.run(query, params)
            rows = [dict(zip(r.keys(), r.values(), strict=True)) for r in result]
            return rows, result.consume().counters

        return self._write_transaction(work)

    def _write_transaction(self, work: Callable[[ManagedTransaction], T]) -> T:
        with _server_errors(), self.driver.session(database=self.database) as session:
            return session.execute_write(work)

    def _lock(self, tx: ManagedTransaction, spaces: Iterable[str]) -> None:
        if spaces := sorted(set(spaces)):  # one order everywhere, so two writers never wait on each other in a cycle
            tx.run(self._cypher(LOCK_SPACES, None), indexes=spaces).consume()

    def _read(
        self, tx: ManagedTransaction | None, template: str, names: Mapping[str, str] | None = None, **params: Any
    ) -> list[Row]:
        """A read on its own (a read transaction), or inside the write transaction `tx`, where it sees what `tx` locked."""
        return self.query(template, names, **params) if tx is None else self._run(tx, template, names, **params)

    def _run(self, tx: ManagedTransaction, template: str, names: Mapping[str, str] | None = None, **params: Any) -> list[Row]:
        return [dict(zip(r.keys(), r.values(), strict=True)) for r in tx.run(self._cypher(template, names), params)]

    def _made_from(self, space: VectorSpace) -> dict[str, str]:
        return {"prop": space.vector_property, "made_from": f"{space.vector_property}_sha256"}

    def _search_names(self, space: VectorSpace) -> dict[str, str]:
        """The names a candidate step needs: the vector property and (for the SEARCH clause) the index."""
        return {"prop": space.vector_property, "index": self.index_name(space)}

    def _link_names(self, space: VectorSpace) -> dict[str, str]:
        return {
            **self._made_from(space),
            "linked": f"linked_{space.slug}",
            "linked_count": f"linked_{space.slug}_count",
            "linked_floor": f"linked_{space.slug}_floor",
            "blended": space.blended.vector_property,
            "blended_norm": f"{space.blended.vector_property}_norm",
        }


@contextmanager
def _server_errors() -> Iterator[None]:
    """An error the server raised (after the driver's own retries of transient ones) becomes one
    line for the user: what failed and what to do."""
    try:
        yield
    except (ClientError, DatabaseError, TransientError) as e:
        raise QueryFailed(e.code or type(e).__name__, e.message or str(e)) from e
