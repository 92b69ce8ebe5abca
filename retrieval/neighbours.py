"""The similarity graph, kept as a layer derived from the vectors: each image's nearest neighbours as
`SIMILAR_TO` relationships, browsable in Neo4j and the raw material for near-duplicate groups.

An index run writes the lists of the images it embeds (and of those of its folder left without one),
each after its vector is committed: of two images stored at once by two runs, the later one's list
finds the earlier, so no near-duplicate pair is missed. Older images' lists are not rewritten when a
closer image arrives (that rewrite under a lock was what made indexing slow); `link` refreshes every
list in bulk. The reads run in parallel, the writes go in large batches, and no lock is taken.

A list read while the catalogue held NEIGHBOURS or fewer images is short (4 others in a first batch of
5): it holds every other image then stored, and is marked so (retrieval/neo4j/links.py). Every run
ends by reading again the lists marked short (`fill_short_lists`), found through their own index, so
that costs their number, not the catalogue's. That covers any interleaving: an image stored after a
short list was read comes from a run whose end reads the lists marked short after that image was
committed; if the short list was written later still, the run that wrote it reads it again at its own
end, after that image was committed (a list read later always replaces one read earlier, links.py).
A run stopped before its end leaves its marks to the next run, or to `link --missing`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from retrieval.core.batches import chunks
from retrieval.core.progress import Progress
from retrieval.neo4j.links import NeighbourList
from retrieval.neo4j.store import ImageStore
from retrieval.neo4j.upgrade import Upgraded
from retrieval.vision.models import ModelSpec

NEIGHBOURS = 10  # links per image
READ_CHUNK = 16  # images per read (one index search each)
READERS = 2  # reads at once: the index searches run on the server's cores
WRITE_BATCH = 500  # lists per write transaction


@dataclass
class LinkReport:
    linked: int = 0  # images whose neighbour lists were written
    done: int = 0  # images looked at so far, of `total`, for progress bars
    total: int = 0
    seconds: float = 0.0
    upgraded: Upgraded | None = None  # a database of the previous release brought up to date first

    def summary(self) -> str:
        return f"{self.linked} images linked to their nearest neighbours ({self.seconds:.1f} s)"


def update_links(
    store: ImageStore,
    spec: ModelSpec,
    *,
    k: int = NEIGHBOURS,
    min_score: float = -1.0,
    everything: bool = True,
    progress: Progress[LinkReport] | None = None,
) -> LinkReport:
    """Write the SIMILAR_TO lists of every image of `spec`'s model (`everything`), or only of those
    without a current one and those marked short. Safe beside any number of index runs and other `link` runs."""
    started = time.monotonic()
    upgraded = store.ensure_schema(spec.space)
    paths = store.paths_with_vectors(spec.space) if everything else store.unlisted(spec.space)
    report = LinkReport(total=len(paths), upgraded=upgraded)
    write_lists(store, spec, paths, report, k=k, min_score=min_score, progress=progress)
    if not everything:
        fill_short_lists(store, spec, report, progress=progress)
    report.seconds = time.monotonic() - started
    return report


def write_lists(
    store: ImageStore,
    spec: ModelSpec,
    paths: Iterable[str],
    report: LinkReport,
    *,
    k: int = NEIGHBOURS,
    min_score: float = -1.0,
    progress: Progress[LinkReport] | None = None,
) -> None:
    """Find and write the lists of the stored images at `paths`, counting into `report`: READERS reads
    at a time, WRITE_BATCH lists a transaction."""
    clock = time.monotonic()
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        for batch in chunks(list(paths), WRITE_BATCH):
            lists: dict[str, NeighbourList] = {}
            for found in pool.map(lambda part: store.neighbour_lists(spec.space, part, k, min_score), chunks(batch, READ_CHUNK)):
                lists.update(found)
            report.linked += store.write_lists(spec.space, lists)
            report.done += len(batch)
            if progress is not None:
                progress(report)
    report.seconds += time.monotonic() - clock


def fill_short_lists(
    store: ImageStore, spec: ModelSpec, report: LinkReport, *, progress: Progress[LinkReport] | None = None
) -> None:
    """Read and write again the lists marked short, each for the k it was read for, counting into
    `report`: how every run ends (see the module's docstring)."""
    for k, paths in store.short_lists(spec.space).items():
        report.total += len(paths)
        write_lists(store, spec, paths, report, k=k, progress=progress)
