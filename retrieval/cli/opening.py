"""What most commands start with: the model they use, the store they read and write, and (only for
those that embed) the loaded model."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from retrieval.cli.progress import say
from retrieval.core.settings import Settings
from retrieval.neo4j.base import DEFAULT_LABEL
from retrieval.neo4j.connection import open_store
from retrieval.neo4j.store import ImageStore
from retrieval.vision.models import ModelChoice, choose_model

if TYPE_CHECKING:
    from retrieval.vision.embed import Embedder


@contextmanager
def opened_store(args: argparse.Namespace, label: str = DEFAULT_LABEL) -> Iterator[ImageStore]:
    """The store a command reads and writes, for the length of the command; a driver error (a lost
    connection, after the driver's own retries) becomes one clear `RetrievalError` naming the command."""
    with open_store(args.settings, label, doing=f"during `{args.command}`") as store:
        yield store


def chosen_model(name: str | None, settings: Settings) -> ModelChoice:
    choice = choose_model(name, settings)
    say(f"Model: {choice.spec.name} ({choice.reason})")
    return choice


def loaded_embedder(choice: ModelChoice, settings: Settings) -> Embedder:
    """The model, loaded: only commands that embed import torch (start-up of the others stays short)."""
    from retrieval.vision.embed import Embedder

    embedder = Embedder.load(choice.spec, settings)
    say(f"Runtime: {embedder.runtime.name} ({embedder.runtime.reason})")
    return embedder
