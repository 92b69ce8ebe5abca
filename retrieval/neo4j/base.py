"""What every part of the store shares: a driver the caller owns, the node label, and Cypher
templates run as reads or writes.

Every value is a query parameter. Names are not values: labels, index and property names (from a
`VectorSpace`, or from the user for their catalogue) are checked against a strict pattern before
they are written into a statement.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
from neo4j import Driver, ManagedTransaction, RoutingControl, SummaryCounters

from retrieval.core.errors import RetrievalError
from retrieval.core.spaces import VectorSpace
from retrieval.neo4j.dialect import Dialect, dialect_of
from retrieval.neo4j.errors import DriverServer, Server, driver_errors

# Templates: `{label}`, `{index}`, `{prop}` and `{constraint}` are filled with checked identifiers
# (see `checked_identifier`); everything else is a parameter. A vector property is named in the
# text (`i.`{prop}``), not looked up by a parameter (`i[$prop]`): Neo4j then tests its existence
# without reading the vector, which is much faster (docs/BENCHMARKS.md, "Figures behind rules in the code").
IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")

# A name to fill in a template: `{label}`, never Cypher's own braces (`{path: path}`, `EXISTS { ... }`).
PLACEHOLDER = re.compile(r"\{(\w+)\}")

# The candidate steps a template may name, by the query vector's expression each (see `Dialect.candidates`).
CANDIDATE_STEPS = {"candidates": "$vector", "own_candidates": "i.`{prop}`"}

DEFAULT_LABEL = "Image"


class Floats(list[float]):
    """A vector as a query parameter: a plain list of floats with a short repr. The driver (6.4.1)
    builds the text of a debug log line from the repr of every parameter even when debug logging
    is off, which took most of a batch's write time (docs/BENCHMARKS.md); this repr costs nothing."""

    def __repr__(self) -> str:
        return f"<{len(self)} floats>"


Row = dict[str, Any]  # one record of a result, by column name


def parameter(vector: np.ndarray) -> Floats:
    return Floats(vector.astype(np.float32).tolist())


def checked_identifier(identifier: str) -> str:
    if not IDENTIFIER.match(identifier):
        raise RetrievalError(f"{identifier!r} is not a safe Neo4j identifier (letters, digits, underscore).")
    return identifier


def fill(template: str, values: Mapping[str, str]) -> str:
    """`template` with each `{name}` replaced by its value; a name without one is a mistake, refused."""

    def value(match: re.Match[str]) -> str:
        if (found := values.get(match[1])) is None:
            raise RetrievalError(f"The Cypher template names {{{match[1]}}}, which nothing fills.")
        return found

    return PLACEHOLDER.sub(value, template)


class StoreBase:
    """Reads and writes a label's nodes through a driver the caller owns.

    The nodes' label is `Image` unless another is given: the evaluation keeps its labelled photos
    under a label of their own, with their own constraint and vector indexes, so they never show up
    in a user's searches.

    Every statement runs inside `driver_errors`: whatever the driver raises (a server away, refused
    credentials, a query refused) reaches the caller as a `RetrievalError` naming `server` (the
    settings it was opened with, else the driver's address).
    """

    def __init__(
        self, driver: Driver, database: str | None = None, label: str = DEFAULT_LABEL, *, server: Server | None = None
    ) -> None:
        self.driver = driver
        self.database = database
        self.server = server or DriverServer.of(driver)
        self.label = checked_identifier(label)
        self._names = {"label": self.label, "constraint": f"{self.label.lower()}_path_unique"}

    def index_name(self, space: VectorSpace) -> str:
        """The vector index of `space`'s vectors on this store's label, e.g. image_efficientnet_lite0."""
        return checked_identifier(f"{self.label.lower()}_{space.slug}")

    @property
    def dialect(self) -> Dialect:
        with driver_errors(self.server, "asking the server's version"):
            return dialect_of(self.driver, self.database)

    def _cypher(self, template: str, names: Mapping[str, str] | None) -> str:
        """`template` with its `{name}`s filled in one step: checked identifiers, and the candidate
        steps it names (`{candidates}`, `{own_candidates}`) as the server's dialect says them."""
        checked = {**self._names, **{name: checked_identifier(value) for name, value in (names or {}).items()}}
        dialect = self.dialect
        steps = {
            step: fill(dialect.candidates(query), checked)
            for step, query in CANDIDATE_STEPS.items()
            if "{" + step + "}" in template
        }
        return dialect.prefix + fill(template, {**checked, **steps})

    def _query(self, template: str, names: Mapping[str, str] | None = None, /, **params: Any) -> list[Row]:
        """Run a Cypher template in a read transaction and return its rows: `{label}` is this store's
        label, other `{names}` must be plain identifiers (checked here), and everything else is a
        parameter. The server refuses any write in a read transaction, so a read path cannot write."""
        query = self._cypher(template, names)
        with driver_errors(self.server, "reading"):
            records, _, _ = self.driver.execute_query(query, params, database_=self.database, routing_=RoutingControl.READ)
        # Not Record.data(): it walks every value in Python, milliseconds per vector (docs/BENCHMARKS.md).
        return [dict(zip(r.keys(), r.values(), strict=True)) for r in records]

    def _write(
        self, template: str, names: Mapping[str, str] | None = None, /, **params: Any
    ) -> tuple[list[Row], SummaryCounters]:
        """Like `_query`, in one write transaction (retried by the driver on a transient failure), and
        with the counters of what it changed."""
        query = self._cypher(template, names)

        def work(tx: ManagedTransaction) -> tuple[list[Row], SummaryCounters]:
            result = tx.run(query, params)
            rows = [dict(zip(r.keys(), r.values(), strict=True)) for r in result]
            return rows, result.consume().counters

        with driver_errors(self.server, "writing"), self.driver.session(database=self.database) as session:
            return session.execute_write(work)

    def _made_from(self, space: VectorSpace) -> dict[str, str]:
        return {"prop": space.vector_property, "made_from": f"{space.vector_property}_sha256"}

    def _search_names(self, space: VectorSpace) -> dict[str, str]:
        """The names a candidate step needs: the vector property, its compact copy and (for the SEARCH
        clause) the index."""
        return {**self._made_from(space), "compact": space.compact_property, "index": self.index_name(space)}

    def _link_names(self, space: VectorSpace) -> dict[str, str]:
        """The names of the similarity lists' statements: the vector's and, in `linked`, the content
        hash the image's own SIMILAR_TO list was made from, in `listed_at` when that list was read, in
        `short` the k a list holding fewer was read for (links.py)."""
        return {
            **self._search_names(space),
            "linked": space.linked_property,
            "listed_at": f"{space.linked_property}_at",
            "short": f"{space.linked_property}_short",
        }
