"""What a search may be limited to, as Cypher: the photos' own facts (`PhotoFilter`, property
predicates a vector index can evaluate itself when it was made with those properties) and part of the
user's catalogue (`CatalogueFilter`, a pattern, always checked after the index)."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

from retrieval.core.errors import RetrievalError
from retrieval.core.facts import FACTS
from retrieval.neo4j.base import checked_identifier

# The properties the vector index is made with for in-index filters (2026.01 and later), as
# PhotoFilter.predicates names them: the path (for `under`) and each indexed fact's (core/facts.py).
FILTER_PROPERTIES = ("path", *(fact.filtered for fact in FACTS if fact.indexed))

# An image owned by a node of the catalogue filter's label whose key is one of `$values`.
OWNED_PATTERN = "MATCH (o:`{owner}`)-[:HAS_IMAGE]->(node:`{label}`)"
OWNED_VALUE = "o.`{key}` IN $values"
OWNED_EXISTS = "EXISTS { MATCH (o:`{owner}`)-[:HAS_IMAGE]->(node) WHERE o.`{key}` IN $values }"


def matching_images(within: CatalogueFilter | None, conditions: list[str]) -> str:
    """MATCH ... WHERE of the `node`s with the space's vector (`{prop}`) that meet `conditions`, and
    that are owned by `within`'s nodes when given (an image of two such owners is matched twice)."""
    match = OWNED_PATTERN if within is not None else "MATCH (node:`{label}`)"
    owned = [OWNED_VALUE] if within is not None else []
    return match + " WHERE " + " AND ".join(["node.`{prop}` IS NOT NULL", *conditions, *owned])


# The two limits are measured (docs/QUALITY.md, "the over-fetch rule"): up to EXACT_LIMIT matching
# images, exact ranking costs about what a filtered index search does; above it, OVERFETCH is the
# smallest factor that kept recall@10 at 1 for every matching share measured.
EXACT_LIMIT = 500  # at most this many matching images are ranked exactly (recall 1)

OVERFETCH = 4.0  # above it, the index is asked for OVERFETCH * k / (share of images matching) candidates

INTEGERS = range(-(2**63), 2**63)  # Neo4j's integers, 64 bits: the driver cannot send a larger one


def value_forms(text: str) -> list[str | int | float]:
    """A value read from a CSV, a command line, a file stem or the app's filter, as text and as the
    number it reads as, so that `sku = "1042"` finds a node whose sku is the integer 1042 as well as
    the string. A whole number too large for 64 bits is no Neo4j integer: it stays text only."""
    forms: list[str | int | float] = [text]
    try:
        whole = int(text)
    except ValueError:
        with suppress(ValueError):
            forms.append(float(text))
    else:
        if whole in INTEGERS:
            forms.append(whole)
    return forms


@dataclass(frozen=True)
class CatalogueFilter:
    """Only images of the user's nodes `(o:label)-[:HAS_IMAGE]->(image)` whose `key` property equals
    `value`, e.g. Product.category = "shoes". Label and key are checked identifiers."""

    label: str
    key: str
    value: str

    def __post_init__(self) -> None:
        checked_identifier(self.label)
        checked_identifier(self.key)

    @classmethod
    def parse(cls, text: str) -> CatalogueFilter:
        """`Label.key=value`, as the CLI takes it."""
        owner, sep, value = text.partition("=")
        label, dot, key = owner.strip().partition(".")
        if not (sep and dot):
            raise RetrievalError(f"{text!r} is not a filter of the form Label.property=value (e.g. Product.category=shoes).")
        return cls(label, key, value.strip())

    def __str__(self) -> str:
        return f"{self.label}.{self.key} = {self.value!r}"
