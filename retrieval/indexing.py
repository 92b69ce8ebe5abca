"""Index a folder: find its images, skip unchanged and unreadable ones, embed and store the rest.

Work is written batch by batch, so an interrupted run keeps what it finished and a rerun only
does what is left: a file whose size and modification time match its node is not even read.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import torch

from retrieval.decode import IMAGE_EXTENSIONS, decode, read_file
from retrieval.embed import Embedder
from retrieval.errors import UnreadableImage
from retrieval.store import ImageRecord, ImageStore


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass
class IndexReport:
    """What a run did; `done` counts files looked at so far, for progress bars."""

    total: int = 0
    indexed: int = 0
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def done(self) -> int:
        return self.indexed + self.unchanged + len(self.skipped)


Progress = Callable[[IndexReport], None]
T = TypeVar("T")
R = TypeVar("R")


def find_images(folder: Path) -> tuple[list[Path], list[Skipped]]:
    """Image files below `folder` by extension, sorted; broken links and folders named like images are reported."""
    if not folder.is_dir():
        raise UnreadableImage(str(folder), "not a folder")
    found, skipped = [], []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            continue
        if path.is_file():
            found.append(path.absolute())
        elif path.is_symlink() and not path.exists():
            skipped.append(Skipped(str(path.absolute()), "broken symbolic link"))
        elif path.is_dir():
            skipped.append(Skipped(str(path.absolute()), "a folder, not a file"))
    return found, skipped


@dataclass(frozen=True)
class _Prepared:
    path: Path
    size: int
    mtime_ns: int
    sha256: str
    width: int
    height: int
    tensor: torch.Tensor


def index_folder(
    store: ImageStore,
    embedder: Embedder,
    folder: Path,
    batch_size: int = 32,
    progress: Progress | None = None,
) -> IndexReport:
    """Index every image below `folder` with `embedder`'s model; returns counts and skipped files with reasons."""
    started = time.monotonic()
    spec = embedder.spec
    store.ensure_schema(spec)
    paths, skipped = find_images(folder)
    report = IndexReport(total=len(paths) + len(skipped), skipped=skipped)
    todo = []
    for chunk in _chunks(paths, 1000):
        stored = store.stored_files(spec, [str(p) for p in chunk])
        for path in chunk:
            known, stat = stored.get(str(path)), path.stat()
            if known and (known.size, known.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
                report.unchanged += 1
            else:
                todo.append(path)
    _notify(progress, report)

    def prepare(path: Path) -> _Prepared | Skipped:
        try:
            stat = path.stat()
            data = read_file(path)
            image = decode(data, str(path))
            return _Prepared(
                path,
                stat.st_size,
                stat.st_mtime_ns,
                hashlib.sha256(data).hexdigest(),
                image.width,
                image.height,
                embedder.preprocess(image),
            )
        except UnreadableImage as e:
            return Skipped(str(path), e.reason)

    for batch in _chunks(_prefetch(prepare, todo, window=2 * batch_size), batch_size):
        good = [p for p in batch if isinstance(p, _Prepared)]
        report.skipped.extend(p for p in batch if isinstance(p, Skipped))
        if good:
            vectors = embedder.embed_tensors([p.tensor for p in good])
            store.upsert(
                spec,
                [
                    ImageRecord(str(p.path), p.path.name, p.size, p.mtime_ns, p.sha256, p.width, p.height, v)
                    for p, v in zip(good, vectors, strict=True)
                ],
            )
            report.indexed += len(good)
        _notify(progress, report)
    report.seconds = time.monotonic() - started
    return report


def _notify(progress: Progress | None, report: IndexReport) -> None:
    if progress is not None:
        progress(report)


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _prefetch(fn: Callable[[T], R], items: Iterable[T], window: int) -> Iterator[R]:
    """fn over items in order, on two threads, with at most `window` results held: decoding the
    next batch overlaps the model's work on this one without loading a whole folder into memory."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def remove_missing(store: ImageStore) -> list[str]:
    """Delete the nodes of images whose files are gone; returns their paths."""
    gone = [path for path in store.paths() if not Path(path).is_file()]
    if gone:
        store.remove(gone)
    return gone
