"""Index a folder: find its images, skip unchanged and unreadable ones, embed and store the rest.

Incremental: a file whose size and modification time match its node is not even read; a file
whose time changed but whose content hash did not keeps its vector. Resumable: work is written
batch by batch (one transaction each, keyed by path under a uniqueness constraint), so an
interrupted run keeps what it finished and a rerun does only what is left, with no duplicates.
Each batch's SIMILAR_TO lists are found and written beside the next batch's embedding (neighbours.py).
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from retrieval.core.batches import chunks, prefetch
from retrieval.core.errors import UnreadableImage
from retrieval.core.facts import READING
from retrieval.core.files import DEFAULT_RULES, FileRules
from retrieval.core.progress import Progress
from retrieval.finding import GONE, Skipped, below, find_images, outside
from retrieval.neighbours import LinkReport, fill_short_lists, write_lists
from retrieval.neo4j.images import ImageRecord, StoredFile
from retrieval.neo4j.store import ImageStore
from retrieval.neo4j.upgrade import Refingerprinted, Upgraded
from retrieval.pruning import missing_files, remove, stored_paths_below
from retrieval.resolving import recover
from retrieval.vision.decode import decode_picture, read_file
from retrieval.vision.facts import Facts, read_facts
from retrieval.vision.models import ModelSpec

if TYPE_CHECKING:
    from retrieval.vision.embed import Embedder


@dataclass
class IndexReport:
    """What a run did; `done` counts files looked at so far, for progress bars."""

    total: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    left_out: int = 0  # image files and folders below the folder left out by the run's FileRules, not counted in `total`
    raw_pairs: int = 0  # RAW files left out beside a picture of the same name (FileRules.raw_pairs), not in `total`
    others: Counter[str] = field(default_factory=Counter)  # files that are not pictures, by extension, not in `total`
    seconds: float = 0.0
    embed_seconds: float = 0.0  # waiting for files read, decoded and preprocessed, and the model
    write_seconds: float = 0.0  # writing vectors and file facts to Neo4j
    links: LinkReport | None = None  # the SIMILAR_TO lists written (None with `link` off)
    upgraded: Upgraded | None = None  # a database of the previous release brought up to date first
    refingerprinted: Refingerprinted | None = None  # its fingerprint, which named a precision, renamed first

    @property
    def indexed(self) -> int:
        return self.new + self.updated

    @property
    def done(self) -> int:
        return self.indexed + self.unchanged + len(self.skipped)

    def summary(self) -> str:
        """One line: what was done, and what was met but not read, counted (the skipped files by reason: `skipped_kinds`)."""
        others = ", ".join(f"{count} {extension or 'without extension'}" for extension, count in sorted(self.others.items()))
        return (
            f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged, {self.removed} removed, "
            f"{len(self.skipped)} skipped ({self.total} files, {self.seconds:.1f} s)"
            + (f"; {self.left_out} hidden or excluded files and folders left out" if self.left_out else "")
            + (f"; {self.raw_pairs} RAW files left out beside a picture of the same name" if self.raw_pairs else "")
            + (f"; not pictures, not read: {others}" if others else "")
        )

    def skipped_kinds(self) -> list[tuple[str, int]]:
        """How many files were skipped for each reason (without its details), the most frequent first."""
        return Counter(s.kind for s in self.skipped).most_common()

    def timings(self) -> str:
        """Where the run's time went, for users who time it and for the end-to-end benchmark."""
        linking = self.links.seconds if self.links else 0.0
        return (
            f"decode+embed {self.embed_seconds:.1f} s, writes {self.write_seconds:.1f} s, "
            f"linking {linking:.1f} s (beside the embedding)"
        )


ToDo = tuple[Path, StoredFile | None]  # a file to read, and what its node remembers of it (None: no node)


@dataclass(frozen=True)
class _Prepared:
    """A file read, hashed, decoded and preprocessed, ready for the model."""

    path: Path
    size: int
    mtime_ns: int
    sha256: str
    width: int
    height: int
    pixels: np.ndarray  # preprocessed, (3, 224, 224)
    known: bool  # a node for this path exists already
    facts: Facts


@dataclass(frozen=True)
class _SameContent:
    """A file with a new modification time, or without its facts on its node, but the content its
    vector was made from (`facts` read when the node has none)."""

    path: Path
    size: int
    mtime_ns: int
    sha256: str
    facts: Facts | None = None


@dataclass(frozen=True)
class RunOptions:
    """How a run's files are embedded and written, wherever that happens."""

    batch_size: int = 32
    progress: Progress[IndexReport] | None = None
    linking: Progress[LinkReport] | None = None
    then: list[str] = field(default_factory=list)  # stored images whose SIMILAR_TO lists are written after
    roots: tuple[Path, ...] | None = None  # when given, files whose real path leaves them are not read


@runtime_checkable
class Embedding(Protocol):
    """Where a run's files are read, embedded and written: in this process (`Here`, what an
    `Embedder` given to `index_folder` becomes) or on the workers of a Ray cluster (distributed.py)."""

    @property
    def spec(self) -> ModelSpec: ...

    def fingerprint(self) -> str: ...

    def former_fingerprints(self) -> dict[str, str]:
        """The previous release's fingerprints of the same model, each with the precision it named (upgrade.py)."""
        ...

    def index(self, store: ImageStore, todo: list[ToDo], report: IndexReport, options: RunOptions) -> None:
        """Read, embed and write `todo`, counting into `report`, then write the lists of `options.then`."""


@dataclass(frozen=True)
class Here:
    """The embedding done in this process, by `embedder`."""

    embedder: Embedder

    @property
    def spec(self) -> ModelSpec:
        return self.embedder.spec

    def fingerprint(self) -> str:
        return self.embedder.fingerprint

    def former_fingerprints(self) -> dict[str, str]:
        return self.embedder.former_fingerprints

    def index(self, store: ImageStore, todo: list[ToDo], report: IndexReport, options: RunOptions) -> None:
        index_files(store, self.embedder, todo, report, options)


def index_folder(
    store: ImageStore,
    embedder: Embedder | Embedding,
    folder: Path,
    *,
    batch_size: int = 32,
    prune: bool = False,
    reembed: bool = False,
    progress: Progress[IndexReport] | None = None,
    linking: Progress[LinkReport] | None = None,
    link: bool = True,
    roots: tuple[Path, ...] | None = None,
    rules: FileRules = DEFAULT_RULES,
) -> IndexReport:
    """Index every image below `folder` with `embedder`'s model, in this process or where an
    `Embedding` runs it (`distributed.ray_workers`); with `prune`, also delete the nodes
    of images below `folder` whose files are gone. Unless `link` is off, each image embedded (and
    each of the folder's images without a current list) gets its SIMILAR_TO list, and the run ends
    by reading again the lists marked short (read while the catalogue was smaller); the search needs none of
    them. Vectors of another version of the model (another fingerprint) are refused, or with
    `reembed` forgotten everywhere and made anew for this folder. With `roots` (resolved folders),
    files whose real path leaves them are skipped, not read. Any number of runs may index the same or
    overlapping folders at once (see docs/RELIABILITY.md). `rules` says what below `folder` is left out
    (hidden entries by default); `prune` never removes the nodes of files left out, only of files gone.
    Returns counts and skipped files with reasons."""
    started = time.monotonic()
    embedding = embedder if isinstance(embedder, Embedding) else Here(embedder)
    spec = embedding.spec
    upgraded = store.ensure_schema(spec.space)
    former = embedding.former_fingerprints()
    refingerprinted = store.claim_space(spec.space, embedding.fingerprint(), replace=reembed, former=former)
    report, todo, unlisted = plan_run(store, spec, folder, prune=prune, link=link, roots=roots, rules=rules)
    report.upgraded, report.refingerprinted = upgraded, refingerprinted
    _notify(progress, report)
    embedding.index(store, todo, report, RunOptions(batch_size, progress, linking, unlisted, roots))
    if report.links is not None:
        fill_short_lists(store, spec, report.links, progress=linking)
    report.seconds = time.monotonic() - started
    return report


def plan_run(
    store: ImageStore,
    spec: ModelSpec,
    folder: Path,
    *,
    prune: bool = False,
    link: bool = True,
    roots: tuple[Path, ...] | None = None,
    rules: FileRules = DEFAULT_RULES,
) -> tuple[IndexReport, list[ToDo], list[str]]:
    """List `folder` (only files within `roots`, when given), remove the nodes of files gone (with
    `prune`), and find what is to be read: a run's report so far (unchanged and skipped files counted,
    `links` started when `link`), the files to read, and the unchanged files whose SIMILAR_TO list is
    not current."""
    recover(store, folder)  # copies a stopped resolution left in place come back before the folder is read
    listing = find_images(folder, roots, rules)
    paths = listing.found
    report = IndexReport(
        total=len(paths) + len(listing.skipped),
        skipped=listing.skipped,
        left_out=listing.left_out,
        raw_pairs=listing.raw_pairs,
        others=listing.others,
        links=LinkReport() if link else None,
    )
    relist: list[str] = []
    if prune:
        gone = missing_files(store, folder)
        if rules.prune_left_out:
            gone += [
                path for path in stored_paths_below(store, folder) if path not in gone and rules.leaves_out(below(folder, path))
            ]
        relist = store.linking_to(spec.space, gone)  # their lists lose an entry: made again below
        remove(store, gone)
        report.removed = len(gone)
    todo, unlisted = _changed_files(store, spec, paths, report)
    return report, todo, list(dict.fromkeys([*unlisted, *(p for p in relist if p not in gone)])) if link else []


def index_files(
    store: ImageStore,
    embedder: Embedder,
    todo: Iterable[ToDo],
    report: IndexReport,
    options: RunOptions = RunOptions(),
) -> None:
    """Read, decode, embed and write `todo` batch by batch (one transaction each), counting into
    `report`: a whole run's files, or the share one Ray worker was given (distributed.py). With
    `report.links`, each committed batch's SIMILAR_TO lists are written on a thread of their own while
    the next batch embeds, and then those of the stored images `options.then`. With `roots`, each file's real
    path is checked again as it is read (a file may become a link since the listing)."""
    spec = embedder.spec
    links = report.links
    batch_size = options.batch_size
    batches = chunks(prefetch(partial(_prepare, embedder, options.roots), todo, window=2 * batch_size), batch_size)
    with ThreadPoolExecutor(max_workers=1) as lister:
        listed: list[Future[None]] = []

        def list_later(paths: Iterable[str]) -> None:
            if links is not None and (paths := list(paths)):
                links.total += len(paths)
                listed.append(lister.submit(write_lists, store, spec, paths, links, progress=options.linking))

        try:
            while True:
                clock = time.monotonic()
                if (batch := next(batches, None)) is None:
                    break
                good = [p for p in batch if isinstance(p, _Prepared)]
                same = [p for p in batch if isinstance(p, _SameContent)]
                report.skipped.extend(p for p in batch if isinstance(p, Skipped))
                vectors = embedder.embed_arrays([p.pixels for p in good]) if good else None
                report.embed_seconds += time.monotonic() - clock
                clock = time.monotonic()
                if vectors is not None:
                    store.upsert(
                        spec.space,
                        [
                            ImageRecord(
                                str(p.path),
                                p.path.name,
                                p.size,
                                p.mtime_ns,
                                p.sha256,
                                p.width,
                                p.height,
                                v,
                                p.facts,
                                embedder.runtime.precision,
                            )
                            for p, v in zip(good, vectors, strict=True)
                        ],
                    )
                    report.updated += sum(p.known for p in good)
                    report.new += sum(not p.known for p in good)
                    written = [str(p.path) for p in good]
                    changed = [str(p.path) for p in good if p.known] if links is not None else []
                    # The lists holding a changed image are made again too: it may no longer belong there.
                    list_later(dict.fromkeys([*written, *store.linking_to(spec.space, changed)]))
                if same:
                    store.touch(spec.space, [(str(p.path), p.size, p.mtime_ns, p.sha256) for p in same])
                    store.set_facts([(str(p.path), p.facts) for p in same if p.facts is not None])
                    report.unchanged += len(same)
                report.write_seconds += time.monotonic() - clock
                _notify(options.progress, report)
        except BaseException:
            # A run that stops (the server gone, Ctrl-C) leaves the lists not yet written to the next run, which
            # finds them not current: queued ones would each wait out the driver's retries first.
            lister.shutdown(wait=False, cancel_futures=True)
            raise
        list_later(options.then)
        for future in listed:
            future.result()


def _changed_files(store: ImageStore, spec: ModelSpec, paths: list[Path], report: IndexReport) -> tuple[list[ToDo], list[str]]:
    """The files to read, with what their nodes remember: those whose size or time differ from their
    node's, or whose vector for `spec` was not made from the node's content. Counts the others
    unchanged, and returns those of them whose SIMILAR_TO list is not current."""
    todo: list[ToDo] = []
    unlisted: list[str] = []
    for chunk in chunks(paths, 1000):
        stored = store.stored_files(spec.space, [str(p) for p in chunk])
        for path in chunk:
            known = stored.get(str(path))
            try:
                stat = path.stat()
            except OSError as e:  # gone or unreachable since the folder was listed
                report.skipped.append(Skipped(str(path), f"cannot read the file ({e.strerror or e})"))
                continue
            if known and known.current and (known.size, known.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
                if not known.listed:
                    unlisted.append(str(path))
                if known.facts == READING:
                    report.unchanged += 1
                    continue
            todo.append((path, known))  # read again: changed, or its facts are not on its node yet
    return todo, unlisted


def _prepare(embedder: Embedder, roots: tuple[Path, ...] | None, item: ToDo) -> _Prepared | _SameContent | Skipped:
    """Read, hash, decode and preprocess one file (on a loader thread), or say why not."""
    path, known = item
    if reason := outside(path, roots):
        return Skipped(str(path), reason)
    try:
        stat = path.stat()  # before reading: a change after it shows as a new time on the next run
        data = read_file(path)
        sha256 = hashlib.sha256(data).hexdigest()
        if known and known.vector_sha256 == sha256:
            facts = read_facts(data) if known.facts != READING else None
            return _SameContent(path, stat.st_size, stat.st_mtime_ns, sha256, facts)
        picture = decode_picture(data, str(path))
        pixels = embedder.preprocess(picture.image)
        facts = read_facts(data)
        return _Prepared(
            path, stat.st_size, stat.st_mtime_ns, sha256, picture.width, picture.height, pixels, known is not None, facts
        )
    except UnreadableImage as e:
        return Skipped(str(path), e.reason)
    except FileNotFoundError:
        return Skipped(str(path), GONE)
    except OSError as e:  # made unreadable since the folder was listed
        return Skipped(str(path), f"cannot read the file ({e.strerror or e})")


def _notify(progress: Progress[IndexReport] | None, report: IndexReport) -> None:
    if progress is not None:
        progress(report)
