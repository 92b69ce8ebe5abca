"""`attach`: link indexed images to the user's own nodes, from a CSV or by file stem."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval import RetrievalError, Settings, attach, read_attachments, stem_attachments
from retrieval.cli.arguments import by_name, command, existing, stem
from retrieval.cli.opening import opened_store
from retrieval.cli.progress import Bars

if TYPE_CHECKING:
    from retrieval.cli.arguments import Commands


@dataclass(frozen=True)
class AttachOptions:
    csv: Path | None  # rows image,label,key,value
    stem: tuple[str, str] | None  # or the rule: the node of this (label, key) whose value is the file's stem
    folder: Path | None  # with `stem`: only images below it


def add_attach(sub: Commands) -> None:
    attaching = command(sub, cmd_attach, by_name(AttachOptions))
    attaching.add_argument("csv", nargs="?", type=existing("file"), help="CSV file: image,label,key,value")
    attaching.add_argument(
        "--stem", type=stem, metavar="LABEL.KEY", help="attach each image to the node whose KEY equals its file stem"
    )
    attaching.add_argument("--folder", type=existing("folder"), help="with --stem: only images below this folder")


def cmd_attach(options: AttachOptions, settings: Settings) -> int:
    """attach images to your own nodes: (:Label {key})-[:HAS_IMAGE]->(:Image)

    Link indexed images to nodes of your graph with HAS_IMAGE relationships, from a CSV with the header
    image,label,key,value (image paths relative to the CSV) or by the rule 'file stem = property' (--stem Product.sku:
    1042.jpg belongs to the Product whose sku is 1042). Your nodes are matched, never created or changed; rows that
    match no node or no indexed image are listed. Safe to rerun.
    """
    if bool(options.csv) == bool(options.stem):
        raise RetrievalError("Give either a CSV file or --stem LABEL.KEY, not both or neither.")
    with opened_store(settings, "attach") as store:
        if options.csv:
            attachments = read_attachments(options.csv)
        elif options.stem:  # the one given, as checked above
            label, key = options.stem
            attachments = stem_attachments(store, label, key, options.folder)
        with Bars() as bars:
            report = attach(store, attachments, progress=bars.follow("Attaching", unit="row"))
    print(report.summary())
    for row in report.no_image[:20]:
        print(f"  not indexed: {row.image}" + (f" (line {row.line})" if row.line else ""))
    for row in report.no_owner[:20]:
        print(f"  no {row.label} with {row.key} = {row.value!r}: {row.image}" + (f" (line {row.line})" if row.line else ""))
    if len(report.no_image) + len(report.no_owner) > 40:
        print("  ...")
    return 0
