"""`duplicates`: groups of near-duplicate images, from the stored similarity links."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from retrieval.cli.arguments import MODEL_HELP, cosine
from retrieval.cli.opening import chosen_model, opened_store
from retrieval.cli.progress import say
from retrieval.duplicates import DEFAULT_THRESHOLD, duplicate_groups
from retrieval.neo4j.store import ImageStore
from retrieval.vision.models import ModelChoice

if TYPE_CHECKING:
    from retrieval.cli.arguments import Commands


def add_duplicates(sub: Commands) -> None:
    duplicates = sub.add_parser(
        "duplicates",
        help="list groups of near-duplicate images, largest first",
        description=(
            "Images joined by SIMILAR_TO links at or above the threshold form a group (copies re-encoded, resized, "
            f"cropped or mirrored score above it; different photos of the same thing below). Default {DEFAULT_THRESHOLD}."
        ),
    )
    duplicates.add_argument(
        "--threshold", type=cosine, default=DEFAULT_THRESHOLD, help=f"cosine, -1 to 1 (default {DEFAULT_THRESHOLD})"
    )
    duplicates.add_argument("--model", help=MODEL_HELP)
    duplicates.set_defaults(func=cmd_duplicates)


def cmd_duplicates(args: argparse.Namespace) -> int:
    choice = chosen_model(args.model, args.settings)
    with opened_store(args.settings) as store:
        _say_unlinked(store, choice)
        groups = duplicate_groups(store, choice.spec, args.threshold)
    if not groups:
        print(f"No near-duplicates at cosine >= {args.threshold} (run `index` or `link` first if nothing is linked).")
        return 0
    print(f"{len(groups)} groups of near-duplicates (cosine >= {args.threshold}), largest first:")
    for number, group in enumerate(groups, 1):
        print(f"\ngroup {number}: {len(group.paths)} images, cosine {group.lowest_score:.3f} to {group.best_score:.3f}")
        for path in group.paths:
            print(f"  {path}")
    return 0


def _say_unlinked(store: ImageStore, choice: ModelChoice) -> None:
    """Reads never link (only `index` and `link` write), so say when images have no similarity list yet."""
    if unlisted := store.count_unlisted(choice.spec.space):
        say(f"{unlisted} images have no similarity list yet (indexed with --no-link): run `python -m retrieval link`")
