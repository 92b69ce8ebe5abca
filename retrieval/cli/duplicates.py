"""`duplicates`: groups of duplicate images in tiers (same picture, near-duplicates, similar), from the
stored similarity links; as text, JSON, or a group's paths to act on elsewhere. Nothing is deleted."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from retrieval.cli.arguments import MODEL_HELP, command, cosine, whole
from retrieval.cli.opening import chosen_model, opened_store
from retrieval.cli.progress import say
from retrieval.duplicates import DEFAULT_TIER, PER_PAGE, TIERS, DuplicatePage, duplicate_page, group_paths, tier_named
from retrieval.neo4j.store import ImageStore
from retrieval.vision.models import ModelChoice

if TYPE_CHECKING:
    from retrieval.cli.arguments import Commands

MANY = 1_000_000  # the most a page number or group number can be
DESCRIPTION = (  # the tiers' own figures, so it cannot go stale
    "Images joined by SIMILAR_TO links at or above a tier's cosine form a group; a tier holds the closer ones too. Tiers: "
    + "; ".join(f"{t.name} ({t.title.lower()}, cosine >= {t.threshold}): {t.means}" for t in TIERS)
    + ". Chosen by measurement: docs/QUALITY.md. Nothing is deleted: --paths or --json give lists to act on."
)


def add_duplicates(sub: Commands) -> None:
    duplicates = command(sub, cmd_duplicates, description=DESCRIPTION)
    duplicates.add_argument(
        "--tier", choices=[t.name for t in TIERS], default=DEFAULT_TIER.name, help=f"default {DEFAULT_TIER.name}"
    )
    duplicates.add_argument("--threshold", type=cosine, help="a cosine, -1 to 1, instead of the tier's")
    where = duplicates.add_mutually_exclusive_group()
    where.add_argument("--page", type=whole(1, MANY), help=f"only this page of {PER_PAGE} groups (default: every group)")
    where.add_argument("--group", type=whole(1, MANY), help="only this group (its number in the listing)")
    shown = duplicates.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="a JSON array of groups: tier, score range, members' facts")
    shown.add_argument("--paths", action="store_true", help="only paths, one a line, a blank line between groups")
    duplicates.add_argument("--model", help=MODEL_HELP)


def cmd_duplicates(args: argparse.Namespace) -> int:
    """list groups of duplicate images in tiers, largest first (nothing is deleted)"""
    tier = tier_named(args.tier, args.threshold)
    choice = chosen_model(args.model, args.settings)
    with opened_store(args) as store:
        if not args.json and not args.paths:
            _say_unlinked(store, choice)
        if args.group:
            found = duplicate_page(store, choice.spec, tier, page=args.group, per_page=1)
        else:
            found = duplicate_page(store, choice.spec, tier, page=args.page or 1, per_page=PER_PAGE if args.page else None)
    if args.json:
        print(json.dumps([g.as_json() for g in found.groups], indent=1))
    elif args.paths:
        print(group_paths(found.groups), end="")
    else:
        _print(found, tier.title.lower())
    return 0


def _print(found: DuplicatePage, title: str) -> None:
    at = f"cosine >= {found.tier.threshold}"
    if not found.total_groups:
        print(f"No {title} at {at} (run `index` or `link` first if nothing is linked).")
        return
    if not found.groups:
        print(f"{found.total_groups} groups of {title} at {at}: nothing at that page or group number.")
        return
    shown = f", page {found.page} of {found.pages}" if found.per_page < found.total_groups else ""
    print(f"{found.total_groups} groups of {title} ({at}), {found.total_images} images, largest first{shown}:")
    for group in found.groups:
        print(f"\ngroup {group.number}: {len(group.members)} images, cosine {group.lowest:.3f} to {group.best:.3f}")
        print(f"  {'; '.join(group.differences())}")
        for member in group.members:
            print(f"  {member.path}  ({member.facts()}, best match {member.match:.3f})")


def _say_unlinked(store: ImageStore, choice: ModelChoice) -> None:
    """Reads never link (only `index` and `link` write), so say when images have no similarity list yet."""
    if unlisted := store.count_unlisted(choice.spec.space):
        say(f"{unlisted} images have no similarity list yet (indexed with --no-link): run `python -m retrieval link`")
