"""How good are the results? Category-level retrieval on a labelled photo set, leave-one-out.

A labelled set is a folder with `labels.csv` (`path,label`, paths relative to the folder) and
optionally `queries.csv` (a subset of those rows, for quick runs). Its photos are indexed under a
label of their own (`EvalImage`), so they never mix with a user's `Image` nodes, and re-evaluating
the same folder re-uses what is already indexed. Every labelled photo (or every row of
`queries.csv` with `quick`) is a query against all the others; relevant means the same label.

The search scored is the default one (query expansion, then the expanded query's candidates
ranked by their neighbourhood among themselves, see retrieval/core/rerank.py) or, with `plain`, the
plain cosine. Two rankings are scored per query: through the vector index (the top 10 exactly as
users get them, for P@k and recall; for mAP the re-ranked candidates followed by the index's own
ranking of the rest), and, with `exact`, by brute force over the same stored vectors, so the index's
approximation loss shows.
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval.core.errors import RetrievalError
from retrieval.core.files import normalized_folder
from retrieval.core.metrics import average_precision, exact_ranking, precision_at, recall_at
from retrieval.core.progress import Count, Progress
from retrieval.core.rerank import CANDIDATES, NEIGHBOURS
from retrieval.indexing import IndexReport, index_folder
from retrieval.neighbours import LinkReport
from retrieval.neo4j.store import ImageStore
from retrieval.search import expanded_query, reranked, search_vector

if TYPE_CHECKING:
    from retrieval.vision.embed import Embedder

EVALUATION_LABEL = "EvalImage"
TOP_K = 10
MIN_PHOTOS = 2
TOO_FEW = f"leave-one-out scores each photo against the others, so a labelled set needs at least {MIN_PHOTOS}."


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


# The figures a person reads first, by their usual names, and the keys `Evaluation.figures` stores them under.
HEADLINE_FIGURES = {"mAP": "index_map", "P@1": "index_p_at_1", "P@10": "index_p_at_10", "Recall@10": "index_recall_at_10"}


@dataclass(frozen=True)
class QueryResult:
    """One query through the index: its average precision and what came back (itself left out)."""

    path: str
    label: str
    average_precision: float
    top: list[tuple[str, str, float]]  # (path, label, score), best first


@dataclass(frozen=True)
class Evaluation:
    dataset: str
    model: str
    search: str
    images: int
    queries: int
    chance_p_at_10: float  # what a random ranking scores, for scale
    index: Scores
    exact: Scores | None
    seconds: float
    per_query: list[QueryResult] = field(default_factory=list, repr=False)

    def worst(self, n: int = 10) -> list[QueryResult]:
        return sorted(self.per_query, key=lambda q: (q.average_precision, q.path))[:n]

    def as_json(self) -> dict[str, Any]:
        """The index's figures (what users get) at the top level, the rest beside them."""
        return {**asdict(self.index), **{k: v for k, v in asdict(self).items() if k not in ("index", "per_query")}}

    def figures(self) -> dict[str, str | int | float]:
        """Flat key/values, for a node's properties."""
        flat = {k: v for k, v in asdict(self).items() if k not in ("index", "exact", "per_query")}
        for name, scores in (("index", self.index), ("exact", self.exact)):
            if scores is not None:
                flat.update({f"{name}_{k}": v for k, v in asdict(scores).items()})
        return flat


def read_labelled_set(folder: Path, quick: bool = False) -> LabelledSet:
    """Read `labels.csv` (and `queries.csv` when `quick`); every listed file must exist."""
    root = normalized_folder(folder)  # as indexing stores paths

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
    if len(labels) < MIN_PHOTOS:
        raise RetrievalError(f"{root / 'labels.csv'} lists {len(labels)} photos: {TOO_FEW}")
    missing = [p for p in labels if not Path(p).is_file()]
    if missing:
        raise RetrievalError(f"{len(missing)} files listed in labels.csv are missing, e.g. {missing[0]}.")
    queries = [p for p, _ in rows("queries.csv")] if quick else list(labels)
    unknown = [q for q in queries if q not in labels]
    if unknown:
        raise RetrievalError(f"queries.csv lists {unknown[0]}, which labels.csv does not.")
    return LabelledSet(root, labels, queries)


def prepare(
    store: ImageStore,
    embedder: Embedder,
    dataset: LabelledSet,
    *,
    indexed: Progress[IndexReport] | None = None,
    linked: Progress[LinkReport] | None = None,
) -> IndexReport:
    """Index and link the set's folder in the evaluation store (incrementally), first removing another set's photos."""
    if store.label != EVALUATION_LABEL:
        raise RetrievalError(f"Evaluation data goes under the {EVALUATION_LABEL} label, not {store.label}.")
    prefix = str(dataset.root) + "/"
    store.remove([p for p in store.paths() if not p.startswith(prefix)])
    return index_folder(store, embedder, dataset.root, prune=True, progress=indexed, linking=linked)


def evaluate(
    store: ImageStore,
    embedder: Embedder,
    dataset: LabelledSet,
    *,
    plain: bool = False,
    exact: bool = False,
    progress: Progress[Count] | None = None,
) -> Evaluation:
    """Score the set's queries against the photos already indexed by `prepare`, with the default
    search or, with `plain`, the plain cosine."""
    started = time.monotonic()
    spec = embedder.spec
    space = spec.space
    vectors = {p: v for p, v in store.vectors(spec.space).items() if p in dataset.labels}
    missing = [q for q in dataset.queries if q not in vectors]
    if missing:
        raise RetrievalError(f"{len(missing)} query photos could not be indexed, e.g. {missing[0]}.")
    if len(vectors) < MIN_PHOTOS:
        raise RetrievalError(f"{len(vectors)} of the set's photos are indexed: {TOO_FEW}")
    counts = Counter(dataset.labels[p] for p in vectors)
    chance = np.mean([(counts[dataset.labels[q]] - 1) / (len(vectors) - 1) for q in dataset.queries])

    def relevance(query: str, paths: Sequence[str]) -> list[bool]:
        label = dataset.labels[query]
        return [dataset.labels[p] == label for p in paths if p != query and p in vectors]

    queries: dict[str, np.ndarray] = {}
    index_rankings: list[_Ranking] = []
    per_query: list[QueryResult] = []
    for done, query in enumerate(dataset.queries, 1):
        queries[query] = vectors[query] if plain else expanded_query(store, spec, vectors[query], exclude=query)
        found = search_vector(store, spec, vectors[query], TOP_K + 1, plain=plain, exclude=query)  # as users get it
        top = [h for h in found if h.path != query and h.path in vectors][:TOP_K]
        full = store.index_ranking(space, queries[query], len(vectors))
        if not plain:  # the default search's order: its re-ranked candidates, then the rest as the index ranks them
            first = {h.path: None for h in reranked(store, spec, queries[query], vectors[query])}
            full = [*first, *(p for p in full if p not in first)]
        ranking = _Ranking(counts[dataset.labels[query]] - 1, relevance(query, [h.path for h in top]), relevance(query, full))
        index_rankings.append(ranking)
        returned = [(h.path, dataset.labels[h.path], h.score) for h in top]
        per_query.append(QueryResult(query, dataset.labels[query], ranking.average_precision, returned))
        if progress:
            progress(Count("index", done, len(dataset.queries)))

    exact_scores = None
    if exact:
        ranked_by = {p: v for p, v in store.vectors(space).items() if p in vectors}
        paths = list(ranked_by)
        matrix = np.stack([ranked_by[p] for p in paths])
        labels, row_of = np.array([dataset.labels[p] for p in paths]), {p: i for i, p in enumerate(paths)}
        exact_rankings = []
        for done, query in enumerate(dataset.queries, 1):
            flags = exact_ranking(matrix, labels, queries[query], row_of.get(query), dataset.labels[query], rerank=not plain)
            exact_rankings.append(_Ranking(counts[dataset.labels[query]] - 1, flags, flags))
            if progress:
                progress(Count("exact", done, len(dataset.queries)))
        exact_scores = _scores(exact_rankings)

    return Evaluation(
        dataset=str(dataset.root),
        model=spec.name,
        search="plain cosine"
        if plain
        else f"expanded query, re-ranked by neighbourhood ({NEIGHBOURS} neighbours, {CANDIDATES} candidates)",
        images=len(vectors),
        queries=len(dataset.queries),
        chance_p_at_10=float(chance),
        index=_scores(index_rankings),
        exact=exact_scores,
        seconds=time.monotonic() - started,
        per_query=per_query,
    )


@dataclass(frozen=True)
class _Ranking:
    """One query's relevance flags: `top` as users get it (for P@k, recall), `full` for AP."""

    relevant_total: int
    top: list[bool]
    full: list[bool]

    @cached_property  # used for the query's row and for the mean: computed once
    def average_precision(self) -> float:
        return average_precision(self.full, self.relevant_total)


def _scores(rankings: list[_Ranking]) -> Scores:
    """Mean metrics over queries."""
    rows = [
        (
            r.average_precision,
            precision_at(r.top, 1),
            precision_at(r.top, 10),
            recall_at(r.top, 1, r.relevant_total),
            recall_at(r.top, 5, r.relevant_total),
            recall_at(r.top, 10, r.relevant_total),
        )
        for r in rankings
    ]
    return Scores(*(float(x) for x in np.mean(rows, axis=0)))
