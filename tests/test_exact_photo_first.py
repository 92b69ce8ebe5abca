"""The same picture as the query ranks first with similarity 1.000 in every search mode, even
where ranking by neighbourhood would put a near-copy of it ahead."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.neo4j.images import ImageRecord
from retrieval.search import expanded_query, reranked, search_indexed, search_vector
from retrieval.vision.decode import load_image
from tests.support.paths import BENCH

COPIES = 7  # near-copies of the photo, close to each other: blending pulls the query towards them


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


@pytest.fixture
def photo_and_near_copies(store, lite):
    """25 real dalmatian photos, and beside the first one 7 near-copies at plain cosine ~0.96 to it,
    which are closer to each other (0.99) than to it: the case where a near-copy outranked the photo."""
    photos = sorted((BENCH / "images" / "dalmatian").glob("*.jpg"))[:25]
    vectors = lite.embed([load_image(p) for p in photos])
    rng = np.random.default_rng(1)
    dimensions = vectors.shape[1]
    copy = unit(vectors[0] + rng.normal(0, 0.3 / np.sqrt(dimensions), dimensions))
    copies = [copy] + [unit(copy + rng.normal(0, 0.05 / np.sqrt(dimensions), dimensions)) for _ in range(COPIES - 1)]
    records = [
        ImageRecord(str(p), p.name, 1, 1, f"photo{i}", 1, 1, v) for i, (p, v) in enumerate(zip(photos, vectors, strict=True))
    ]
    records += [ImageRecord(f"/copies/{i}.jpg", f"{i}.jpg", 1, 1, f"copy{i}", 1, 1, v) for i, v in enumerate(copies)]
    store.ensure_schema(lite.spec.space)
    store.upsert(lite.spec.space, records)
    return str(photos[0]), vectors[0]


def test_the_photo_itself_comes_first_at_1_000_before_a_near_copy_that_blending_prefers(store, lite, photo_and_near_copies):
    path, vector = photo_and_near_copies
    query = expanded_query(store, lite.spec, vector)
    by_neighbourhood = reranked(store, lite.spec, query, vector)
    assert by_neighbourhood[0].path.startswith("/copies/")  # the case: the neighbourhood alone ranks a near-copy first

    for plain in (False, True):
        for hits in (
            search_vector(store, lite.spec, vector, 10, plain=plain),
            search_indexed(store, lite.spec, path, 10, plain=plain),
        ):
            assert hits[0].path == path and f"{hits[0].score:.3f}" == "1.000"
            assert all(h.score < 0.9999 for h in hits[1:])
            assert sum(h.path.startswith("/copies/") for h in hits[1:]) == COPIES  # the near-copies follow
