"""`index` and `link`: embed a folder's images into the store, and write their similarity lists."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval import NEIGHBOURS, Embedder, Embedding, FileRules, ModelChoice, Settings, index_folder, update_links
from retrieval.cli.arguments import MODEL_HELP, by_name, command, cosine, existing, whole
from retrieval.cli.opening import chosen_model, loaded_embedder, opened_store
from retrieval.cli.progress import Bars, say

if TYPE_CHECKING:
    from retrieval.cli.arguments import Commands

LINKING = "Linking similar images"
NOT_LINKED = (
    "Similarity links not updated (--no-link): every image is searchable as usual, but the new images have no "
    "SIMILAR_TO list (no near-duplicate groups or graph neighbours for them) until `python -m retrieval link`."
)

# Ranges of the numeric options, refused outside them before any query or model load.
MAX_LINKS = 100  # link --k: the server ranks 4x as many index candidates per image, 100 images per query
MAX_BATCH = 1024  # index --batch-size: a batch's 224x224 float tensors alone are 0.6 GB at 1024


@dataclass(frozen=True)
class IndexOptions:
    folder: Path
    model: str | None  # by name; None: the default
    batch_size: int
    prune: bool  # also remove the nodes of images below the folder whose files are gone
    reembed: bool  # forget vectors another version of the model made, and embed anew
    rules: FileRules  # what the run leaves out (hidden, excluded, RAW pairs) and whether pruning removes it
    verbose: bool  # every skipped file with its reason
    if_empty: bool  # nothing to do if the database holds images
    link: bool  # write the new images' SIMILAR_TO lists
    ray: str | None  # a Ray cluster's address ("": a local one), or None: embed here

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> IndexOptions:
        return cls(
            folder=args.folder,
            model=args.model,
            batch_size=args.batch_size,
            prune=args.prune,
            reembed=args.reembed,
            rules=FileRules(
                args.include_hidden, tuple(args.exclude), prune_left_out=args.prune_excluded, raw_pairs=args.raw_pairs
            ),
            verbose=args.verbose,
            if_empty=args.if_empty,
            link=args.link,
            ray=args.ray,
        )


@dataclass(frozen=True)
class LinkOptions:
    k: int  # neighbours per image
    min_score: float  # leave out neighbours below this cosine
    missing: bool  # only images without a current list
    model: str | None


def add_index(sub: Commands) -> None:
    index = command(sub, cmd_index, IndexOptions.from_args)
    index.add_argument("folder", type=existing("folder"))
    index.add_argument("--model", help=MODEL_HELP)
    index.add_argument(
        "--batch-size",
        type=whole(1, MAX_BATCH),
        default=32,
        help=f"images per model batch and per write, 1 to {MAX_BATCH} (default 32)",
    )
    index.add_argument("--prune", action="store_true", help="also remove the nodes of images below FOLDER whose files are gone")
    index.add_argument(
        "--reembed",
        action="store_true",
        help="when the stored vectors were made by another version of the model: forget them all and embed FOLDER anew",
    )
    index.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="leave out paths matching GLOB, relative to FOLDER, e.g. 'raw/*' or '*/thumbs/*' (repeat for more)",
    )
    index.add_argument(
        "--include-hidden",
        action="store_true",
        help="also index hidden files and folders (a name starting with a dot, as .thumbnails/), left out by default",
    )
    index.add_argument(
        "--prune-excluded",
        action="store_true",
        help="with --prune, also remove the nodes of images below FOLDER that are hidden or excluded (kept by default)",
    )
    index.add_argument(
        "--raw-pairs",
        action="store_true",
        help="also index a camera RAW beside a picture of the same name (IMG_1.CR2 and IMG_1.JPG); left out by default",
    )
    index.add_argument(
        "--verbose", action="store_true", help="list every skipped file with its reason (counted by reason otherwise)"
    )
    index.add_argument("--if-empty", action="store_true", help="do nothing if the database already holds images")
    index.add_argument(
        "--no-link",
        dest="link",
        action="store_false",
        help="write no SIMILAR_TO lists for the new images (searches are unchanged; duplicates miss them until `link`)",
    )
    index.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help=(
            "embed on a Ray cluster: its workers read the files (at the same paths) and write to Neo4j themselves; "
            "ADDRESS of a running cluster (auto, HOST:PORT; ray://HOST:PORT with ray[client]), or none: a local one here"
        ),
    )


def add_link(sub: Commands) -> None:
    link = command(sub, cmd_link, by_name(LinkOptions))
    link.add_argument(
        "--k",
        type=whole(1, MAX_LINKS),
        default=NEIGHBOURS,
        help=f"neighbours per image, 1 to {MAX_LINKS} (default {NEIGHBOURS})",
    )
    link.add_argument(
        "--min-score", type=cosine, default=-1.0, help="leave out neighbours below this cosine, -1 to 1 (default: none)"
    )
    link.add_argument(
        "--missing",
        action="store_true",
        help="only images without a current list (after index --no-link), and short ones: read while the catalogue was smaller",
    )
    link.add_argument("--model", help=MODEL_HELP)


def cmd_index(options: IndexOptions, settings: Settings) -> int:
    """index the images in a folder (recursive, incremental)

    Embed every picture below FOLDER (JPEG, PNG, WebP, BMP, GIF, TIFF, AVIF, HEIC/HEIF, JPEG XL, camera RAW) and store
    it in Neo4j. Unchanged files are skipped; unreadable ones are counted by reason (listed with --verbose) and indexing
    goes on; other files (videos, sidecars) are counted by extension.
    """
    folder = options.folder
    choice = chosen_model(options.model, settings)
    with opened_store(settings, "index") as store:
        if options.if_empty and (images := store.stats([]).images):
            say(f"The database already holds {images} images; not indexing {folder} (--if-empty).")
            return 0
        with _embedding(options.ray, choice, settings) as embedding, Bars() as bars:
            report = index_folder(
                store,
                embedding,
                folder,
                batch_size=options.batch_size,
                prune=options.prune,
                reembed=options.reembed,
                progress=bars.follow(f"Indexing {folder}"),
                linking=bars.follow(LINKING),
                link=options.link,
                rules=options.rules,
            )
        if report.upgraded:
            say(report.upgraded.summary())
        if report.refingerprinted:
            say(report.refingerprinted.summary())
        if report.links:
            say(report.links.summary())
        elif not options.link:
            say(NOT_LINKED)
        say(f"Time: {report.timings()}")
    print(report.summary())
    if options.verbose:
        for skipped in report.skipped:
            print(f"  skipped {skipped.path}: {skipped.reason}")
    else:
        for kind, count in report.skipped_kinds():
            print(f"  {count} skipped: {kind}")
        if report.skipped:
            say("The skipped files, each with its reason: the same command with --verbose.")
    if report.raw_pairs:
        say("A RAW beside a picture of the same name is the same photo, left out not to be found twice; --raw-pairs indexes it.")
    return 0


@contextmanager
def _embedding(ray: str | None, choice: ModelChoice, settings: Settings) -> Iterator[Embedder | Embedding]:
    """Where the embedding runs: this process's model, or with --ray (`ray`: the cluster's address) the
    workers of a Ray cluster (each loads its own model, so none is loaded here)."""
    if ray is None:
        yield loaded_embedder(choice, settings)
        return
    # Not in the public API, whose import would load Ray (seconds of every start): imported only here,
    # when the command asks for it.
    from retrieval.distributed import ray_cluster, ray_workers

    with ray_cluster(ray), ray_workers(choice.spec, settings) as workers:
        yield workers


def cmd_link(options: LinkOptions, settings: Settings) -> int:
    """rewrite every image's nearest neighbours as SIMILAR_TO relationships

    Write (:Image)-[:SIMILAR_TO {model, score}]->(:Image) to each image's k nearest neighbours, for every image (or,
    with --missing, only those without a current list, and the lists read while the catalogue was smaller). `index`
    writes the lists of the images it embeds; older images' lists gain closer newcomers only here, so run it after the
    collection has grown a lot.
    """
    choice = chosen_model(options.model, settings)
    with opened_store(settings, "link") as store:
        with Bars() as bars:
            report = update_links(
                store,
                choice.spec,
                k=options.k,
                min_score=options.min_score,
                everything=not options.missing,
                progress=bars.follow(LINKING),
            )
        links = store.count_links(choice.spec.space)
    if report.upgraded:
        say(report.upgraded.summary())
    print(f"{report.summary()}; {links} SIMILAR_TO relationships in all")
    return 0
