"""`models` and `stats`: what this machine can run, and what the database holds."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import TYPE_CHECKING

from retrieval.cli.arguments import command
from retrieval.cli.opening import opened_store
from retrieval.core.errors import RetrievalError
from retrieval.vision.models import MODELS, choose_model

if TYPE_CHECKING:
    from retrieval.cli.arguments import Commands


def add_models(sub: Commands) -> None:
    command(sub, cmd_models)


def add_stats(sub: Commands) -> None:
    stats = command(sub, cmd_stats)
    stats.add_argument("--json", action="store_true", help="print the figures as a JSON object")


def cmd_models(args: argparse.Namespace) -> int:
    """list the models and whether each is usable here"""
    rows = [(spec.name, spec.dimensions, spec.availability(args.settings)) for spec in MODELS.values()]
    width = max(len(name) for name, _, _ in rows)
    for name, dims, available in rows:
        print(f"{name:<{width}}  {dims:>5}-d  {'usable' if available.usable else 'unusable':<8}  {available.reason}")
    try:
        choice = choose_model(None, args.settings)
        print(f"\ndefault: {choice.spec.name} ({choice.reason})")
    except RetrievalError as e:
        print(f"\ndefault: none ({e})")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    """images stored and the state of each model's vector index"""
    with opened_store(args) as store:
        stats = store.stats(m.space for m in MODELS.values())
    if args.json:
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
