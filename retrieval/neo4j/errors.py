"""The one place an error of the Neo4j driver becomes a `RetrievalError` kind (`translated`): every
store method runs its statements inside `driver_errors`, and so do the CLI's and the app's outermost
frames, so a caller catches `RetrievalError` alone whatever the driver raised.

What the server is (its URI, and how to start or check it) comes from a `Server`: the settings the
store was opened with (`Neo4jSettings`), or, for a store made on a bare driver, the driver's address."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from neo4j import Driver
from neo4j.exceptions import AuthError, DriverError, Neo4jError, ServiceUnavailable, SessionExpired

from retrieval.core.errors import ConnectionLost, DriverFailed, Neo4jUnavailable, QueryFailed, RetrievalError

CHECK_SERVER = "Check that this server is running and reachable, and the NEO4J_* settings."


class Server(Protocol):
    """Which server an error happened on, and what a user does about it being away."""

    @property
    def uri(self) -> str: ...

    def hint(self) -> str: ...


@dataclass(frozen=True)
class DriverServer:
    """The server of a driver made by a program itself (`ImageStore(driver)`), named by its address."""

    uri: str

    @classmethod
    def of(cls, driver: Driver) -> DriverServer:
        # A routing driver lists its initial addresses; a direct (bolt://) one keeps its one in its pool.
        addresses = getattr(driver, "initial_addresses", None) or [getattr(getattr(driver, "_pool", None), "address", None)]
        return cls(str(addresses[0]) if addresses[0] is not None else "the driver's server")

    def hint(self) -> str:
        return CHECK_SERVER


def translated(
    error: DriverError | Neo4jError | OSError, server: Server, doing: str, *, connecting: bool = False
) -> RetrievalError:
    """What went wrong and what to do, for an error of the driver met while `doing` something (e.g.
    "during `index`"): credentials refused; a server away (not reachable when `connecting`, else a
    connection lost, after the driver's own retries); a query the server refused or failed (its
    status code, transient ones included); anything else the driver raised, named as the last resort."""
    if isinstance(error, AuthError):
        return Neo4jUnavailable(server.uri, "the username or password was rejected", server.hint())
    if connecting:
        return Neo4jUnavailable(server.uri, "the server is not reachable", server.hint())
    if isinstance(error, ServiceUnavailable | SessionExpired | OSError):
        return ConnectionLost(server.uri, "the connection was lost", f"Work finished before this is kept. {server.hint()}")
    if isinstance(error, Neo4jError) and error.code:
        return QueryFailed(error.code, error.message or str(error))
    detail = " ".join(str(error).split()) or "no detail"
    return DriverFailed(f"Neo4j failed {doing} ({type(error).__name__}: {detail}). See the Neo4j server's log for more.")


@contextmanager
def driver_errors(server: Server, doing: str) -> Iterator[None]:
    """Around work on the server: a driver error becomes a `RetrievalError` (see `translated`)."""
    try:
        yield
    except (DriverError, Neo4jError) as e:
        raise translated(e, server, doing) from e
