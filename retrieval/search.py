"""Find the stored images most similar to a picture, a file, or an image already in the store."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from retrieval.decode import load_image
from retrieval.embed import Embedder, ModelSpec
from retrieval.errors import RetrievalError
from retrieval.store import Hit, ImageStore


def search_image(store: ImageStore, embedder: Embedder, image: Image.Image, k: int = 10) -> list[Hit]:
    return store.nearest(embedder.spec, embedder.embed([image])[0], k)


def search_file(store: ImageStore, embedder: Embedder, path: Path, k: int = 10) -> list[Hit]:
    return search_image(store, embedder, load_image(path), k)


def search_indexed(store: ImageStore, spec: ModelSpec, path: str, k: int = 10) -> list[Hit]:
    """Neighbours of an image already stored, from its stored vector: no decoding, no model."""
    vector = store.vector_of(spec, path)
    if vector is None:
        raise RetrievalError(f"{path} has no {spec.name} vector in the database; index its folder first.")
    return store.nearest(spec, vector, k)
