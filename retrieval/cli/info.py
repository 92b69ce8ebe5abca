"""`models` and `stats`: what this machine can run, and what the database holds."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from retrieval import MODELS, RetrievalError, Settings, choose_model
from retrieval.cli.arguments import by_name, command
from retrieval.cli.opening import opened_store

if TYPE_CHECKING:
    from retrieval.cli.arguments import Commands


@dataclass(frozen=True)
class ModelsOptions:
    """`models` takes no options."""


@dataclass(frozen=True)
class StatsOptions:
    json: bool  # the figures as a JSON object


def add_models(sub: Commands) -> None:
    command(sub, cmd_models, by_name(ModelsOptions))


def add_stats(sub: Commands) -> None:
    stats = command(sub, cmd_stats, by_name(StatsOptions))
    stats.add_argument("--json", action="store_true", help="print the figures as a JSON object")


def cmd_models(options: ModelsOptions, settings: Settings) -> int:
    """list the models and whether each is usable here"""
    rows = [(spec.name, spec.dimensions, spec.availability(settings)) for spec in MODELS.values()]
    width = max(len(name) for name, _, _ in rows)
    for name, dims, available in rows:
        print(f"{name:<{width}}  {dims:>5}-d  {'usable' if available.usable else 'unusable':<8}  {available.reason}")
    try:
        choice = choose_model(None, settings)
        print(f"\ndefault: {choice.spec.name} ({choice.reason})")
    except RetrievalError as e:
        print(f"\ndefault: none ({e})")
    return 0


def cmd_stats(options: StatsOptions, settings: Settings) -> int:
    """images stored and the state of each model's vector index"""
    with opened_store(settings, "stats") as store:
        stats = store.stats(m.space for m in MODELS.values())
    if options.json:
        print(json.dumps(asdict(stats), indent=1))
        return 0
    print(f"images: {stats.images}")
    for index in stats.indexes:
        print(
            f"  {index.model:<26} index {index.index_name:<34} {index.state:<10} "
            f"{index.population_percent:5.1f}% populated  {index.vectors} vectors"
            + (f" ({index.by_precision})" if index.precisions else "")
        )
    return 0
