"""How good are the results? Category-level retrieval on a labelled photo set, leave-one-out.

A labelled set is a folder with `labels.csv` (`path,label`, paths relative to the folder) and
optionally `queries.csv` (a subset of those rows, for quick runs). Its photos are indexed under a
label of their own (`EvalImage`), so they never mix with a user's `Image` nodes, and re-evaluating
the same folder re-uses what is already indexed. Every labelled photo (or every row of
`queries.csv` with `quick`) is a query against all the others; relevant means the same label.

Two rankings are scored per query: through the vector index (the top 10 exactly as users get them,
over-fetched and rescored, for P@k and recall; the index's own full ranking for mAP), and, with
`exact`, by brute-force cosine over the same stored vectors, so the index's approximation loss shows.
"""

from __future__ import annotations

import csv
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from retrieval.embed import Embedder
from retrieval.errors import RetrievalError
from retrieval.indexing import IndexReport, index_folder
from retrieval.metrics import average_precision, precision_at, recall_at
from retrieval.store import ImageStore

EVALUATION_LABEL = "EvalImage"
TOP_K = 10

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class LabelledSet:
    root: Path
    labels: dict[str, str]  # absolute path -> label
    queries: list[str]  # absolute paths


@dataclass(frozen=True)
class Scores:
    map: float
    p_at_1: float
    p_at_10: float
    recall_at_1: float
    recall_at_5: float
    recall_at_10: float


@dataclass(frozen=True)
class Evaluation:
    dataset: str
    model: str
    images: int
    queries: int
    chance_p_at_10: float  # what a random ranking scores, for scale
    index: Scores
    exact: Scores | None
    seconds: float

    def as_json(self) -> dict:
        """The index's figures (what users get) at the top level, the rest beside them."""
        return {**asdict(self.index), **{k: v for k, v in asdict(self).items() if k != "index"}}

    def figures(self) -> dict[str, str | int | float]:
        """Flat key/values, for a node's properties."""
        flat = {k: v for k, v in asdict(self).items() if k not in ("index", "exact")}
        for name, scores in (("index", self.index), ("exact", self.exact)):
            if scores is not None:
                flat.update({f"{name}_{k}": v for k, v in asdict(scores).items()})
        return flat


def read_labelled_set(folder: Path, quick: bool = False) -> LabelledSet:
    """Read `labels.csv` (and `queries.csv` when `quick`); every listed file must exist."""
    root = Path(os.path.abspath(folder))  # absolute and without "..", like the paths indexing stores

    def rows(name: str) -> list[tuple[str, str]]:
        file = root / name
        if not file.is_file():
            raise RetrievalError(f"{file} is missing: a labelled set needs a labels.csv with the header path,label.")
        with file.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not {"path", "label"} <= set(reader.fieldnames or ()):
                raise RetrievalError(f"{file} must have the header path,label.")
            return [(str(root / r["path"]), r["label"]) for r in reader]

    labels = dict(rows("labels.csv"))
    missing = [p for p in labels if not Path(p).is_file()]
    if missing:
        raise RetrievalError(f"{len(missing)} files listed in labels.csv are missing, e.g. {missing[0]}.")
    queries = [p for p, _ in rows("queries.csv")] if quick else list(labels)
    unknown = [q for q in queries if q not in labels]
    if unknown:
        raise RetrievalError(f"queries.csv lists {unknown[0]}, which labels.csv does not.")
    return LabelledSet(root, labels, queries)


def prepare(
    store: ImageStore, embedder: Embedder, dataset: LabelledSet, progress: Callable[[IndexReport], None] | None = None
) -> IndexReport:
    """Index the set's folder in the evaluation store (incrementally), first removing another set's photos."""
    if store.label != EVALUATION_LABEL:
        raise RetrievalError(f"Evaluation data goes under the {EVALUATION_LABEL} label, not {store.label}.")
    prefix = str(dataset.root) + "/"
    store.remove([p for p in store.paths() if not p.startswith(prefix)])
    return index_folder(store, embedder, dataset.root, prune=True, progress=progress)


def evaluate(
    store: ImageStore,
    embedder: Embedder,
    dataset: LabelledSet,
    *,
    exact: bool = False,
    progress: Progress | None = None,
) -> Evaluation:
    """Score the set's queries against the photos already indexed by `prepare`."""
    started = time.monotonic()
    spec = embedder.spec
    vectors = {p: v for p, v in store.vectors(spec).items() if p in dataset.labels}
    missing = [q for q in dataset.queries if q not in vectors]
    if missing:
        raise RetrievalError(f"{len(missing)} query photos could not be indexed, e.g. {missing[0]}.")
    counts = Counter(dataset.labels[p] for p in vectors)
    chance = np.mean([(counts[dataset.labels[q]] - 1) / (len(vectors) - 1) for q in dataset.queries])

    def relevance(query: str, paths: Sequence[str]) -> list[bool]:
        label = dataset.labels[query]
        return [dataset.labels[p] == label for p in paths if p != query and p in vectors]

    index_rankings: list[tuple[str, list[bool], list[bool]]] = []
    for done, query in enumerate(dataset.queries, 1):
        top = store.nearest(spec, vectors[query], TOP_K + 1)
        full = store.index_ranking(spec, vectors[query], len(vectors))
        index_rankings.append((query, relevance(query, [h.path for h in top]), relevance(query, full)))
        if progress:
            progress("index", done, len(dataset.queries))

    exact_scores = None
    if exact:
        paths = list(vectors)
        matrix = np.stack([vectors[p] for p in paths])
        exact_rankings = []
        for done, query in enumerate(dataset.queries, 1):
            order = np.argsort(-(matrix @ vectors[query]), kind="stable")
            ranking = relevance(query, [paths[i] for i in order])
            exact_rankings.append((query, ranking, ranking))
            if progress:
                progress("exact", done, len(dataset.queries))
        exact_scores = _scores(exact_rankings, dataset, counts)

    return Evaluation(
        dataset=str(dataset.root),
        model=spec.name,
        images=len(vectors),
        queries=len(dataset.queries),
        chance_p_at_10=float(chance),
        index=_scores(index_rankings, dataset, counts),
        exact=exact_scores,
        seconds=time.monotonic() - started,
    )


def _scores(rankings: list[tuple[str, list[bool], list[bool]]], dataset: LabelledSet, counts: Counter) -> Scores:
    """Mean metrics over queries: top-k metrics from the short ranking, mAP from the full one."""
    rows = []
    for query, top, full in rankings:
        relevant = counts[dataset.labels[query]] - 1
        rows.append(
            (
                average_precision(full, relevant),
                precision_at(top, 1),
                precision_at(top, 10),
                recall_at(top, 1, relevant),
                recall_at(top, 5, relevant),
                recall_at(top, 10, relevant),
            )
        )
    return Scores(*(float(x) for x in np.mean(rows, axis=0)))
