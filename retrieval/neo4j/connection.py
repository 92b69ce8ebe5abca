"""Which Neo4j to use, and a driver to it that fails with a message a user can act on.

With NEO4J_URI set (see retrieval/core/settings.py), that server is used whatever its scheme
(bolt, neo4j, +s, +ssc) and nothing is started. Otherwise it is the project's local server,
started with `retrieval db start`. `neo4j_settings` is the one place that decides, so every
command and the app talk to the same server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from neo4j import Driver, GraphDatabase
from neo4j.exceptions import ConfigurationError, DriverError, Neo4jError

from retrieval.core.errors import Neo4jUnavailable, RetrievalError
from retrieval.core.settings import Settings
from retrieval.neo4j.base import DEFAULT_LABEL
from retrieval.neo4j.errors import driver_errors, translated
from retrieval.neo4j.server import DEFAULT_PORT, START_COMMAND, LocalNeo4j
from retrieval.neo4j.store import ImageStore

RETRY_SECONDS = 30.0  # the driver's default: long enough for a cluster to elect a new leader
MAX_RETRY_SECONDS = 3600.0


@dataclass(frozen=True)
class Neo4jSettings:
    uri: str
    username: str
    password: str
    database: str | None
    local: LocalNeo4j | None  # the project's own server, when no NEO4J_URI was given
    retry_seconds: float = RETRY_SECONDS  # a transaction failed for a passing reason is retried this long

    def hint(self) -> str:
        if self.local:
            return f"Start the local Neo4j with `{START_COMMAND}`."
        return "Check that this server is running and reachable, and the NEO4J_* settings."


def neo4j_settings(settings: Settings) -> Neo4jSettings:
    """The server `settings` name (NEO4J_URI), or else the project's local one."""
    retry = retry_seconds(settings)
    if settings.neo4j_uri:
        return Neo4jSettings(
            uri=settings.neo4j_uri,
            username=settings.neo4j_username or "neo4j",
            password=settings.neo4j_password or "",
            database=settings.neo4j_database,
            local=None,
            retry_seconds=retry,
        )
    local = local_server(settings)
    return Neo4jSettings(
        uri=local.uri, username="neo4j", password=local.password(), database=None, local=local, retry_seconds=retry
    )


def retry_seconds(settings: Settings) -> float:
    """How long the driver retries a transaction that failed for a passing reason (a lost connection, a
    cluster's leader changing, a deadlock) before the command says why: NEO4J_RETRY_SECONDS, else 30 s.
    A local server that stopped is said sooner with a smaller value; a cluster may want more."""
    text = settings.retry_seconds
    if text is None:
        return RETRY_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_RETRY_SECONDS:  # also refuses nan
        raise RetrievalError(
            f"NEO4J_RETRY_SECONDS must be a number of seconds from 0 to {MAX_RETRY_SECONDS:.0f}, not {text[:40]!r}."
        )
    return seconds


def local_server(settings: Settings) -> LocalNeo4j:
    """The user's local server: home `.neo4j/default` in the working directory and port 7687 unless
    NEO4J_LOCAL_HOME and NEO4J_LOCAL_PORT say otherwise; its password NEO4J_PASSWORD if set."""
    home = Path(settings.local_home or settings.project / ".neo4j" / "default")
    if home.exists() and not home.is_dir():
        raise RetrievalError(f"NEO4J_LOCAL_HOME must be a folder (the local server's home), and {home} is not one.")
    text = settings.local_port or str(DEFAULT_PORT)
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise RetrievalError(f"NEO4J_LOCAL_PORT must be a port number from 1 to 65535, not {text[:40]!r}.")
    return LocalNeo4j(home=home.absolute(), port=port, given_password=settings.neo4j_password)


CONNECTION_TIMEOUT = 30.0  # seconds to open a connection: the driver's default


def open_driver(settings: Neo4jSettings, connection_timeout: float = CONNECTION_TIMEOUT) -> Driver:
    """A driver whose connectivity and credentials are already checked; the caller closes it. A page
    that must say an outage within seconds gives a short `connection_timeout` (a server that drops
    packets, rather than refusing the connection, would otherwise keep it waiting that long)."""
    try:
        # Schema notifications (e.g. "property does not exist yet" on an empty store) are noise here.
        driver = GraphDatabase.driver(
            settings.uri,
            auth=(settings.username, settings.password),
            notifications_min_severity="OFF",
            connection_timeout=connection_timeout,
            max_transaction_retry_time=settings.retry_seconds,
        )
    except (ConfigurationError, ValueError) as e:
        raise Neo4jUnavailable(settings.uri, f"the URI is not valid ({e})", settings.hint()) from e
    try:
        check_reachable(driver, settings)
    except RetrievalError:
        driver.close()
        raise
    return driver


def check_reachable(driver: Driver, settings: Neo4jSettings) -> None:
    """Raise `Neo4jUnavailable` unless the server answers and takes our credentials. Asked before a
    page reads: a stopped server refuses the connection at once, where a query would be retried by
    the driver for half a minute before failing."""
    try:
        driver.verify_connectivity()
    except (DriverError, Neo4jError, OSError) as e:
        raise translated(e, settings, "connecting", connecting=True) from e


@contextmanager
def open_store(settings: Settings, label: str = DEFAULT_LABEL, doing: str = "in the store") -> Iterator[ImageStore]:
    """The store on the server `settings` name (NEO4J_URI, else the local one), its connection checked
    first and closed after. The store's own methods raise only `RetrievalError`s; a driver error met
    by other work inside (a result read after its transaction, ...) becomes one too, saying it
    happened `doing` something (see retrieval/neo4j/errors.py)."""
    server = neo4j_settings(settings)
    with open_driver(server) as driver, driver_errors(server, doing):
        yield ImageStore(driver, server.database, label=label, server=server)
