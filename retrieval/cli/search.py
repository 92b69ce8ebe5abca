"""`search`: the indexed images most like one photo (or several, and unlike others), printed as a
table or, with --json, as a JSON array for other programs."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval import (
    FACTS,
    MAX_RESULTS,
    Box,
    CatalogueFilter,
    Example,
    ImageStore,
    PhotoFilter,
    RetrievalError,
    Settings,
    VectorSpace,
    check_count,
    distinct,
    is_utf8,
    load_image,
    model_mismatch,
    normalized_folder,
    nothing_close_line,
    owners,
    reaching,
    result_rows,
    search_query,
)
from retrieval.cli.arguments import MODEL_HELP, PLAIN_HELP, box, command, cosine, existing, fact_words, where, whole
from retrieval.cli.opening import chosen_model, loaded_embedder, opened_store
from retrieval.cli.progress import say

if TYPE_CHECKING:
    from retrieval.cli.arguments import Commands


@dataclass(frozen=True)
class SearchCommandOptions:
    """The `search` command's options (named apart from `retrieval.SearchOptions`, the library's own
    options of one search)."""

    images: tuple[Path, ...]  # to look like: each once, as indexing keys it
    negatives: tuple[Path, ...]  # not to look like (--not), likewise
    box: Box | None  # only this region of the first image
    k: int
    model: str | None
    plain: bool  # rank by the plain cosine
    min_score: float  # only results scoring at least this
    where: CatalogueFilter | None  # only images attached to the user's nodes with this property
    facts: PhotoFilter | None  # only images below a folder, or with these facts
    json: bool  # the results as a JSON array

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> SearchCommandOptions:
        """Refuses (as a usage error) a search without a photo to look like, or with too many."""
        if not args.image:
            raise RetrievalError("search needs at least one photo to look like (--not only says what to avoid)")
        images, negatives = distinct_photos(args.image, args.negatives)
        return cls(
            images=images,
            negatives=negatives,
            box=args.box,
            k=args.k,
            model=args.model,
            plain=args.plain,
            min_score=args.min_score,
            where=args.where,
            facts=PhotoFilter.of(args.under, **{fact.name: getattr(args, fact.name) for fact in FACTS}),
            json=args.json,
        )


def add_search(sub: Commands) -> None:
    search = command(sub, cmd_search, SearchCommandOptions.from_args)
    search.add_argument("image", nargs="*", type=existing("file"), help="one or more photos the results should look like")
    search.add_argument(
        "--not",
        dest="negatives",
        action="append",
        default=[],
        type=existing("file"),
        metavar="IMAGE",
        help="a photo the results should not look like (repeat for more)",
    )
    search.add_argument(
        "--box",
        type=box,
        metavar="LEFT,TOP,WIDTH,HEIGHT",
        help="search only this region of the first photo, in pixels of the upright photo (after EXIF rotation)",
    )
    search.add_argument(
        "-k",
        type=whole(1, MAX_RESULTS),
        default=10,
        help=f"how many results, 1 to {MAX_RESULTS} and at most the images indexed (default 10)",
    )
    search.add_argument("--model", help=MODEL_HELP)
    search.add_argument("--plain", action="store_true", help=PLAIN_HELP)
    search.add_argument(
        "--min-score",
        type=cosine,
        default=-1.0,
        metavar="S",
        help="only results whose score (the plain cosine to the query, -1 to 1) is at least S: "
        "0.94 the same picture, 0.89 a near-duplicate, 0.60 similar (as the duplicate tiers)",
    )
    search.add_argument(
        "--where",
        metavar="LABEL.KEY=VALUE",
        type=where,
        help="only images attached to your nodes with this property, e.g. Product.category=shoes (see `attach`)",
    )
    for fact in FACTS:
        search.add_argument(f"--{fact.name}", metavar=fact.metavar, type=fact_words(fact), help=fact.help)
    search.add_argument("--under", metavar="FOLDER", help="only images below this folder")
    search.add_argument(
        "--json",
        action="store_true",
        help=f"print the results as a JSON array (rank, path, score, tier, {', '.join(f.name for f in FACTS)}, width, height)",
    )


def distinct_photos(images: list[Path], negatives: list[Path]) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """The photos given (`image`, `--not`), each once as first given, by the path indexing would key
    it by; more than MAX_EXAMPLES raise BadArgument, before any file is read."""
    named = distinct(
        [(str(normalized_folder(p)), True) for p in images] + [(str(normalized_folder(p)), False) for p in negatives]
    )
    check_count(len(named))
    return tuple(Path(p) for p, positive in named if positive), tuple(Path(p) for p, positive in named if not positive)


def examples(store: ImageStore, space: VectorSpace, images: tuple[Path, ...], negatives: tuple[Path, ...]) -> list[Example]:
    """The photos given as a query's examples, as the app takes them: an indexed image by its path
    (its stored vector, and left out of the results), any other photo by its name, embedded from the
    picture `cmd_search` decoded (a name that is not UTF-8 is never a node's key: it is looked up by nothing)."""
    paths = [str(normalized_folder(path)) for path in [*images, *negatives]]  # as indexing keys them
    indexed = store.vectors_of(space, [path for path in paths if is_utf8(path)])
    return [
        Example.indexed(path, positive) if path in indexed else Example(Path(path).name, positive)
        for path, positive in zip(paths, [True] * len(images) + [False] * len(negatives), strict=True)
    ]


def cmd_search(options: SearchCommandOptions, settings: Settings) -> int:
    """find the indexed images most similar to an image file (or to several, and unlike others)

    Rank the indexed images by similarity to IMAGE. With several images, and --not, the query is their combination: like
    these, not like those (the example files themselves are left out of the results).
    """
    # Files that are not images, and a box beyond the first photo, fail here, before the model loads.
    photos = [load_image(path) for path in [*options.images, *options.negatives]]
    facts = options.facts
    if options.box:
        options.box.crop(photos[0])
    choice = chosen_model(options.model, settings)
    with opened_store(settings, "search") as store:
        if not (stored := store.count_vectors(choice.spec.space)):
            raise RetrievalError(f"No images are indexed with {choice.spec.name} yet: run `python -m retrieval index FOLDER`.")
        k = min(options.k, stored)  # asking for more than there are only costs the server memory
        embedder = loaded_embedder(choice, settings)
        if warning := model_mismatch(store, choice.spec, embedder.fingerprint, embedder.former_fingerprints):
            say(f"warning: {warning}")
        hits = search_query(
            store,
            embedder,
            examples(store, choice.spec.space, options.images, options.negatives),
            options.box,
            k=k,
            pictures=photos,
            plain=options.plain,
            within=options.where,
            facts=facts,
        )
        kept = reaching(hits, options.min_score)
        owned = owners(store, [h.path for h in kept])
        rows = result_rows(store, kept) if options.json else []
    if options.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0 if kept else 1
    if not hits:
        if options.where or facts:
            say(f"No indexed image passes the filter ({', '.join(str(f) for f in (options.where, facts) if f)}).")
        else:
            say("No image matched.")
        return 1
    if len(photos) == 1 and (line := nothing_close_line(hits)):
        say(line)
    if not kept:
        say(f"None of the {len(hits)} results scores at least {options.min_score} (--min-score).")
        return 1
    print(f"{'rank':>4}  {'cosine':>6}  path")
    for rank, hit in enumerate(kept, 1):
        print(f"{rank:>4}  {hit.score:6.3f}  {hit.path}")
        for owner in owned.get(hit.path, []):
            print(f"{'':>14}  of {owner.describe()}")
    return 0
