"""Indexing on Ray: the embedding work of one run spread over the workers of a Ray cluster.

The driver (the `index --ray` process) runs `index_folder` with `ray_workers` as where the
embedding runs: it lists the folder and checks sizes, times and hashes as a plain run does
(indexing.plan_run), and `RayWorkers.index` cuts the files to read into tasks of one batch each
and hands them to Ray actors. Each actor loads the model once (on a GPU when its node has one), and reads,
decodes, embeds and writes its batches straight into Neo4j with the same code as a plain run
(indexing.index_files, ImageStore.upsert: one transaction per batch, keyed by path, no lock), so any
number of workers may write at once, each also writing its batches' SIMILAR_TO lists. A worker that
dies has its unfinished batch retried by Ray on the restarted actor; a batch written twice is the
same MERGE twice, so nothing is lost or doubled.

Every worker must read the files at the same path as the driver (a shared filesystem or an object
store mount) and reach Neo4j at the driver's NEO4J_URI. A local cluster started here runs with
Ray's token authentication, no dashboard and no usage reporting.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from ray._raylet import Config as RayConfig  # type: ignore[attr-defined]  # compiled, without a stub
from ray.exceptions import RayActorError, RayTaskError

from retrieval.core.batches import chunks
from retrieval.core.errors import RetrievalError
from retrieval.core.settings import Settings
from retrieval.indexing import IndexReport, RunOptions, ToDo, index_files
from retrieval.neighbours import LinkReport, write_lists
from retrieval.neo4j.connection import Neo4jSettings, neo4j_settings, open_driver
from retrieval.neo4j.store import ImageStore
from retrieval.vision.models import MODELS, ModelSpec

RETRIES = 3  # restarts of a dead worker, and retries of the batch it was working on
# Set for a local cluster before it starts, so every Ray process started from here has them.
LOCAL_ENVIRONMENT = {"RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0"}


@ray.remote(max_restarts=RETRIES, max_task_retries=RETRIES)
class IndexWorker:
    """One worker of a run: its model loaded once, its own Neo4j driver; `index` does one batch."""

    def __init__(self, model: str, server: Neo4jSettings, settings: Settings) -> None:
        from retrieval.vision.embed import Embedder  # torch only in the workers' processes

        self.embedder = Embedder.load(MODELS[model], settings)
        self.store = ImageStore(open_driver(server), server.database, server=server)

    def fingerprint(self) -> str:
        return self.embedder.fingerprint

    def former_fingerprints(self) -> dict[str, str]:
        return self.embedder.former_fingerprints

    def index(self, todo: Sequence[ToDo], batch_size: int, link: bool, roots: tuple[Path, ...] | None) -> IndexReport:
        report = IndexReport(links=LinkReport() if link else None)
        index_files(self.store, self.embedder, todo, report, RunOptions(batch_size, roots=roots))
        return report


@contextmanager
def ray_cluster(address: str | None = None, *, num_cpus: int | None = None) -> Iterator[None]:
    """Connected to the Ray cluster at `address` (`auto`, host:port, ray://...), or without one to a
    cluster of this machine started for the run (token authentication, no dashboard), shut down after."""
    if not address:
        os.environ.update(LOCAL_ENVIRONMENT)
        os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))  # this run's shared secret
        # Ray read RAY_AUTH_MODE into its config when imported: read again (as Ray does when it turns token mode
        # on itself), or this process would call the cluster it starts, which demands the token, without it.
        RayConfig.initialize("")
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    else:
        ray.init(address=address, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@contextmanager
def ray_workers(spec: ModelSpec, settings: Settings, workers: int | None = None) -> Iterator[RayWorkers]:
    """`workers` Ray actors of the connected cluster (default: one per GPU, or else one per CPU), each
    with `spec`'s model and a driver to the server `settings` name, for `index_folder`; all of them
    ended after (on success, an error or Ctrl-C: no worker goes on writing)."""
    gpus = int(ray.cluster_resources().get("GPU", 0))
    count = workers or gpus or max(1, int(ray.cluster_resources().get("CPU", 1)))
    options = {"num_gpus": 1, "num_cpus": 1} if gpus else {"num_cpus": 1}
    worker = IndexWorker.options(**options)  # type: ignore[attr-defined]
    actors = [worker.remote(spec.name, neo4j_settings(settings), settings) for _ in range(count)]
    try:
        yield RayWorkers(spec, actors)
    finally:
        for actor in actors:
            ray.kill(actor, no_restart=True)


@dataclass(frozen=True)
class RayWorkers:
    """The embedding of a run done by Ray actors, each writing its batches to Neo4j itself; the
    run's report (counts, skipped files with reasons, links) is the same as a plain run's."""

    spec: ModelSpec
    actors: list[Any]

    def fingerprint(self) -> str:
        with _worker_errors():
            fingerprints: set[str] = set(ray.get([actor.fingerprint.remote() for actor in self.actors]))
        if len(fingerprints) != 1:
            raise RetrievalError(
                f"The Ray workers load different versions of {self.spec.name} ({', '.join(sorted(fingerprints))})."
            )
        return fingerprints.pop()

    def former_fingerprints(self) -> dict[str, str]:
        with _worker_errors():
            former: dict[str, str] = ray.get(self.actors[0].former_fingerprints.remote())  # the same model: see `fingerprint`
        return former

    def index(self, store: ImageStore, todo: list[ToDo], report: IndexReport, options: RunOptions) -> None:
        link, batch_size, roots = report.links is not None, options.batch_size, options.roots
        pool = ray.util.ActorPool(self.actors)
        with _worker_errors():
            batches = list(chunks(todo, batch_size))
            for part in pool.map_unordered(lambda actor, batch: actor.index.remote(batch, batch_size, link, roots), batches):
                _add(report, part)
                if options.progress:
                    options.progress(report)
        if report.links is not None and options.then:
            report.links.total += len(options.then)
            write_lists(store, self.spec, options.then, report.links, progress=options.linking)


@contextmanager
def _worker_errors() -> Iterator[None]:
    """A worker's error raised as itself (a Neo4j outage then reads as in a plain run), not as Ray's
    wrapper around it with the remote traceback."""
    try:
        yield
    except RayTaskError as e:
        raise e.cause from None
    except RayActorError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RetrievalError(f"A Ray worker died {RETRIES + 1} times and was given up ({first}).") from None


def _add(report: IndexReport, part: IndexReport) -> None:
    """Count one batch's report into the run's (times are summed over workers)."""
    report.new += part.new
    report.updated += part.updated
    report.unchanged += part.unchanged
    report.skipped.extend(part.skipped)
    report.embed_seconds += part.embed_seconds
    report.write_seconds += part.write_seconds
    if report.links is not None and part.links is not None:
        report.links.linked += part.links.linked
        report.links.done += part.links.done
        report.links.total += part.links.total
        report.links.seconds += part.links.seconds
