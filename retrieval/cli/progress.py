"""What a command shows on stderr while it works: one line of text, or a progress bar per stage."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from tqdm import tqdm

from retrieval import Step


def say(message: str) -> None:
    """A diagnostic line on stderr, so stdout keeps only the results (and can be piped)."""
    print(message, file=sys.stderr)


class Bars:
    """Progress bars on stderr, one per name, made on first use: `bars(name, done, total)`."""

    def __init__(self) -> None:
        self._bars: dict[str, tqdm[Any]] = {}

    def __call__(self, name: str, done: int, total: int, unit: str = "img") -> None:
        if (bar := self._bars.get(name)) is None:
            # Each stage on a line of its own below the ones before it, not over them.
            bar = self._bars[name] = tqdm(desc=name, unit=unit, file=sys.stderr, position=len(self._bars))
        bar.total = total
        bar.update(done - bar.n)

    def follow(self, name: str, unit: str = "img") -> Callable[[Step], None]:
        """The callback that moves the bar `name` with each step the library reports."""
        return lambda step: self(name, step.done, step.total, unit)

    def __enter__(self) -> Bars:
        return self

    def __exit__(self, *exc: object) -> None:
        for bar in self._bars.values():
            bar.close()
