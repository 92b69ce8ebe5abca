"""Indexing on Ray: the embedding work of one run spread over the workers of a Ray cluster.

The driver (the `index --ray` process) lists the folder and checks sizes, times and hashes as a
plain run does (indexing.plan_run), cuts the files to read into tasks of one batch each, and hands
them to Ray actors. Each actor loads the model once (on a GPU when its node has one), and reads,
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
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import ray
from ray.exceptions import RayActorError, RayTaskError

from retrieval.core.batches import chunks
from retrieval.core.errors import RetrievalError
from retrieval.core.files import DEFAULT_RULES, FileRules
from retrieval.core.settings import Settings
from retrieval.indexing import IndexReport, Progress, ToDo, index_files, plan_run
from retrieval.neighbours import LinkProgress, LinkReport, write_lists
from retrieval.neo4j.connection import Neo4jSettings, open_driver
from retrieval.neo4j.store import ImageStore
from retrieval.vision.models import MODELS, ModelSpec

RETRIES = 3  # restarts of a dead worker, and retries of the batch it was working on
# Set for a local cluster before it starts, so every Ray process started from here has them.
LOCAL_ENVIRONMENT = {"RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0"}


@dataclass(frozen=True)
class Connection:
    """What a worker needs to open its own driver to the run's Neo4j (the driver's settings)."""

    uri: str
    username: str
    password: str
    database: str | None

    @classmethod
    def of(cls, settings: Neo4jSettings) -> Connection:
        return cls(settings.uri, settings.username, settings.password, settings.database)


@ray.remote(max_restarts=RETRIES, max_task_retries=RETRIES)
class IndexWorker:
    """One worker of a run: its model loaded once, its own Neo4j driver; `index` does one batch."""

    def __init__(self, model: str, connection: Connection, batch_size: int, link: bool, settings: Settings) -> None:
        from retrieval.vision.embed import Embedder  # torch only in the workers' processes

        self.embedder = Embedder.load(MODELS[model], settings)
        server = Neo4jSettings(connection.uri, connection.username, connection.password, connection.database, local=None)
        self.store = ImageStore(open_driver(server), connection.database)
        self.batch_size = batch_size
        self.link = link

    def fingerprint(self) -> str:
        return self.embedder.fingerprint

    def index(self, todo: Sequence[ToDo]) -> IndexReport:
        report = IndexReport(links=LinkReport() if self.link else None)
        index_files(self.store, self.embedder, todo, report, batch_size=self.batch_size)
        return report


@contextmanager
def ray_cluster(address: str | None = None, *, num_cpus: int | None = None) -> Iterator[None]:
    """Connected to the Ray cluster at `address` (`auto`, host:port, ray://...), or without one to a
    cluster of this machine started for the run (token authentication, no dashboard), shut down after."""
    if not address:
        os.environ.update(LOCAL_ENVIRONMENT)
        os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))  # this run's shared secret
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    else:
        ray.init(address=address, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def index_folder_on_ray(
    store: ImageStore,
    spec: ModelSpec,
    connection: Connection,
    folder: Path,
    *,
    batch_size: int = 32,
    workers: int | None = None,
    prune: bool = False,
    reembed: bool = False,
    progress: Progress | None = None,
    linking: LinkProgress | None = None,
    link: bool = True,
    settings: Settings | None = None,
    rules: FileRules = DEFAULT_RULES,
) -> IndexReport:
    """index_folder's run with the embedding done by `workers` Ray actors of the connected cluster
    (default: one per GPU, or else one per CPU), each writing its batches to Neo4j itself; the same
    report (counts, skipped files with reasons, links) as a plain run."""
    started = time.monotonic()
    gpus = int(ray.cluster_resources().get("GPU", 0))
    count = workers or gpus or max(1, int(ray.cluster_resources().get("CPU", 1)))
    options = {"num_gpus": 1, "num_cpus": 1} if gpus else {"num_cpus": 1}
    given = settings or Settings()
    worker = IndexWorker.options(**options)  # type: ignore[attr-defined]
    actors = [worker.remote(spec.name, connection, batch_size, link, given) for _ in range(count)]
    try:
        with _worker_errors():
            fingerprints = set(ray.get([actor.fingerprint.remote() for actor in actors]))
        if len(fingerprints) != 1:
            raise RetrievalError(f"The Ray workers load different versions of {spec.name} ({', '.join(sorted(fingerprints))}).")
        upgraded = store.ensure_schema(spec.space)
        store.claim_space(spec.space, fingerprints.pop(), replace=reembed)
        report, todo, unlisted = plan_run(store, spec, folder, prune=prune, link=link, rules=rules)
        report.upgraded = upgraded
        if progress:
            progress(report)
        pool = ray.util.ActorPool(actors)
        with _worker_errors():
            for part in pool.map_unordered(lambda actor, batch: actor.index.remote(batch), list(chunks(todo, batch_size))):
                _add(report, part)
                if progress:
                    progress(report)
    finally:
        for actor in actors:  # on success, an error or Ctrl-C: no worker goes on writing
            ray.kill(actor, no_restart=True)
    if report.links is not None and unlisted:
        report.links.total += len(unlisted)
        write_lists(store, spec, unlisted, report.links, progress=linking)
    report.seconds = time.monotonic() - started
    return report


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
