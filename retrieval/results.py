"""Search results for other programs: each hit with its stored facts, as plain JSON values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from retrieval.core.facts import FACTS
from retrieval.duplicates import tier_of
from retrieval.neo4j.images import Hit
from retrieval.neo4j.store import ImageStore


def result_rows(store: ImageStore, hits: Sequence[Hit]) -> list[dict[str, Any]]:
    """One row per hit, best first: rank (the search's order), path, name, score (the plain cosine of
    the image's vector to the query's, which need not fall down the default search's ranking), tier
    (the closest duplicate tier the score reaches: same, near, similar, or null), and the photo's facts
    (each declared one, core/facts.py: taken as ISO 8601 with its offset, camera, ...; then width,
    height; null where unknown)."""
    facts = store.facts_of(h.path for h in hits)
    rows = []
    for rank, hit in enumerate(hits, 1):
        known = facts.get(hit.path)
        rows.append(
            {
                "rank": rank,
                "path": hit.path,
                "name": hit.name,
                "score": round(hit.score, 6),
                "tier": tier.name if (tier := tier_of(hit.score)) else None,
                **{f.name: f.plain(v) if known and (v := known.facts.get(f.name)) is not None else None for f in FACTS},
                "width": known.width if known else None,
                "height": known.height if known else None,
            }
        )
    return rows
