"""One root error, so the CLI and the app can catch what the library raises and say it plainly."""

from __future__ import annotations


class RetrievalError(Exception):
    """Base of every error this library raises on purpose; its message is meant for the user."""


class Neo4jUnavailable(RetrievalError):
    """The Neo4j server at `uri` could not be reached or refused our credentials."""

    def __init__(self, uri: str, detail: str, hint: str) -> None:
        super().__init__(f"Cannot use Neo4j at {uri}: {detail}. {hint}")
        self.uri = uri


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
