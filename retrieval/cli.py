"""`python -m retrieval ...`: the local server, indexing, search, stats and evaluation from a terminal.

Results go to stdout and diagnostics (model in use, progress, skipped files) to stderr, so the
output of `search` can be piped. A bad argument (a number out of range, a folder where a file
belongs, ...) is one line on stderr and exit code 2, before any query or model load; library and
server errors are one line and exit code 1.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from neo4j import Driver
from neo4j.exceptions import DriverError, Neo4jError, ServiceUnavailable, SessionExpired
from tqdm import tqdm

from retrieval.catalogue import attach, owners, read_attachments, stem_attachments
from retrieval.closeness import nothing_close_line
from retrieval.contact_sheet import save_contact_sheet
from retrieval.core.errors import Neo4jUnavailable, RetrievalError
from retrieval.core.files import entry_kind
from retrieval.core.settings import Settings, load_settings
from retrieval.duplicates import DEFAULT_THRESHOLD, duplicate_groups
from retrieval.evaluate import EVALUATION_LABEL, Evaluation, evaluate, prepare, read_labelled_set
from retrieval.examples import search_examples
from retrieval.indexing import index_folder, normalized_folder
from retrieval.neighbours import NEIGHBOURS, update_links
from retrieval.neo4j.catalogue import CatalogueFilter
from retrieval.neo4j.connection import neo4j_settings, open_driver
from retrieval.neo4j.server import LATEST_VERSION, LTS_VERSION, START_COMMAND, VERSIONS, find_java
from retrieval.neo4j.store import ImageStore
from retrieval.region import Box
from retrieval.search import MAX_RESULTS, model_mismatch
from retrieval.vision.decode import load_image
from retrieval.vision.models import MODELS, ModelChoice, choose_model

if TYPE_CHECKING:
    from retrieval.vision.embed import Embedder

PLAIN_HELP = "rank by the plain cosine instead of the default expanded query re-ranked by its candidates' neighbourhoods"


LINKING = "Linking similar images"


class _Bars:
    """Progress bars on stderr, one per name, made on first use: `bars(name, done, total)`."""

    def __init__(self) -> None:
        self._bars: dict[str, tqdm[Any]] = {}

    def __call__(self, name: str, done: int, total: int, unit: str = "img") -> None:
        if (bar := self._bars.get(name)) is None:
            # Each stage on a line of its own below the ones before it, not over them.
            bar = self._bars[name] = tqdm(desc=name, unit=unit, file=sys.stderr, position=len(self._bars))
        bar.total = total
        bar.update(done - bar.n)

    def __enter__(self) -> _Bars:
        return self

    def __exit__(self, *exc: object) -> None:
        for bar in self._bars.values():
            bar.close()


def _say(message: str) -> None:
    print(message, file=sys.stderr)


@contextmanager
def _driver(given: Settings) -> Iterator[tuple[Driver, str | None]]:
    """A checked driver; a connection lost later (after the driver's own retries) becomes one clear error."""
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


def _model(name: str | None, settings: Settings) -> ModelChoice:
    choice = choose_model(name, settings)
    _say(f"Model: {choice.spec.name} ({choice.reason})")
    return choice


def _embedder(choice: ModelChoice, settings: Settings) -> Embedder:
    """The model, loaded: only commands that embed import torch (start-up of the others stays short)."""
    from retrieval.vision.embed import Embedder

    embedder = Embedder.load(choice.spec, settings)
    _say(f"Runtime: {embedder.runtime.name} ({embedder.runtime.reason})")
    return embedder


def cmd_db(args: argparse.Namespace) -> int:
    settings = neo4j_settings(args.settings)
    if settings.local is None:
        if args.action == "status":
            return _print_remote_status(args.settings)
        done = "started" if args.action == "start" else "stopped"
        _say(f"NEO4J_URI is set to {settings.uri}: that server is used, and the local one is not {done}.")
        return 0
    server = settings.local  # the same server every other command talks to (environment, then secrets.toml)
    if args.version:
        server = server.of_version(args.version)
    elif args.action != "start":
        server = server.running() or server  # status and stop: whichever version runs from this home
    if args.action == "start":
        java = find_java(server.version)
        _say(f"Starting Neo4j {server.version} on {java} in {server.home} (the first start fetches it with Maven) ...")
        status = server.start()
        for other in server.other_lines():
            _say(f"This home also holds a Neo4j {other} database, kept as it is: `{START_COMMAND} --version {other}` runs it.")
        print(f"running  {status.uri}  Neo4j {status.version}  {status.java}  pid {status.pid}")
    elif args.action == "stop":
        server.stop()
        print(f"stopped  {server.uri}")
    else:
        status = server.status()
        state = (
            f"running  {status.uri}  Neo4j {status.version}  {status.java}"
            if status.running
            else f"stopped  {status.uri}  Neo4j {server.version}"
        )
        print(state)
        return 0 if status.running else 3
    return 0


def _print_remote_status(settings: Settings) -> int:
    with _driver(settings) as (driver, _):
        info = driver.get_server_info()
        print(f"running  {settings.neo4j_uri}  {info.agent}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    rows = [(spec.name, spec.dimensions, spec.availability(args.settings)) for spec in MODELS.values()]
    width = max(len(name) for name, _, _ in rows)
    for name, dims, available in rows:
        print(f"{name:<{width}}  {dims:>5}-d  {'usable' if available.usable else 'unusable':<8}  {available.reason}")
    try:
        choice = choose_model(settings=args.settings)
        print(f"\ndefault: {choice.spec.name} ({choice.reason})")
    except RetrievalError as e:
        print(f"\ndefault: none ({e})")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    folder = args.folder
    choice = _model(args.model, args.settings)
    with _driver(args.settings) as (driver, database):
        store = ImageStore(driver, database)
        if args.if_empty and (images := store.stats([]).images):
            _say(f"The database already holds {images} images; not indexing {folder} (--if-empty).")
            return 0
        embedder = _embedder(choice, args.settings) if args.ray is None else None  # on Ray, each worker loads its own
        with _Bars() as bars:
            options = {
                "batch_size": args.batch_size,
                "prune": args.prune,
                "reembed": args.reembed,
                "progress": lambda r: bars(f"Indexing {folder}", r.done, r.total),
                "linking": lambda r: bars(LINKING, r.done, r.total),
                "link": args.link,
            }
            if embedder is not None:
                report = index_folder(store, embedder, folder, **options)
            else:
                from retrieval.distributed import Connection, index_folder_on_ray, ray_cluster

                with ray_cluster(args.ray):
                    connection = Connection.of(neo4j_settings(args.settings))
                    report = index_folder_on_ray(store, choice.spec, connection, folder, settings=args.settings, **options)
        if report.upgraded:
            _say(report.upgraded.summary())
        if report.links:
            _say(report.links.summary())
        elif not args.link:
            _say(NOT_LINKED)
        _say(f"Time: {report.timings()}")
    print(report.summary())
    for skipped in report.skipped:
        print(f"  skipped {skipped.path}: {skipped.reason}")
    return 0


def cmd_link(args: argparse.Namespace) -> int:
    choice = _model(args.model, args.settings)
    with _driver(args.settings) as (driver, database):
        store = ImageStore(driver, database)
        with _Bars() as bars:
            report = update_links(
                store,
                choice.spec,
                k=args.k,
                min_score=args.min_score,
                everything=not args.missing,
                progress=lambda r: bars(LINKING, r.done, r.total),
            )
        links = store.count_links(choice.spec.space)
    if report.upgraded:
        _say(report.upgraded.summary())
    print(f"{report.summary()}; {links} SIMILAR_TO relationships in all")
    return 0


def cmd_duplicates(args: argparse.Namespace) -> int:
    choice = _model(args.model, args.settings)
    with _driver(args.settings) as (driver, database):
        store = ImageStore(driver, database)
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
        _say(f"{unlisted} images have no similarity list yet (indexed with --no-link): run `python -m retrieval link`")


def cmd_search(args: argparse.Namespace) -> int:
    # Files that are not images, and a box beyond the first photo, fail here, before the model loads.
    photos = [load_image(path) for path in [*args.image, *args.negatives]]
    if args.box:
        photos[0] = args.box.crop(photos[0])
    choice = _model(args.model, args.settings)
    with _driver(args.settings) as (driver, database):
        store = ImageStore(driver, database)
        if not (stored := store.count_vectors(choice.spec.space)):
            raise RetrievalError(f"No images are indexed with {choice.spec.name} yet: run `python -m retrieval index FOLDER`.")
        k = min(args.k, stored)  # asking for more than there are only costs the server memory
        embedder = _embedder(choice, args.settings)
        if warning := model_mismatch(store, choice.spec, embedder.fingerprint):
            _say(f"warning: {warning}")
        vectors = list(embedder.embed(photos))
        given = {str(normalized_folder(path)) for path in [*args.image, *args.negatives]}  # as indexing keys them
        positives, negatives = vectors[: len(args.image)], vectors[len(args.image) :]
        hits = search_examples(store, choice.spec, positives, negatives, k, plain=args.plain, within=args.where, exclude=given)
        owned = owners(store, [h.path for h in hits])
    if not hits:
        if args.where:
            _say(f"No indexed image belongs to a node with {args.where}.")
        else:
            _say("No image matched.")
        return 1
    if len(vectors) == 1 and (line := nothing_close_line(hits, plain=args.plain)):
        _say(line)
    print(f"{'rank':>4}  {'cosine':>6}  path")
    for rank, hit in enumerate(hits, 1):
        print(f"{rank:>4}  {hit.score:6.3f}  {hit.path}")
        for owner in owned.get(hit.path, []):
            print(f"{'':>14}  of {owner.describe()}")
    return 0


def cmd_attach(args: argparse.Namespace) -> int:
    if bool(args.csv) == bool(args.stem):
        raise RetrievalError("Give either a CSV file or --stem LABEL.KEY, not both or neither.")
    with _driver(args.settings) as (driver, database):
        store = ImageStore(driver, database)
        if args.csv:
            attachments = read_attachments(args.csv)
        else:
            label, dot, key = args.stem.partition(".")
            if not dot:
                raise RetrievalError(f"--stem takes LABEL.KEY, e.g. Product.sku, not {args.stem!r}.")
            attachments = stem_attachments(store, label, key, args.folder)
        with _Bars() as bars:
            report = attach(store, attachments, progress=lambda done, total: bars("Attaching", done, total, unit="row"))
    print(report.summary())
    for row in report.no_image[:20]:
        print(f"  not indexed: {row.image}" + (f" (line {row.line})" if row.line else ""))
    for row in report.no_owner[:20]:
        print(f"  no {row.label} with {row.key} = {row.value!r}: {row.image}" + (f" (line {row.line})" if row.line else ""))
    if len(report.no_image) + len(report.no_owner) > 40:
        print("  ...")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    with _driver(args.settings) as (driver, database):
        stats = ImageStore(driver, database).stats(m.space for m in MODELS.values())
    print(f"images: {stats.images}")
    for index in stats.indexes:
        print(
            f"  {index.model:<26} index {index.index_name:<34} {index.state:<10} "
            f"{index.population_percent:5.1f}% populated  {index.vectors} vectors"
        )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    dataset = read_labelled_set(args.dataset, quick=args.quick)
    choice = _model(args.model, args.settings)
    with _driver(args.settings) as (driver, database):
        store = ImageStore(driver, database, label=EVALUATION_LABEL)
        embedder = _embedder(choice, args.settings)
        with _Bars() as bars:
            report = prepare(
                store,
                embedder,
                dataset,
                indexed=lambda r: bars(f"Indexing {dataset.root}", r.done, r.total),
                linked=lambda r: bars(LINKING, r.done, r.total),
            )
            _say(f"Evaluation photos: {report.summary()}")
            result = evaluate(
                store,
                embedder,
                dataset,
                plain=args.plain,
                exact=args.exact,
                progress=lambda stage, done, total: bars(f"Queries ({stage})", done, total, unit="query"),
            )
        store.save_evaluation(result.figures())
    if args.worst:
        _say(f"Wrote the {len(result.worst())} worst queries to {save_contact_sheet(result.worst(), args.worst)}")
    if args.json is not None:
        text = json.dumps(result.as_json(), indent=2)
        if args.json == "-":
            print(text)
        else:
            args.json.write_text(text + "\n", encoding="utf-8")
            _say(f"Wrote {args.json}")
    if args.json != "-":
        print(result_table(result))
    return 0


def result_table(result: Evaluation) -> str:
    lines = [
        f"{result.model}, {result.search}, on {result.dataset}: {result.images} images, {result.queries} queries, leave-one-out",
        f"{'':<6} {'mAP':>6} {'P@1':>6} {'P@10':>6} {'R@1':>6} {'R@5':>6} {'R@10':>6}",
    ]
    for name, s in (("index", result.index), ("exact", result.exact)):
        if s is not None:
            values = (s.map, s.p_at_1, s.p_at_10, s.recall_at_1, s.recall_at_5, s.recall_at_10)
            lines.append(f"{name:<6} " + " ".join(f"{v:6.3f}" for v in values))
    lines.append(f"chance P@10: {result.chance_p_at_10:.3f}  ({result.seconds:.0f} s)")
    return "\n".join(lines)


NOT_LINKED = (
    "Similarity links not updated (--no-link): every image is searchable as usual, but the new images have no "
    "SIMILAR_TO list (no near-duplicate groups or graph neighbours for them) until `python -m retrieval link`."
)

# Ranges of the numeric options, refused outside them before any query or model load.
MAX_LINKS = 100  # link --k: the server ranks 4x as many index candidates per image, 100 images per query
MAX_BATCH = 1024  # index --batch-size: a batch's 224x224 float tensors alone are 0.6 GB at 1024


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line saying what is wrong and where help is, not a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {' '.join(message.split())} (see {self.prog} --help)\n")


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _whole(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number between {low} and {high}, not {_shown(text)}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, not {value}")
        return value

    return parse


def _cosine(text: str) -> float:
    """An argparse type: a cosine similarity, -1 to 1 (NaN and infinities fail the comparison)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a cosine between -1 and 1, not {_shown(text)}") from None
    if not -1.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a cosine between -1 and 1, not {_shown(text)}")
    return value


def _kind(path: Path) -> str:
    """What is at `path`, from its metadata only: opening a FIFO would wait for a writer, and a device never ends."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise argparse.ArgumentTypeError(f"{path} does not exist") from None
    except (OSError, ValueError) as e:  # ValueError: a NUL byte in the name
        raise argparse.ArgumentTypeError(f"cannot look at {_shown(str(path))} ({getattr(e, 'strerror', None) or e})") from None
    return entry_kind(mode)


def _existing(expected: str) -> Callable[[str], Path]:
    """An argparse type: an existing, readable "file" (a regular one) or "folder"."""

    def check(text: str) -> Path:
        path = Path(text)
        if (kind := _kind(path)) != expected:
            raise argparse.ArgumentTypeError(f"{path} is a {kind}, not a {expected}")
        if not os.access(path, os.R_OK | (os.X_OK if expected == "folder" else 0)):
            raise argparse.ArgumentTypeError(f"cannot read {path} (permission denied)")
        return path

    return check


def _output(text: str) -> Path:
    """An argparse type: a file to write, checked before the work whose result it keeps."""
    path = Path(text)
    if (path.exists() or path.is_symlink()) and (kind := _kind(path)) != "file":
        raise argparse.ArgumentTypeError(f"{path} is a {kind}, not a file to write")
    if _kind(path.parent) != "folder" or not os.access(path.parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write into {path.parent}")
    return path


def _json_output(text: str) -> Path | str:
    return text if text == "-" else _output(text)


def _box(text: str) -> Box:
    try:
        return Box.parse(text)
    except RetrievalError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _where(text: str) -> CatalogueFilter:
    try:
        return CatalogueFilter.parse(text)
    except RetrievalError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _with_ray_option(index: argparse.ArgumentParser) -> argparse.ArgumentParser:
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
    return index


def _add_search(sub: argparse._SubParsersAction[_Parser], model_help: str) -> None:
    search = sub.add_parser(
        "search",
        help="find the indexed images most similar to an image file (or to several, and unlike others)",
        description=(
            "Rank the indexed images by similarity to IMAGE. With several images, and --not, the query is their "
            "combination: like these, not like those (the example files themselves are left out of the results)."
        ),
    )
    search.add_argument("image", nargs="*", type=_existing("file"), help="one or more photos the results should look like")
    search.add_argument(
        "--not",
        dest="negatives",
        action="append",
        default=[],
        type=_existing("file"),
        metavar="IMAGE",
        help="a photo the results should not look like (repeat for more)",
    )
    search.add_argument(
        "--box",
        type=_box,
        metavar="LEFT,TOP,WIDTH,HEIGHT",
        help="search only this region of the first photo, in pixels of the upright photo (after EXIF rotation)",
    )
    search.add_argument(
        "-k",
        type=_whole(1, MAX_RESULTS),
        default=10,
        help=f"how many results, 1 to {MAX_RESULTS} and at most the images indexed (default 10)",
    )
    search.add_argument("--model", help=model_help)
    search.add_argument("--plain", action="store_true", help=PLAIN_HELP)
    search.add_argument(
        "--where",
        metavar="LABEL.KEY=VALUE",
        type=_where,
        help="only images attached to your nodes with this property, e.g. Product.category=shoes (see `attach`)",
    )
    search.set_defaults(func=cmd_search)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m retrieval", description="Image similarity search on Neo4j.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    model_help = f"model to use ({', '.join(MODELS)}); default: ResNet50 if its weights are here, else EfficientNet-Lite0"

    db = sub.add_parser(
        "db",
        help="start, stop or check the local Neo4j server",
        description=(
            "Manage the project's local Neo4j Community server (fetched from Maven Central on first start). "
            "Ignored when NEO4J_URI points at your own server."
        ),
    )
    db.add_argument("action", choices=["start", "status", "stop"])
    db.add_argument(
        "--version",
        metavar="V",
        help=(
            f"Neo4j version: {' or '.join(VERSIONS)}; default: the one whose database the home holds, on a new home "
            f"{LATEST_VERSION} where Java 21 or 25 is found, else {LTS_VERSION}. Each line keeps its own database in the home."
        ),
    )
    db.set_defaults(func=cmd_db)

    models = sub.add_parser("models", help="list the models and whether each is usable here")
    models.set_defaults(func=cmd_models)

    index = sub.add_parser(
        "index",
        help="index the images in a folder (recursive, incremental)",
        description=(
            "Embed every image below FOLDER (jpg, jpeg, png, webp, bmp, gif, tiff) and store it in Neo4j. "
            "Unchanged files are skipped; unreadable ones are reported and indexing goes on."
        ),
    )
    index.add_argument("folder", type=_existing("folder"))
    index.add_argument("--model", help=model_help)
    index.add_argument(
        "--batch-size",
        type=_whole(1, MAX_BATCH),
        default=32,
        help=f"images per model batch and per write, 1 to {MAX_BATCH} (default 32)",
    )
    index.add_argument("--prune", action="store_true", help="also remove the nodes of images below FOLDER whose files are gone")
    index.add_argument(
        "--reembed",
        action="store_true",
        help="when the stored vectors were made by another version of the model: forget them all and embed FOLDER anew",
    )
    index.add_argument("--if-empty", action="store_true", help="do nothing if the database already holds images")
    index.add_argument(
        "--no-link",
        dest="link",
        action="store_false",
        help="write no SIMILAR_TO lists for the new images (searches are unchanged; duplicates miss them until `link`)",
    )
    _with_ray_option(index).set_defaults(func=cmd_index)

    _add_search(sub, model_help)

    evaluation = sub.add_parser(
        "evaluate",
        help="measure retrieval quality on a labelled photo set (mAP, P@1, P@10, recall)",
        description=(
            "Index DATASET (a folder with labels.csv: path,label; optional queries.csv) under the EvalImage label, "
            "apart from your images, and score leave-one-out retrieval: every photo a query, relevant = same label. "
            "Re-running re-uses what is indexed."
        ),
    )
    evaluation.add_argument("dataset", type=_existing("folder"))
    evaluation.add_argument("--model", help=model_help)
    evaluation.add_argument("--plain", action="store_true", help=PLAIN_HELP)
    evaluation.add_argument("--quick", action="store_true", help="only the queries listed in queries.csv")
    evaluation.add_argument("--exact", action="store_true", help="also score exact (brute-force) search over the same vectors")
    evaluation.add_argument(
        "--json",
        nargs="?",
        const="-",
        type=_json_output,
        metavar="FILE",
        help="write the figures as JSON to FILE, or to stdout (no FILE)",
    )
    evaluation.add_argument(
        "--worst", type=_output, metavar="PNG", help="save a picture of the ten worst queries and what they found"
    )
    evaluation.set_defaults(func=cmd_evaluate)

    link = sub.add_parser(
        "link",
        help="rewrite every image's nearest neighbours as SIMILAR_TO relationships",
        description=(
            "Write (:Image)-[:SIMILAR_TO {model, score}]->(:Image) to each image's k nearest neighbours, for every image "
            "(or, with --missing, only those without a current list). `index` writes the lists of the images it embeds; "
            "older images' lists gain closer newcomers only here, so run it after the collection has grown a lot."
        ),
    )
    link.add_argument(
        "--k",
        type=_whole(1, MAX_LINKS),
        default=NEIGHBOURS,
        help=f"neighbours per image, 1 to {MAX_LINKS} (default {NEIGHBOURS})",
    )
    link.add_argument(
        "--min-score", type=_cosine, default=-1.0, help="leave out neighbours below this cosine, -1 to 1 (default: none)"
    )
    link.add_argument("--missing", action="store_true", help="only images without a current list (after index --no-link)")
    link.add_argument("--model", help=model_help)
    link.set_defaults(func=cmd_link)

    duplicates = sub.add_parser(
        "duplicates",
        help="list groups of near-duplicate images, largest first",
        description=(
            "Images joined by SIMILAR_TO links at or above the threshold form a group (copies re-encoded, resized, "
            f"cropped or mirrored score above it; different photos of the same thing below). Default {DEFAULT_THRESHOLD}."
        ),
    )
    duplicates.add_argument(
        "--threshold", type=_cosine, default=DEFAULT_THRESHOLD, help=f"cosine, -1 to 1 (default {DEFAULT_THRESHOLD})"
    )
    duplicates.add_argument("--model", help=model_help)
    duplicates.set_defaults(func=cmd_duplicates)

    attaching = sub.add_parser(
        "attach",
        help="attach images to your own nodes: (:Label {key})-[:HAS_IMAGE]->(:Image)",
        description=(
            "Link indexed images to nodes of your graph with HAS_IMAGE relationships, from a CSV with the header "
            "image,label,key,value (image paths relative to the CSV) or by the rule 'file stem = property' (--stem "
            "Product.sku: 1042.jpg belongs to the Product whose sku is 1042). Your nodes are matched, never created "
            "or changed; rows that match no node or no indexed image are listed. Safe to rerun."
        ),
    )
    attaching.add_argument("csv", nargs="?", type=_existing("file"), help="CSV file: image,label,key,value")
    attaching.add_argument("--stem", metavar="LABEL.KEY", help="attach each image to the node whose KEY equals its file stem")
    attaching.add_argument("--folder", type=_existing("folder"), help="with --stem: only images below this folder")
    attaching.set_defaults(func=cmd_attach)

    stats = sub.add_parser("stats", help="images stored and the state of each model's vector index")
    stats.set_defaults(func=cmd_stats)
    return parser


INTERRUPTED = "Interrupted. Every finished batch is stored; run the same command again to finish."
CTRL_C_GRACE = 10.0  # seconds a Ctrl-C leaves the command to unwind before it is ended


def exit_soon_after_ctrl_c(grace: float = CTRL_C_GRACE) -> None:
    """Make a Ctrl-C end the process within `grace` seconds even if what it interrupted does not let
    go (a native call, or a driver call waiting on the server): what was committed is kept either way,
    as Neo4j rolls back a transaction whose connection closes. The signal reaches a thread of ours
    through Python's wakeup file descriptor, written the moment it arrives, whatever the main thread
    is in. Armed once per process, where `python -m retrieval` starts (not by `main`, which tests call)."""
    read, write = os.pipe()
    os.set_blocking(write, False)
    signal.set_wakeup_fd(write)

    def watch() -> None:
        while os.read(read, 1) != bytes([signal.SIGINT]):
            pass
        time.sleep(grace)
        os.write(sys.stderr.fileno(), f"\n{INTERRUPTED}\n".encode())  # no lock the stuck thread may hold
        os._exit(130)

    threading.Thread(target=watch, name="ctrl-c", daemon=True).start()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "search" and not args.image:
        parser.error("search needs at least one photo to look like (--not only says what to avoid)")
    try:
        # The one place the command line reads its settings (the environment, then secrets.toml here).
        args.settings = load_settings(os.environ, Path.cwd())
        return int(args.func(args))
    except RetrievalError as e:
        _say(f"error: {e}")
        return 1
    except (DriverError, Neo4jError) as e:  # the last resort for a driver or server error no layer below put in words
        detail = " ".join(str(e).split()) or "no detail"
        _say(f"error: Neo4j failed during `{args.command}` ({type(e).__name__}: {detail}). See the Neo4j server's log for more.")
        return 1
    except KeyboardInterrupt:
        _say(INTERRUPTED)
        return 130
