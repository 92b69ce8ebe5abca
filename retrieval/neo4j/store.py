"""`ImageStore`: the one object the jobs talk to Neo4j through, made of the store's concerns, each in
its own module with its Cypher beside the code that runs it: the schema (schema.py), image nodes and
their vectors (images.py), their search (nearest.py), similarity links (links.py), duplicate groups'
members (duplicates.py), copies set aside and marks (resolutions.py), the user's catalogue
(catalogue.py), the images newest first (listing.py) and statistics (stats.py), on the shared driver,
label and locks of base.py. Programs hold it to its public surface, `Store` (surface.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from retrieval.neo4j.catalogue import Catalogue
from retrieval.neo4j.duplicates import DuplicateReads
from retrieval.neo4j.links import Links
from retrieval.neo4j.listing import Listing
from retrieval.neo4j.nearest import Nearest
from retrieval.neo4j.resolutions import Resolutions
from retrieval.neo4j.stats import Stats

if TYPE_CHECKING:
    from retrieval.neo4j.surface import Store


class ImageStore(Stats, Links, Listing, Catalogue, DuplicateReads, Resolutions, Nearest):
    """Reads and writes image nodes (label `Image` unless another is given) through a driver the caller owns."""


if TYPE_CHECKING:

    def _a_store(store: ImageStore) -> Store:
        """Never run: mypy checks here that an ImageStore is a Store, each method with the Protocol's types."""
        return store
