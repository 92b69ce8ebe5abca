"""One root error, so the CLI, the app and a program calling the library catch one type and say it
plainly: every failure a user can meet is a `RetrievalError`, whose message is what to tell them.
Driver errors become these at the edge of the storage layer, in one place (`translated` in retrieval/neo4j/errors.py)."""

from __future__ import annotations

from typing import Protocol


class RetrievalError(Exception):
    """Base of every error this library raises on purpose; its message is meant for the user."""

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled as its message and attributes, never through its own `__init__`, whose arguments
        differ from the message: a Ray worker's error (an outage, say) reaches the driver as itself."""
        return (_rebuilt, (type(self), self.args, self.__dict__))


def _rebuilt(kind: type[RetrievalError], args: tuple[object, ...], state: dict[str, object]) -> RetrievalError:
    error = kind.__new__(kind, *args)
    error.__dict__.update(state)
    return error


class Neo4jUnavailable(RetrievalError):
    """The Neo4j server at `uri` could not be reached or refused our credentials."""

    def __init__(self, uri: str, detail: str, hint: str) -> None:
        super().__init__(f"Cannot use Neo4j at {uri}: {detail}. {hint}")
        self.uri = uri


class ConnectionLost(Neo4jUnavailable):
    """The connection to a server that answered at first was lost midway."""


class DriverFailed(RetrievalError):
    """The Neo4j driver failed in a way no layer below put in words (the last resort)."""


class BadArgument(RetrievalError, ValueError):
    """A value the library refuses before any query: out of range, or of the wrong form."""


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class ExampleGone(RetrievalError):
    """An indexed example whose node was removed (pruned, re-indexed elsewhere) since it was picked."""

    def __init__(self, example: _Named) -> None:
        super().__init__(f"{example.name} is no longer indexed")
        self.example = example


class ServerError(RetrievalError):
    """The local Neo4j server could not be fetched, started or stopped."""


class UnreadableImage(RetrievalError):
    """A file or upload that is not an image we can decode; `reason` says why in a few words."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


class ModelUnavailable(RetrievalError):
    """A named model cannot be loaded here (unknown name, or weights missing)."""


INDEX_NOT_FOUND = "Neo.ClientError.Schema.IndexNotFound"  # what the SEARCH clause answers for a missing index


class QueryFailed(RetrievalError):
    """The server refused or failed a query: `code` is its Neo4j status code, and the message says what to do."""

    def __init__(self, code: str, message: str) -> None:
        first_line = message.strip().splitlines()[0] if message.strip() else code
        super().__init__(f"Neo4j could not run a query ({code}: {first_line}). {_advice(code, message)}")
        self.code = code


def _advice(code: str, message: str) -> str:
    if "OutOfMemory" in code or "OutOfMemory" in message or "MemoryPoolOutOfMemory" in code:
        return "The server ran out of memory: ask for fewer results, or give Neo4j more heap (server.memory.heap.max_size)."
    if code.startswith("Neo.ClientError.Security"):
        return "Your Neo4j user lacks the rights for this; ask your Neo4j admin, or use a user that may write for indexing."
    if "AccessMode" in code:
        return "This action needs a writable server (the leader of a cluster, and a user that may write)."
    if code == INDEX_NOT_FOUND or "no such vector schema index" in message.lower() or "There is no such vector" in message:
        return "The vector index does not exist yet: run `python -m retrieval index FOLDER` first."
    if code.startswith("Neo.TransientError"):
        return "The server was busy; try again in a moment."
    return "See the Neo4j server's log for details."
