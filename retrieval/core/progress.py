"""The one shape of progress the library reports: a callback given each step of a stage's work,
anything that says how much of it is `done` of its `total` (a run's own report, or a `Count`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar


class Step(Protocol):
    """How far a stage has come: `done` of `total` (IndexReport, LinkReport and Count all say it)."""

    @property
    def done(self) -> int: ...

    @property
    def total(self) -> int: ...


StepT = TypeVar("StepT", bound=Step)

# A callback given each step: `Progress[IndexReport]` sees the whole report so far, `Progress[Step]` only the counts.
Progress = Callable[[StepT], None]


@dataclass(frozen=True)
class Count:
    """A step of a stage that keeps no report of its own: its name, `done` of `total`."""

    stage: str
    done: int
    total: int
