"""Search results for other programs: each hit with its stored facts, as plain JSON values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from retrieval.core.facts import FACTS
from retrieval.neo4j.images import Hit
from retrieval.neo4j.store import ImageStore


def result_rows(store: ImageStore, hits: Sequence[Hit]) -> list[dict[str, Any]]:
    """One row per hit, best first: rank, path, name, score, and the photo's facts (each declared one,
    core/facts.py: taken as ISO 8601 with its offset, camera, ...; then width, height; null where unknown)."""
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
                **{f.name: f.plain(v) if known and (v := known.facts.get(f.name)) is not None else None for f in FACTS},
                "width": known.width if known else None,
                "height": known.height if known else None,
            }
        )
    return rows
