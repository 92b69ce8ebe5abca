"""`search`: the indexed images most like one photo (or several, and unlike others), printed as a table."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from retrieval.catalogue import owners
from retrieval.cli.arguments import MODEL_HELP, PLAIN_HELP, box, existing, where, whole
from retrieval.cli.opening import chosen_model, loaded_embedder, opened_store
from retrieval.cli.progress import say
from retrieval.closeness import nothing_close_line
from retrieval.core.errors import RetrievalError
from retrieval.examples import search_examples
from retrieval.indexing import normalized_folder
from retrieval.search import MAX_RESULTS, model_mismatch
from retrieval.vision.decode import load_image

if TYPE_CHECKING:
    from retrieval.cli.arguments import Commands


def add_search(sub: Commands) -> None:
    search = sub.add_parser(
        "search",
        help="find the indexed images most similar to an image file (or to several, and unlike others)",
        description=(
            "Rank the indexed images by similarity to IMAGE. With several images, and --not, the query is their "
            "combination: like these, not like those (the example files themselves are left out of the results)."
        ),
    )
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
        "--where",
        metavar="LABEL.KEY=VALUE",
        type=where,
        help="only images attached to your nodes with this property, e.g. Product.category=shoes (see `attach`)",
    )
    search.set_defaults(func=cmd_search)


def cmd_search(args: argparse.Namespace) -> int:
    # Files that are not images, and a box beyond the first photo, fail here, before the model loads.
    photos = [load_image(path) for path in [*args.image, *args.negatives]]
    if args.box:
        photos[0] = args.box.crop(photos[0])
    choice = chosen_model(args.model, args.settings)
    with opened_store(args.settings) as store:
        if not (stored := store.count_vectors(choice.spec.space)):
            raise RetrievalError(f"No images are indexed with {choice.spec.name} yet: run `python -m retrieval index FOLDER`.")
        k = min(args.k, stored)  # asking for more than there are only costs the server memory
        embedder = loaded_embedder(choice, args.settings)
        if warning := model_mismatch(store, choice.spec, embedder.fingerprint):
            say(f"warning: {warning}")
        vectors = list(embedder.embed(photos))
        given = {str(normalized_folder(path)) for path in [*args.image, *args.negatives]}  # as indexing keys them
        positives, negatives = vectors[: len(args.image)], vectors[len(args.image) :]
        hits = search_examples(store, choice.spec, positives, negatives, k, plain=args.plain, within=args.where, exclude=given)
        owned = owners(store, [h.path for h in hits])
    if not hits:
        if args.where:
            say(f"No indexed image belongs to a node with {args.where}.")
        else:
            say("No image matched.")
        return 1
    if len(vectors) == 1 and (line := nothing_close_line(hits, plain=args.plain)):
        say(line)
    print(f"{'rank':>4}  {'cosine':>6}  path")
    for rank, hit in enumerate(hits, 1):
        print(f"{rank:>4}  {hit.score:6.3f}  {hit.path}")
        for owner in owned.get(hit.path, []):
            print(f"{'':>14}  of {owner.describe()}")
    return 0
