"""What a search's scores say: when nothing is close (the best score under which no image in the
catalogue looks much like the query), and which results reach a minimum score. Scores are the plain
cosine of each result's own vector to the query's, whichever search ranked them (retrieval/search.py),
so one threshold serves the default and the plain search alike. It was chosen on ../shared/bench
(docs/QUALITY.md, "When nothing is close"): the score that best told a photo whose class is in the
catalogue from one whose class is not, counting both kinds alike."""

from __future__ import annotations

from collections.abc import Sequence

from retrieval.neo4j.images import Hit

NOTHING_CLOSE = 0.58


def reaching(hits: Sequence[Hit], min_score: float) -> list[Hit]:
    """The hits scoring at least `min_score`, in their order (the `--min-score` and the app's slider)."""
    return [h for h in hits if h.score >= min_score]


def nothing_close_line(hits: Sequence[Hit], *, leave_out: str | None = None) -> str | None:
    """The line to show above the results when every one of them (but `leave_out`, the query's own
    image) scores under the threshold, else None."""
    best = max((h.score for h in hits if h.path != leave_out), default=None)
    if best is None or best >= NOTHING_CLOSE:
        return None
    return (
        f"Nothing in the catalogue looks much like this photo: the closest scores {best:.2f}, "
        f"under {NOTHING_CLOSE:.2f}, where photos of a kind the catalogue holds usually score higher."
    )
