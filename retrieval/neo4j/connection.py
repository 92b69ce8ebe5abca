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
from neo4j.exceptions import AuthError, ConfigurationError, DriverError, Neo4jError, ServiceUnavailable, SessionExpired

from retrieval.core.errors import ConnectionLost, DriverFailed, Neo4jUnavailable, QueryFailed, RetrievalError
from retrieval.core.settings import Settings
from retrieval.neo4j.base import DEFAULT_LABEL
from retrieval.neo4j.server import DEFAULT_PORT, START_COMMAND, LocalNeo4j
from retrieval.neo4j.store import ImageStore


@dataclass(frozen=True)
class Neo4jSettings:
    uri: str
    username: str
    password: str
    database: str | None
    local: LocalNeo4j | None  # the project's own server, when no NEO4J_URI was given

    def hint(self) -> str:
        if self.local:
            return f"Start the local Neo4j with `{START_COMMAND}`."
        return "Check that this server is running and reachable, and the NEO4J_* settings."


def neo4j_settings(settings: Settings) -> Neo4jSettings:
    """The server `settings` name (NEO4J_URI), or else the project's local one."""
    if settings.neo4j_uri:
        return Neo4jSettings(
            uri=settings.neo4j_uri,
            username=settings.neo4j_username or "neo4j",
            password=settings.neo4j_password or "",
            database=settings.neo4j_database,
            local=None,
        )
    local = local_server(settings)
    return Neo4jSettings(uri=local.uri, username="neo4j", password=local.password(), database=None, local=local)


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
    except AuthError as e:
        raise Neo4jUnavailable(settings.uri, "the username or password was rejected", settings.hint()) from e
    except (DriverError, Neo4jError, OSError) as e:
        raise Neo4jUnavailable(settings.uri, "the server is not reachable", settings.hint()) from e


def neo4j_failure(error: DriverError | Neo4jError, settings: Neo4jSettings, doing: str) -> RetrievalError:
    """What went wrong and what to do, for an error of the Neo4j driver met while `doing` something
    (e.g. "during `index`"): a lost server is named with how to start it. The one place a driver
    error is put in words."""
    if isinstance(error, ServiceUnavailable | SessionExpired):
        return ConnectionLost(settings.uri, "the connection was lost", f"Work finished before this is kept. {settings.hint()}")
    if isinstance(error, Neo4jError) and error.code:
        return QueryFailed(error.code, error.message or str(error))
    detail = " ".join(str(error).split()) or "no detail"
    return DriverFailed(f"Neo4j failed {doing} ({type(error).__name__}: {detail}). See the Neo4j server's log for more.")


@contextmanager
def neo4j_errors(settings: Neo4jSettings, doing: str) -> Iterator[None]:
    """Around work on the server: a driver error becomes a `RetrievalError` (see `neo4j_failure`), so
    the caller catches one type."""
    try:
        yield
    except (DriverError, Neo4jError) as e:
        raise neo4j_failure(e, settings, doing) from e


@contextmanager
def open_store(settings: Settings, label: str = DEFAULT_LABEL, doing: str = "in the store") -> Iterator[ImageStore]:
    """The store on the server `settings` name (NEO4J_URI, else the local one), its connection checked
    first and closed after; a driver error inside (a lost connection, ...) becomes a `RetrievalError`
    saying it happened `doing` something."""
    server = neo4j_settings(settings)
    with open_driver(server) as driver, neo4j_errors(server, doing):
        yield ImageStore(driver, server.database, label=label)
