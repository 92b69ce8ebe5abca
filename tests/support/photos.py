"""Real photos and real vectors: the pretrained EfficientNet-Lite0, the labelled bench photos' vectors,
the seed recipe's loop, near-duplicate copies, and stand-ins for larger collections."""

from __future__ import annotations

import csv
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps
from torchvision import transforms

from retrieval.core.batches import chunks
from retrieval.core.settings import Settings
from retrieval.vision.decode import load_image
from retrieval.vision.embed import Embedder
from retrieval.vision.models import MODELS
from tests.support.paths import BENCH, PROJECT


@pytest.fixture(scope="session")
def lite() -> Embedder:
    return Embedder.load(MODELS["efficientnet-lite0"], Settings())


def bench_vectors(embedder: Embedder) -> np.ndarray:
    """The 1,965 bench photos' vectors from `embedder`, in labels.csv order, kept in .cache/ between
    runs (one file per model and precision)."""
    cache = PROJECT / ".cache" / "bench-vectors" / f"{embedder.spec.slug}-{embedder.runtime.precision}.npy"
    if not cache.exists():
        paths = [BENCH / row["path"] for row in csv.DictReader((BENCH / "labels.csv").open())]
        vectors = [embedder.embed([load_image(p) for p in batch]) for batch in chunks(paths, 32)]
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, np.concatenate(vectors))
    return np.load(cache)


def seed_transform(mean: Sequence[float], std: Sequence[float]) -> transforms.Compose:
    """The seed recipe's preprocessing, in torchvision."""
    return transforms.Compose(
        [transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(), transforms.Normalize(mean, std)]
    )


def seed_loop(embedder: Embedder, paths: Sequence[Path]) -> np.ndarray:
    """The seed recipe as written: open, convert, torchvision's transforms, model, one image at a time,
    torch eager fp32 under no_grad (the baseline of the speed benchmarks)."""
    network, transform = embedder.network, seed_transform(embedder.spec.mean, embedder.spec.std)
    vectors = []
    for path in paths:
        image = Image.open(path).convert("RGB")
        with torch.no_grad():
            vectors.append(network(transform(image).unsqueeze(0)).flatten().numpy())
    return np.stack(vectors)


def brute_force_seconds(vectors: np.ndarray, query: np.ndarray, k: int) -> float:
    """Seconds for exact top-k search in numpy over rows already in memory: a matrix-vector product
    and a partial sort (the baseline the search benchmarks compare the index with)."""
    started = time.perf_counter()
    scores = vectors @ query
    top = np.argpartition(-scores, k)[:k]
    top[np.argsort(-scores[top])]
    return time.perf_counter() - started


def noisy_copies(real: np.ndarray, size: int, rng: np.random.Generator, chunk: int = 50_000) -> np.ndarray:
    """`size` unit vectors: `real`'s rows, then copies of them with Gaussian noise of norm ~0.5 (cosine ~0.9
    to their source), to stand in for a larger collection of similar photos. Made `chunk` rows at a
    time into one float32 array (a million 1280-d rows are 5 GB; whole-array temporaries would be 25)."""
    vectors = np.empty((size, real.shape[1]), dtype=np.float32)
    vectors[: min(size, len(real))] = real[:size]
    for start in range(len(real), size, chunk):
        copies = real[np.arange(start, min(start + chunk, size)) % len(real)]
        noise = rng.normal(0, 0.5 / np.sqrt(real.shape[1]), copies.shape).astype(np.float32)
        vectors[start : start + len(copies)] = copies + noise
    for start in range(0, size, chunk):
        rows = vectors[start : start + chunk]
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return vectors


def make_near_duplicates(folder: Path, classes: Sequence[str], per_class: int, copied_every: int) -> list[set[str]]:
    """Copy `per_class` bench photos of each class into `folder`, and beside every `copied_every`-th
    one four altered copies: re-encoded at JPEG quality 30, resized to 75 %, cropped to its centre
    90 %, mirrored. Returns the groups a near-duplicate finder should make: each original with its copies."""
    folder.mkdir(parents=True, exist_ok=True)
    groups = []
    originals = [p for label in classes for p in sorted((BENCH / "images" / label).glob("*.jpg"))[:per_class]]
    for i, source in enumerate(originals):
        original = folder / f"{source.parent.name}_{source.stem}.jpg"
        shutil.copy(source, original)
        if i % copied_every:
            continue
        with Image.open(source) as opened:
            photo = opened.convert("RGB")
        w, h = photo.size
        copies = {
            "reencoded": (photo, 30),
            "resized": (photo.resize((w * 3 // 4, h * 3 // 4), Image.Resampling.LANCZOS), 90),
            "crop": (photo.crop((w // 20, h // 20, w - w // 20, h - h // 20)), 90),
            "mirror": (ImageOps.mirror(photo), 90),
        }
        for name, (image, quality) in copies.items():
            image.save(folder / f"{original.stem}_{name}.jpg", quality=quality)
        groups.append({str(original), *(str(folder / f"{original.stem}_{name}.jpg") for name in copies)})
    return groups
