"""Work in batches: a batch is one transaction or one model call, so memory stays bounded and an
interrupted run keeps every batch it finished."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of `size` (the last one shorter), without holding more than one list."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def prefetch(fn: Callable[[T], R], items: Iterable[T], window: int) -> Iterator[R]:
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
