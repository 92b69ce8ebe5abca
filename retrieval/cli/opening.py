"""What most commands start with: the model they use, the store they read and write, and (only for
those that embed) the loaded model."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from neo4j import Driver
from neo4j.exceptions import ServiceUnavailable, SessionExpired

from retrieval.cli.progress import say
from retrieval.core.errors import Neo4jUnavailable
from retrieval.core.settings import Settings
from retrieval.neo4j.base import DEFAULT_LABEL
from retrieval.neo4j.connection import neo4j_settings, open_driver
from retrieval.neo4j.store import ImageStore
from retrieval.vision.models import ModelChoice, choose_model

if TYPE_CHECKING:
    from retrieval.vision.embed import Embedder


@contextmanager
def opened_driver(given: Settings) -> Iterator[tuple[Driver, str | None]]:
    """A checked driver and its database; a connection lost later (after the driver's own retries)
    becomes one clear error."""
    settings = neo4j_settings(given)
    driver = open_driver(settings)
    try:
        yield driver, settings.database
    except (ServiceUnavailable, SessionExpired) as e:
        raise Neo4jUnavailable(
            settings.uri, "the connection was lost", f"Work finished before this is kept. {settings.hint()}"
        ) from e
    finally:
        driver.close()


@contextmanager
def opened_store(settings: Settings, label: str = DEFAULT_LABEL) -> Iterator[ImageStore]:
    """The store of the server `settings` name, for the length of a command."""
    with opened_driver(settings) as (driver, database):
        yield ImageStore(driver, database, label=label)


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
