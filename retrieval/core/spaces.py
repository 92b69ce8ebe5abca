"""A vector space: where one kind of vector lives in the graph (a node property and its vector index,
of one dimension). A model has two: its own vectors and the neighbour-blended ones. The storage
layer knows spaces, never models, so it needs nothing of the network that made the vectors."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class VectorSpace:
    model: str  # the model's name: it tags the space's SIMILAR_TO links and its lock node
    dimensions: int
    variant: str = ""  # "" for the model's own vectors; "blended" for those mixed with their neighbours

    @property
    def slug(self) -> str:
        """The space's name in identifiers, e.g. efficientnet_lite0_blended."""
        return re.sub(r"[^a-z0-9]+", "_", f"{self.model} {self.variant}".lower()).strip("_")

    @property
    def vector_property(self) -> str:
        return f"embedding_{self.slug}"

    @property
    def blended(self) -> VectorSpace:
        """The same model's neighbour-blended vectors (see retrieval/neighbours.py): own property, own index."""
        return replace(self, variant="blended")

    def __str__(self) -> str:
        return f"{self.model} {self.variant}".strip()
