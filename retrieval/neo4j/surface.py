"""`Store`: the store as a program uses it, twelve methods, where `ImageStore` has about sixty.

The rest of `ImageStore` (writing nodes and vectors, the schema, similarity lists, nearest-neighbour
reads, duplicate groups, resolutions, the user's catalogue) is the library's inside: the public
functions (`index_folder`, `search_file`, `duplicate_page`, `resolve`, ...) use it, and a program
reaches it through them. A program keeps its hands on these twelve, each asked by the app or the CLI
for what it shows or saves itself; a type checker holds `ImageStore` to them (store.py), and a test
holds the app to them (tests/test_public_api.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np

from retrieval.core.facts import Value
from retrieval.core.filters import PhotoFilter
from retrieval.core.spaces import VectorSpace
from retrieval.neo4j.filters import CatalogueFilter
from retrieval.neo4j.listing import CataloguePage, Listed
from retrieval.neo4j.stats import StoreStats


class Store(Protocol):
    """The store's public surface, twelve methods: the figures a program shows (`stats` and five
    counts), the catalogue it browses and filters (`newest`, `fact_values`), the links and vectors it
    reads (`links_among`, `vectors_of`), the evaluation it saves and reads (two). No `close`: a store
    owns nothing, and the driver it runs on is closed by whoever opened it (`open_store`'s `with`, or
    a program's own driver). Everything else a program does with a store, it does by handing it to a
    public function."""

    def stats(self, spaces: Iterable[VectorSpace]) -> StoreStats:
        """Images stored, and each space's vector index and vectors: what `stats` and the Admin tab show."""
        ...

    def count_vectors(self, space: VectorSpace, facts: PhotoFilter | None = None) -> int:
        """How many images a model can search (passing `facts`): to say "nothing indexed" before searching."""
        ...

    def count_links(self, space: VectorSpace) -> int:
        """How many SIMILAR_TO links a model's images have: what `link` reports when it is done."""
        ...

    def count_unlisted(self, space: VectorSpace) -> int:
        """How many images have no similarity list yet: to say `link` is due before showing duplicates."""
        ...

    def attachment_count(self) -> int:
        """How many images are attached to the user's own nodes (instant): whether to offer a catalogue filter."""
        ...

    def count_listed(self, space: VectorSpace, within: CatalogueFilter | None = None, facts: PhotoFilter | None = None) -> int:
        """How many images `newest` lists in all: the catalogue's size above its pages."""
        ...

    def newest(
        self,
        space: VectorSpace,
        limit: int,
        after: Listed | None = None,
        within: CatalogueFilter | None = None,
        facts: PhotoFilter | None = None,
    ) -> CataloguePage:
        """A page of the catalogue, newest first, after the previous page's last: browsing before a search."""
        ...

    def fact_values(self, fact: str, limit: int = 500) -> list[Value]:
        """The values a photo fact takes (its cameras, ...): the choices a filter offers."""
        ...

    def links_among(self, space: VectorSpace, paths: Sequence[str]) -> list[tuple[str, str, float]]:
        """The SIMILAR_TO links among given images, (from, to, cosine): to draw results as a graph."""
        ...

    def vectors_of(self, space: VectorSpace, paths: Iterable[str]) -> dict[str, np.ndarray]:
        """The stored vectors of given images (paths not indexed left out): to search from indexed images."""
        ...

    def save_evaluation(self, figures: dict[str, str | int | float]) -> None:
        """Keep an evaluation's figures in the database (`evaluate`), where every reader of it finds them."""
        ...

    def latest_evaluation(self) -> dict[str, str | int | float] | None:
        """The figures the last evaluation saved, or None: the search quality the Admin tab shows."""
        ...
