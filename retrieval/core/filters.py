"""A search's filter on the photos' own facts (those declared in core/facts.py: when they were taken,
the camera, ...) and on the folder they lie under. The CLI and the app read the same words into the
same `PhotoFilter`; retrieval/neo4j/nearest.py turns it into Cypher (inside the vector index where the
server can, else after it)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from retrieval.core.errors import RetrievalError
from retrieval.core.facts import FACTS, Fact


@dataclass(frozen=True)
class PhotoFilter:
    """Only photos lying below the folder `under` (an absolute path) and meeting each of `conditions`:
    a declared fact with what the user asked of it (a range of days, a name in any case)."""

    under: str | None = None
    conditions: tuple[tuple[Fact[Any], Any], ...] = ()

    @classmethod
    def of(cls, under: str | None = None, **words: str | None) -> PhotoFilter | None:
        """The filter the user's words say, as the CLI's `--under FOLDER` and one option per fact take
        them (`taken="2021-01-01..2021-12-31"`, `camera="NIKON D750"`); None: no filter."""
        if unknown := sorted(set(words) - {fact.name for fact in FACTS}):
            raise RetrievalError(f"No photo fact is called {', '.join(unknown)}.")
        folder = os.path.abspath(os.path.expanduser(under)) if under else None
        conditions = tuple((fact, fact.condition(text)) for fact in FACTS if (text := words.get(fact.name)) is not None)
        found = cls(folder, conditions)
        return found if found.active else None

    @property
    def active(self) -> bool:
        return bool(self.under or self.conditions)

    def parts(self) -> list[tuple[str, list[str], dict[str, object]]]:
        """The filter's predicates on the image `node` by the node property each compares (so that a
        vector index evaluates those it was made with), with their parameters."""
        found: list[tuple[str, list[str], dict[str, object]]] = []
        if self.under:
            # Below the folder: every path from "folder/" up to "folder0" ("0" is the character after "/").
            prefix = self.under.rstrip(os.sep) + os.sep
            found.append(
                (
                    "path",
                    ["node.path >= $under", "node.path < $under_end"],
                    {"under": prefix, "under_end": prefix[:-1] + chr(ord(os.sep) + 1)},
                )
            )
        found += [(fact.filtered, *fact.predicates(condition)) for fact, condition in self.conditions]
        return found

    def predicates(self) -> tuple[list[str], dict[str, object]]:
        """The filter as predicates on the image `node`, to be joined by AND (equality and ranges only,
        as a vector index's filter takes them), and their parameters."""
        terms: list[str] = []
        params: dict[str, object] = {}
        for _, more, values in self.parts():
            terms += more
            params |= values
        return terms, params

    def __str__(self) -> str:
        parts = [fact.described(condition) for fact, condition in self.conditions]
        return ", ".join([*([f"under {self.under}"] if self.under else []), *parts])
