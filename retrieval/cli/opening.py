"""What most commands start with: the model they use, the store they read and write, and (only for
those that embed) the loaded model."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from retrieval import DEFAULT_LABEL, Embedder, ImageStore, ModelChoice, Settings, choose_model, open_store
from retrieval.cli.progress import say


@contextmanager
def opened_store(settings: Settings, command: str, label: str = DEFAULT_LABEL) -> Iterator[ImageStore]:
    """The store a command reads and writes, for the length of the command; a driver error (a lost
    connection, after the driver's own retries) becomes one clear `RetrievalError` naming the `command`."""
    with open_store(settings, label, doing=f"during `{command}`") as store:
        yield store


def chosen_model(name: str | None, settings: Settings) -> ModelChoice:
    choice = choose_model(name, settings)
    say(f"Model: {choice.spec.name} ({choice.reason})")
    return choice


def loaded_embedder(choice: ModelChoice, settings: Settings) -> Embedder:
    """The model, loaded: only commands that embed load torch or OpenVINO (start-up of the others stays short)."""
    embedder = Embedder.load(choice.spec, settings)
    say(f"Runtime: {embedder.runtime.name} ({embedder.runtime.reason})")
    return embedder
