"""`duplicates`: groups of duplicate images in tiers (same picture, near-duplicates, similar), from the
stored similarity links; as text, JSON, or a group's paths to act on elsewhere; and their resolution
(one copy kept, the others set aside into a review folder, undone at will) and "not duplicates" marks.
Nothing is deleted."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval import (
    DEFAULT_KEEP,
    DEFAULT_TIER,
    KEEP_RULES,
    PER_PAGE,
    REVIEW_FOLDER,
    TIERS,
    DuplicatePage,
    ImageStore,
    ModelChoice,
    RetrievalError,
    Settings,
    duplicate_page,
    group_paths,
    keeper,
    mark_not_duplicates,
    normalized_folder,
    plan_resolution,
    resolve,
    tier_named,
    undo,
    unmark_not_duplicates,
    why_kept,
)
from retrieval.cli.arguments import MODEL_HELP, by_name, command, cosine, whole
from retrieval.cli.opening import chosen_model, opened_store
from retrieval.cli.progress import say

if TYPE_CHECKING:
    from retrieval.cli.arguments import Commands

MANY = 1_000_000  # the most a page number or group number can be
DESCRIPTION = (  # the tiers' own figures, so it cannot go stale
    "Images joined by SIMILAR_TO links at or above a tier's cosine form a group; a tier holds the closer ones too. Tiers: "
    + "; ".join(f"{t.name} ({t.title.lower()}, cosine >= {t.threshold}): {t.means}" for t in TIERS)
    + ". Chosen by measurement: docs/QUALITY.md. Each group names the copy it would keep (--keep). Nothing is "
    "deleted: --resolve moves the other copies into a review folder with a manifest, --undo puts them back."
)


@dataclass(frozen=True)
class DuplicatesOptions:
    tier: str  # a tier's name
    threshold: float | None  # a cosine instead of the tier's
    page: int | None  # only this page of groups
    group: int | None  # only this group
    json: bool  # the groups as JSON
    paths: bool  # only the groups' paths
    model: str | None
    keep: str  # the rule that picks each group's copy to keep
    resolve: bool  # set the other copies aside
    undo: str | None  # put back what a resolution set aside ("": the last one), or None
    not_duplicates: tuple[str, ...]  # paths to mark as not duplicates of one another
    unmark: tuple[str, ...]  # paths whose "not duplicates" marks to forget
    move_to: Path | None  # with `resolve`: the review folder
    dry_run: bool  # with `resolve`: say what would move


def add_duplicates(sub: Commands) -> None:
    duplicates = command(sub, cmd_duplicates, by_name(DuplicatesOptions), description=DESCRIPTION)
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
    duplicates.add_argument(
        "--keep",
        choices=list(KEEP_RULES),
        default=DEFAULT_KEEP,
        help="the copy each group keeps: " + "; ".join(f"{k}: {v}" for k, v in KEEP_RULES.items()) + f" (default {DEFAULT_KEEP})",
    )
    acts = duplicates.add_mutually_exclusive_group()
    acts.add_argument(
        "--resolve",
        action="store_true",
        help="keep one copy per group (all groups, or --page/--group) and move the others into a review folder",
    )
    acts.add_argument(
        "--undo",
        nargs="?",
        const="",
        metavar="MANIFEST",
        help="put back what a resolution set aside (its manifest; default: the last resolution or mark)",
    )
    acts.add_argument(
        "--not-duplicates", nargs="+", default=(), metavar="PATH", help="mark these images as not duplicates of one another"
    )
    acts.add_argument(
        "--unmark", nargs="+", default=(), metavar="PATH", help="forget the 'not duplicates' marks holding all these images"
    )
    duplicates.add_argument(
        "--move-to",
        type=Path,
        metavar="DIR",
        help=f"with --resolve: the review folder (default: {REVIEW_FOLDER} in the folder the group's files lie in)",
    )
    duplicates.add_argument("--dry-run", action="store_true", help="with --resolve: print what would move, move nothing")


def cmd_duplicates(options: DuplicatesOptions, settings: Settings) -> int:
    """list groups of duplicate images in tiers, largest first (nothing is deleted)"""
    if (options.move_to or options.dry_run) and not options.resolve:
        raise RetrievalError("--move-to and --dry-run go with --resolve.")
    if options.undo is not None or options.not_duplicates or options.unmark:
        with opened_store(settings, "duplicates") as store:
            return _mark_or_undo(store, options)
    tier = tier_named(options.tier, options.threshold)
    choice = chosen_model(options.model, settings)
    with opened_store(settings, "duplicates") as store:
        if not options.json and not options.paths:
            _say_unlinked(store, choice)
        if options.group:
            found = duplicate_page(store, choice.spec, tier, page=options.group, per_page=1)
        else:
            found = duplicate_page(store, choice.spec, tier, page=options.page or 1, per_page=PER_PAGE if options.page else None)
        if options.resolve:
            return _resolve(store, found, options)
    if options.json:
        print(json.dumps([{**g.as_json(), "keep": keeper(g, options.keep).path} for g in found.groups], indent=1))
    elif options.paths:
        print(group_paths(found.groups), end="")
    else:
        _print(found, tier.title.lower(), options.keep)
    return 0


def _resolve(store: ImageStore, found: DuplicatePage, options: DuplicatesOptions) -> int:
    plan = plan_resolution(found.groups, options.keep, options.move_to)
    if not plan.moves:
        print("No group to resolve.")
        return 0
    if options.dry_run:
        print(f"Would set aside {len(plan.moves)} files of {len(found.groups)} groups into {plan.review / plan.id}:")
        print("\n".join(plan.lines()))
        return 0
    done = resolve(store, plan)
    print(done.summary())
    for path, why in done.skipped:
        print(f"  left as it is: {path} ({why})")
    return 0


def _mark_or_undo(store: ImageStore, options: DuplicatesOptions) -> int:
    if options.not_duplicates:
        paths = [str(normalized_folder(Path(p))) for p in options.not_duplicates]
        mark = mark_not_duplicates(store, paths)
        print(f"Marked {len(set(paths))} images as not duplicates of one another ({mark}; undo: --undo or --unmark).")
    elif options.unmark:
        n = unmark_not_duplicates(store, [str(normalized_folder(Path(p))) for p in options.unmark])
        print(f"Forgot {n} 'not duplicates' marks." if n else "No 'not duplicates' mark holds all of these images.")
    else:
        done = undo(store, options.undo or None)
        print(done.summary())
        for path, why in done.left:
            print(f"  {path}: {why}")
        return 1 if done.left else 0
    return 0


def _print(found: DuplicatePage, title: str, rule: str) -> None:
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
        kept = keeper(group, rule)
        print(f"  keep: {kept.path} ({why_kept(group, kept, rule)})")
        for member in group.members:
            print(f"  {member.path}  ({member.facts()}, best match {member.match:.3f})")


def _say_unlinked(store: ImageStore, choice: ModelChoice) -> None:
    """Reads never link (only `index` and `link` write), so say when images have no similarity list yet."""
    if unlisted := store.count_unlisted(choice.spec.space):
        say(f"{unlisted} images have no similarity list yet (indexed with --no-link): run `python -m retrieval link`")
