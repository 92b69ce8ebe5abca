"""A query made of several examples: photos the results should look like (positives) and photos
they should not (negatives), as rclip's `+`/`-` queries or Pinterest's "more/less like this" do.

The examples are combined in the vector space, as one query vector: the mean of the positives
minus `NEGATIVE_WEIGHT` times the mean of the negatives, back to unit length. That vector is then
searched as one photo's would be (query expansion, neighbourhood re-ranking); docs/QUALITY.md has the
measurement that chose this form and the weight."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Unpack

import numpy as np
from PIL import Image

from retrieval.core.errors import BadArgument, ExampleGone, RetrievalError, UnreadableImage
from retrieval.core.files import NOT_SHOWN, may_read
from retrieval.core.limits import MAX_RESULTS, checked_k
from retrieval.neo4j.images import Hit
from retrieval.neo4j.store import ImageStore
from retrieval.region import Box
from retrieval.search import SearchOptions, search_vector
from retrieval.vision.decode import decode, load_image
from retrieval.vision.models import ModelSpec

if TYPE_CHECKING:
    from retrieval.vision.embed import Embedder

NEGATIVE_WEIGHT = 0.25  # chosen on ../shared/bench (docs/QUALITY.md, "Several examples")
# Examples in one query at most (to look like and not, together). The combined vector is a mean: each
# further positive moves it less (mAP +0.055 from 1 to 2, +0.015 from 2 to 3 on the bench, docs/QUALITY.md),
# and each example costs a vector read and, in the app, a thumbnail: ten is more than helps and bounds the work.
MAX_EXAMPLES = 10


def distinct(named: Iterable[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """Examples named by path, (path, positive) each, once each as first given: a photo named twice, or
    both to look like and not, counts once."""
    first: dict[str, bool] = {}
    for path, positive in named:
        first.setdefault(path, positive)
    return list(first.items())


def check_count(count: int) -> None:
    """Refuse a query of more than MAX_EXAMPLES examples, before anything is read for it."""
    if count > MAX_EXAMPLES:
        raise BadArgument(
            f"A query takes at most {MAX_EXAMPLES} examples (to look like and not, together), not {count}: "
            "beyond a few, more add nothing measurable (docs/QUALITY.md)."
        )


def combine(positives: Sequence[np.ndarray], negatives: Sequence[np.ndarray] = (), weight: float = NEGATIVE_WEIGHT) -> np.ndarray:
    """One unit query vector: mean(positives) - weight * mean(negatives), normalised."""
    if not positives:
        raise RetrievalError("A search needs at least one example to look like; negatives alone say only what to avoid.")
    mixed = np.mean(np.stack(positives).astype(np.float64), axis=0)
    if negatives:
        mixed -= weight * np.mean(np.stack(negatives).astype(np.float64), axis=0)
    norm = float(np.linalg.norm(mixed))
    if norm < 1e-6:
        raise RetrievalError("The examples cancel each other out: remove a negative or add another positive.")
    unit: np.ndarray = (mixed / norm).astype(np.float32)
    return unit


def search_examples(
    store: ImageStore,
    spec: ModelSpec,
    positives: Sequence[np.ndarray],
    negatives: Sequence[np.ndarray] = (),
    k: int = 10,
    *,
    exclude: Collection[str] = (),
    **options: Unpack[SearchOptions],
) -> list[Hit]:
    """The k best matches of the combined examples, leaving out the examples themselves where they
    are indexed (`exclude`: their paths), which the person has already seen. One positive alone is
    exactly a one-photo search, its own image first if it is indexed. Reads only."""
    checked_k(k)
    vector = combine(positives, negatives)
    if len(positives) == 1 and not negatives:  # its own image, when given, is left out of the expansion only
        only = next(iter(exclude)) if len(exclude) == 1 else None
        return search_vector(store, spec, vector, k, exclude=only, **options)
    hits = search_vector(store, spec, vector, min(k + len(exclude), MAX_RESULTS), **options)
    return [h for h in hits if h.path not in exclude][:k]


@dataclass(frozen=True)
class Example:
    """One example of a query: an indexed image (`path`) or an uploaded photo (`data`), to look like
    (`positive`) or not."""

    name: str
    positive: bool = True
    path: str | None = None
    data: bytes | None = None

    @classmethod
    def indexed(cls, path: str, positive: bool = True) -> Example:
        return cls(Path(path).name, positive=positive, path=path)


def picture(example: Example, roots: tuple[Path, ...] | None = None) -> Image.Image:
    """The example's upright photo: the upload decoded, or the indexed image's file read again if
    `roots` let it be read (core/files.py, `may_read`; None: any file, as the command line reads)."""
    if example.data is not None:
        return decode(example.data, example.name)
    if example.path is None:
        raise RetrievalError(f"{example.name} is neither an upload nor an indexed image.")
    if not may_read(Path(example.path), roots):
        raise UnreadableImage(example.path, NOT_SHOWN)
    return load_image(Path(example.path))


def example_vectors(
    store: ImageStore,
    embedder: Embedder,
    examples: Sequence[Example],
    box: Box | None = None,
    *,
    roots: tuple[Path, ...] | None = None,
    pictures: Sequence[Image.Image | None] = (),
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The positives' and the negatives' vectors: indexed images' from the store (no model), uploads
    embedded; the first example's region `box` only, when given (cropped from its file, which `roots`
    must let be read, then embedded as a photo). `pictures` are the examples' photos the caller has
    decoded already (to check them, or show them), by position: each is used as it is, so no photo is
    decoded twice for one query."""
    spec = embedder.spec
    embedded = [i for i, e in enumerate(examples) if e.path is None or (box is not None and i == 0)]
    stored = store.vectors_of(spec.space, [e.path for i, e in enumerate(examples) if e.path and i not in embedded])
    given = dict(enumerate(pictures))
    photos = [decoded if (decoded := given.get(i)) is not None else picture(examples[i], roots) for i in embedded]
    if box is not None and embedded[:1] == [0]:
        photos[0] = box.crop(photos[0])
    fresh = dict(zip(embedded, embedder.embed(photos), strict=True)) if photos else {}
    vectors = []
    for i, example in enumerate(examples):
        if (vector := fresh.get(i, stored.get(example.path or ""))) is None:
            raise ExampleGone(example)
        vectors.append(vector)
    positives = [v for v, e in zip(vectors, examples, strict=True) if e.positive]
    return positives, [v for v, e in zip(vectors, examples, strict=True) if not e.positive]


def search_query(
    store: ImageStore,
    embedder: Embedder,
    query: Sequence[Example],
    box: Box | None = None,
    *,
    k: int = 10,
    roots: tuple[Path, ...] | None = None,
    pictures: Sequence[Image.Image | None] = (),
    **options: Unpack[SearchOptions],
) -> list[Hit]:
    """The app's search: the query's examples (the first cropped to `box`, read under `roots`) combined
    and searched, the indexed examples themselves left out (`pictures`: those already decoded, see
    `example_vectors`). Raises ExampleGone for an example no longer indexed."""
    check_count(len(query))
    positives, negatives = example_vectors(store, embedder, query, box, roots=roots, pictures=pictures)
    exclude = {e.path for e in query if e.path}
    return search_examples(store, embedder.spec, positives, negatives, k, exclude=exclude, **options)
