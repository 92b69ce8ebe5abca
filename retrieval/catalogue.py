"""The user's own catalogue: images attached to their nodes, `(:Product {sku})-[:HAS_IMAGE]->(:Image)`.

Attaching reads a CSV (image, label, key, value) or applies a rule (the file stem equals a
property), matches the user's existing nodes and merges `HAS_IMAGE` relationships: nothing else
of their graph is created or changed. Labels and property names come from the user, so they are
checked identifiers before they enter Cypher; values are parameters. Search restricted to a part
of the catalogue is `store.nearest(..., within=CatalogueFilter(...))`.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

from retrieval.core.batches import chunks
from retrieval.core.errors import RetrievalError
from retrieval.core.progress import Count, Progress
from retrieval.neo4j.base import checked_identifier
from retrieval.neo4j.catalogue import value_forms
from retrieval.neo4j.store import ImageStore
from retrieval.pruning import stored_paths_below

CSV_COLUMNS = ("image", "label", "key", "value")
BATCH = 1000
OWNER_VALUES_SHOWN = 200  # a filter offers at most this many values to pick from


@dataclass(frozen=True)
class Attachment:
    """An image to attach to the user's node(s) of `label` whose `key` equals `value`."""

    image: str  # absolute path, as the image's node has it
    label: str
    key: str
    value: str
    line: int = 0  # where it came from in a CSV, for messages


@dataclass
class AttachReport:
    attached: int = 0  # rows whose image and owner were both found (their relationship exists now)
    created: int = 0  # HAS_IMAGE relationships new in this run
    no_image: list[Attachment] = field(default_factory=list)  # the image is not indexed
    no_owner: list[Attachment] = field(default_factory=list)  # no node of the label has that value

    def summary(self) -> str:
        return (
            f"{self.attached} images attached ({self.created} new HAS_IMAGE relationships); "
            f"{len(self.no_image)} rows name an image that is not indexed, {len(self.no_owner)} match no node"
        )


@dataclass(frozen=True)
class Owner:
    """A node of the user's graph that has an image: its labels and its plain (scalar) properties."""

    labels: tuple[str, ...]
    properties: dict[str, str | int | float | bool]

    def describe(self, limit: int = 4) -> str:
        shown = ", ".join(f"{k} {v}" for k, v in sorted(self.properties.items())[:limit])
        return f"{':'.join(self.labels)} ({shown})" if shown else ":".join(self.labels)


def read_attachments(csv_path: Path) -> list[Attachment]:
    """Rows of a CSV with the header image,label,key,value; image paths are relative to the CSV's folder
    (or absolute). A label or key that is not a plain identifier is refused with its line number."""
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None or not set(CSV_COLUMNS) <= set(reader.fieldnames):
                raise RetrievalError(f"{csv_path} needs the header {','.join(CSV_COLUMNS)} (it has {reader.fieldnames}).")
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise RetrievalError(f"Cannot read {csv_path}: {e}") from e
    attachments = []
    for line, row in enumerate(rows, 2):
        image, label, key, value = (str(row[column] or "").strip() for column in CSV_COLUMNS)
        if not (image and value):
            raise RetrievalError(f"{csv_path}, line {line}: the image and the value must not be empty.")
        try:
            checked_identifier(label)
            checked_identifier(key)
        except RetrievalError as e:
            raise RetrievalError(f"{csv_path}, line {line}: {e}") from e
        attachments.append(Attachment(os.path.abspath(csv_path.parent / image), label, key, value, line))
    return attachments


def label_and_key(text: str) -> tuple[str, str]:
    """`LABEL.KEY` (as `attach --stem` takes it), both checked identifiers."""
    label, dot, key = text.partition(".")
    if not dot:
        raise RetrievalError(f"give LABEL.KEY, e.g. Product.sku, not {text!r}.")
    return checked_identifier(label), checked_identifier(key)


def stem_attachments(store: ImageStore, label: str, key: str, folder: Path | None = None) -> list[Attachment]:
    """The documented rule: each stored image (below `folder`, or all) belongs to the node of `label`
    whose `key` equals its file name without the extension, e.g. 1042.jpg -> (:Product {sku: 1042})."""
    checked_identifier(label)
    checked_identifier(key)
    return [Attachment(path, label, key, Path(path).stem) for path in sorted(stored_paths_below(store, folder))]


def attach(store: ImageStore, attachments: Sequence[Attachment], progress: Progress[Count] | None = None) -> AttachReport:
    """Merge (owner)-[:HAS_IMAGE]->(image) for each attachment whose image and owner exist, in batches
    (one transaction each; merging makes a rerun create nothing)."""
    report = AttachReport()
    ordered = sorted(attachments, key=lambda a: (a.label, a.key))
    done = 0
    for (label, key), group in groupby(ordered, key=lambda a: (a.label, a.key)):
        items = list(group)
        for batch in chunks(items, BATCH):
            rows = [{"line": n, "path": a.image, "values": value_forms(a.value)} for n, a in enumerate(batch)]
            records, counters = store.attach_rows(label, key, rows)
            report.created += counters.relationships_created
            for record in records:
                attachment = batch[record["line"]]
                if not record["image"]:
                    report.no_image.append(attachment)
                elif not record["owners"]:
                    report.no_owner.append(attachment)
                else:
                    report.attached += 1
            done += len(batch)
            if progress:
                progress(Count("attaching", done, len(attachments)))
    return report


def owners(store: ImageStore, paths: Sequence[str]) -> dict[str, list[Owner]]:
    """The user's nodes that have each image (images without any are left out)."""
    found: dict[str, list[Owner]] = {}
    for row in store.owner_rows(paths):
        plain = {k: v for k, v in row["properties"].items() if isinstance(v, str | int | float | bool)}
        found.setdefault(row["path"], []).append(Owner(tuple(row["labels"]), plain))
    return found


def has_catalogue(store: ImageStore) -> bool:
    """Whether any HAS_IMAGE relationship exists (then the app offers a catalogue filter)."""
    return store.has_catalogue()


def owner_labels(store: ImageStore) -> list[str]:
    """Labels of the nodes that have images, for a filter's first choice."""
    return store.owner_labels()


def owner_keys(store: ImageStore, label: str) -> list[str]:
    """Property names of the `label` nodes that have images, for a filter's second choice."""
    return store.owner_keys(label)


def owner_values(store: ImageStore, label: str, key: str, limit: int = OWNER_VALUES_SHOWN) -> list[str]:
    """Distinct values of `key` among `label` nodes that have images, as text, at most `limit`."""
    return [str(value) for value in store.owner_values(label, key, limit) if isinstance(value, str | int | float)]
