"""How many results one search may return, checked in this one place before any query: by the
search functions and by the store's own `nearest` alike."""

from __future__ import annotations

from retrieval.core.errors import BadArgument

# The most results one search returns. The vector index is asked for 4x as many candidates (and the
# default search re-ranks at least its CANDIDATES), each costing the server memory; a person reads a
# few dozen. The CLI and the app refuse more.
MAX_RESULTS = 1000


def checked_k(k: int) -> int:
    """`k` if it is a sane number of results (1..MAX_RESULTS), else a clear error before any query."""
    if not 1 <= k <= MAX_RESULTS:
        raise BadArgument(f"The number of results must be between 1 and {MAX_RESULTS}, not {k}.")
    return k
