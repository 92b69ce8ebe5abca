"""The similarity graph and the search it makes better.

`update_links` writes each image's nearest neighbours as `SIMILAR_TO` relationships (browsable in
Neo4j, and the raw material for near-duplicate groups) and, from the same lists, a *blended* vector
per image: its own vector plus its neighbours', weighted by similarity cubed (database-side
augmentation). The default search expands the query the same way with its own nearest neighbours
and ranks against the blended vectors, which lifts mAP well above plain cosine on ../shared/bench
(docs/QUALITY.md). Both are learned from the collection itself, never from labels.

Incremental: only images embedded since they were last linked, images that lost a neighbour, images
linking to a changed image, and images a new image would enter the top k of are redone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from retrieval.core.batches import chunks
from retrieval.neo4j.store import ImageStore
from retrieval.vision.models import ModelSpec

NEIGHBOURS = 10  # links per image, and the neighbours blended into each vector and each query
BATCH = 100
REACH = 300  # index candidates of a new image, each scored exactly, whose lists it may enter (docs/BENCHMARKS.md)


@dataclass
class LinkReport:
    linked: int = 0  # images whose neighbour lists were (re)written
    done: int = 0  # images looked at so far, of `total`, for progress bars
    total: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return f"{self.linked} images linked to their nearest neighbours ({self.seconds:.1f} s)"


def update_links(
    store: ImageStore,
    spec: ModelSpec,
    *,
    k: int = NEIGHBOURS,
    min_score: float = -1.0,
    everything: bool = False,
    progress: Callable[[LinkReport], None] | None = None,
) -> LinkReport:
    """Bring the SIMILAR_TO links and blended vectors of `spec`'s images up to date (all of them with
    `everything`). Safe to run from any number of processes at once: each batch is rewritten under
    the vector space's lock (`ImageStore.rewrite_links`), so the lists end exact whatever the interleaving."""
    started = time.monotonic()
    store.ensure_schema(spec.space)
    unlinked = store.unlinked(spec.space)
    stale = store.paths() if everything else [p for p, _ in unlinked]
    changed = [p for p, was_linked in unlinked if was_linked]
    redo = dict.fromkeys([*stale, *store.mislinked(spec.space), *store.linking_to(spec.space, changed)])
    report = LinkReport(total=len(redo))
    for batch in chunks(list(redo), BATCH):
        report.linked += store.rewrite_links(spec.space, batch, k=k, min_score=min_score)
        report.done += len(batch)
        _notify(progress, report)

    # A new or changed image may belong in the top k of an image not redone above: offer it to the
    # lists of its REACH index candidates (nearness is not symmetric, so its own top k is not enough).
    # Lists it cannot enter (as full, with a lowest score above its cosine) are left out by a read;
    # lists only ever gain better neighbours from other runs meanwhile, so that stays true, and the
    # others are merged under the lock against the list as it is then (ImageStore.merge_links), by
    # linked images only: one another run stored and has not linked yet gets its whole list from it.
    offers: dict[str, dict[str, float]] = {}
    if len(redo) < store.count_vectors(spec.space):
        for batch in chunks(stale, BATCH):
            for path, hits in store.entering(spec.space, batch, REACH, min_score).items():
                for hit in hits:
                    if hit.path not in redo:
                        offers.setdefault(hit.path, {})[path] = hit.score
    for batch in chunks(list(offers), 1000):
        floors = store.link_floors(spec.space, batch)
        for path in batch:
            links, floor = floors.get(path, (0, None))
            if path in floors and links >= k and floor is not None and max(offers[path].values()) <= floor:
                del offers[path]
    report.total += len(offers)
    for batch in chunks(list(offers), BATCH):
        report.linked += store.merge_links(spec.space, {path: offers[path] for path in batch}, k=k)
        report.done += len(batch)
        _notify(progress, report)
    report.seconds = time.monotonic() - started
    return report


def _notify(progress: Callable[[LinkReport], None] | None, report: LinkReport) -> None:
    if progress is not None:
        progress(report)
