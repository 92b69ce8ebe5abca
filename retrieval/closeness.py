"""When nothing is close: a search's best score under which no image in the catalogue looks much
like the query. The thresholds were chosen on ../shared/bench (docs/QUALITY.md, "When nothing is
close"): each the score that best told a photo whose class is in the catalogue from one whose class
is not, counting both kinds alike. The default and the plain search score on different scales."""

from __future__ import annotations

from collections.abc import Sequence

from retrieval.neo4j.images import Hit

NOTHING_CLOSE = 0.87  # the default search (expanded query, neighbourhood re-ranking)
NOTHING_CLOSE_PLAIN = 0.58  # plain cosine


def nothing_close_line(hits: Sequence[Hit], *, plain: bool, leave_out: str | None = None) -> str | None:
    """The line to show above the results when the best of them (but `leave_out`, the query's own
    image) scores under the threshold, else None."""
    threshold = NOTHING_CLOSE_PLAIN if plain else NOTHING_CLOSE
    best = next((h for h in hits if h.path != leave_out), None)
    if best is None or best.score >= threshold:
        return None
    return (
        f"Nothing in the catalogue looks much like this photo: the closest scores {best.score:.2f}, "
        f"under {threshold:.2f}, where photos of a kind the catalogue holds usually score higher."
    )
