"""One indexing run at a time per app process, in a background thread, readable by every session.

A run started from the app must not live in the clicking session's script run (a rerun or a closed
tab would cut it short, and two sessions could index at once, fighting over the same nodes). The
app keeps one `IndexJob` per process; any session can start it when idle and read its progress.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.core.errors import RetrievalError
from retrieval.indexing import IndexReport, index_folder
from retrieval.neighbours import LinkReport
from retrieval.neo4j.connection import Neo4jSettings, check_reachable
from retrieval.neo4j.errors import driver_errors
from retrieval.neo4j.store import ImageStore

if TYPE_CHECKING:
    from retrieval.vision.embed import Embedder


@dataclass(frozen=True)
class IndexRun:
    """A snapshot of the latest run: its folder and start (epoch seconds), progress so far, and once
    it is over its final report or the error that ended it."""

    folder: str
    started: float
    progress: IndexReport
    linking: LinkReport | None = None
    report: IndexReport | None = None
    error: str | None = None

    @property
    def running(self) -> bool:
        return self.report is None and self.error is None


def unreachable(store: ImageStore, settings: Neo4jSettings) -> str | None:
    """None when the server answers, else what went wrong and what to do (see `check_reachable`)."""
    try:
        check_reachable(store.driver, settings)
    except RetrievalError as e:
        return str(e)
    return None


class IndexJob:
    """Runs `index_folder` in a thread, one run at a time, and keeps the latest run for every session."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._run: IndexRun | None = None

    def start(
        self, store: ImageStore, embedder: Embedder, folder: Path, settings: Neo4jSettings, roots: tuple[Path, ...] | None = None
    ) -> IndexRun | None:
        """Start indexing `folder` (reading only files whose real path lies within `roots`, when given)
        and return None, or return the run in progress and start nothing."""
        with self._lock:
            if self._run is not None and self._run.running:
                return self.latest()
            self._run = IndexRun(str(folder), time.time(), IndexReport())
            threading.Thread(
                target=self._work, args=(store, embedder, folder, settings, roots), name="index-folder", daemon=True
            ).start()
        return None

    def latest(self) -> IndexRun | None:
        """The current or last run, copied so that a reader never sees a list the thread is growing."""
        run = self._run
        if run is None:
            return None
        return dataclasses.replace(run, progress=dataclasses.replace(run.progress, skipped=list(run.progress.skipped)))

    def _update(self, **changes: Any) -> None:
        with self._lock:
            assert self._run is not None
            self._run = dataclasses.replace(self._run, **changes)

    def _work(
        self, store: ImageStore, embedder: Embedder, folder: Path, settings: Neo4jSettings, roots: tuple[Path, ...] | None
    ) -> None:
        try:
            with driver_errors(settings, "while indexing"):
                report = index_folder(
                    store,
                    embedder,
                    folder,
                    progress=lambda progress: self._update(progress=progress),
                    linking=lambda linking: self._update(linking=linking),
                    roots=roots,
                )
        except RetrievalError as e:
            self._update(error=str(e))
        except Exception as e:  # a bug: say so in the app, and let the thread's hook log the traceback
            self._update(error=f"Indexing stopped on an unexpected error ({type(e).__name__}: {e}); see the app's log.")
            raise
        else:
            self._update(report=report)
