"""A vector space: where one model's vectors live in the graph (a node property, its compact copy and
its vector index, of one dimension). The storage layer knows spaces, never models, so it needs nothing
of the network that made the vectors."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class VectorSpace:
    model: str  # the model's name: it tags the space's SIMILAR_TO links and its VectorSpace node
    dimensions: int

    @property
    def slug(self) -> str:
        """The space's name in identifiers, e.g. efficientnet_lite0."""
        return re.sub(r"[^a-z0-9]+", "_", self.model.lower()).strip("_")

    @property
    def vector_property(self) -> str:
        return f"embedding_{self.slug}"

    @property
    def compact_property(self) -> str:
        """The vector's float16 copy (bytes), which the default search's re-ranking reads."""
        return f"embedding_{self.slug}_f16"

    @property
    def precision_property(self) -> str:
        """The precision the vector was computed in (f32, bf16), which `stats` counts: vectors of every
        admitted precision share the space."""
        return f"embedding_{self.slug}_precision"

    @property
    def linked_property(self) -> str:
        """The content hash the image's own SIMILAR_TO list was made from."""
        return f"linked_{self.slug}"

    def __str__(self) -> str:
        return self.model
