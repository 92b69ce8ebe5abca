"""An image model ready to embed: a runtime for its network and its preprocessing (the seed
recipe's Resize(256), CenterCrop(224), ToTensor, then the normalisation the model's weights were
trained with, preprocess.py), turning pictures into unit-length vectors. The models themselves
are named in models.py.

A model whose runtime was checked before on this machine (runtime.py's `Verdict`) is loaded
without importing torch: its converted network is read and compiled, and its weights' digest read,
so a command is ready in about a second instead of several (docs/BENCHMARKS.md)."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from retrieval.core.settings import Settings
from retrieval.vision.decode import load_image
from retrieval.vision.models import ModelSpec, choose_model
from retrieval.vision.preprocess import CROP, RESIZE, Preprocess
from retrieval.vision.runtime import (
    ADMITTED,
    INPUT_SHAPE,
    Runtime,
    Verdict,
    choose_runtime,
    recall,
    remember,
    verdict_key,
    weights_digest,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

# Real photos the runtimes are checked on (with one fixed random input), where the project has them.
CHECK_PHOTOS = Path(__file__).resolve().parents[2] / "images"
CHECK_PHOTO_COUNT = 8


def default_device() -> torch.device:
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def gpu_driver_present() -> bool:
    """Whether a GPU driver is loaded (NVIDIA's or AMD's): then torch must be asked which device to use."""
    return Path("/proc/driver/nvidia/version").exists() or Path("/dev/kfd").exists()


class Embedder:
    """A model's runtime (see runtime.py) and preprocessing; `embed` turns pictures into unit vectors.
    Made by `load` (or `from_network` for a network in hand); `network` builds the PyTorch network
    only when asked for it (the seed loop of the benchmarks)."""

    def __init__(self, spec: ModelSpec, runtime: Runtime, weights: str, network: Callable[[], nn.Module]) -> None:
        self.spec = spec
        self.runtime = runtime
        # What made the vectors (the weights, by their digest, and the preprocessing), so that vectors
        # of another version of the model are never mixed with these; vectors of every admitted
        # precision are, and the previous release's fingerprints of the same model are renamed to it.
        self.fingerprint = fingerprint(spec, weights)
        self.former_fingerprints = {former_fingerprint(spec, weights, precision): precision for precision in ADMITTED}
        self.weights = weights
        self.preprocess = Preprocess(spec.mean, spec.std)
        self._network = network
        self._built: nn.Module | None = None

    @classmethod
    def from_network(
        cls,
        spec: ModelSpec,
        network: nn.Module,
        device: torch.device,
        *,
        cache: Path,
        runtime: str | None = None,
        precision: str | None = None,
    ) -> Embedder:
        """`network` (copied: the caller's stays on its device and in its mode) on `device`, on the
        runtime chosen by checking it against torch (`runtime`: openvino or torch, to force one), its
        OpenVINO model kept under `cache` (the caller's choice: no settings are read here)."""
        embedder, _ = cls._checked(spec, network, device, runtime, cache=cache, precision=precision)
        return embedder

    @classmethod
    def _checked(
        cls, spec: ModelSpec, network: nn.Module, device: torch.device, asked: str | None, *, cache: Path, precision: str | None
    ) -> tuple[Embedder, Path | None]:
        network = copy.deepcopy(network).eval().to(device)
        check = check_inputs(spec)
        chosen, ir = choose_runtime(network, spec.slug, device, asked=asked, cache=cache, check=check, precision=precision)
        return cls(spec, chosen, weights_digest(network), lambda: network), ir

    @classmethod
    def load(
        cls, spec: ModelSpec, settings: Settings, device: torch.device | None = None, runtime: str | None = None
    ) -> Embedder:
        """`spec`'s network, built as `settings` say (weights file, runtime, precision, cache), on
        `device` (the GPU if there is one); `runtime` (openvino or torch) wins over the settings' runtime.
        What the check found is remembered per weights file, so the next load on this machine needs no
        torch; a load with a runtime or precision forced remembers under a key of its own (`verdict_key`),
        so a later load without them chooses as if it had never run."""
        asked = runtime or settings.runtime or None
        precision = settings.precision or None
        cache = settings.openvino_cache
        weights = spec.weights_file(settings)
        key = None
        if weights is not None and weights.is_file() and device is None and asked != "torch" and not gpu_driver_present():
            key = verdict_key(spec.slug, weights, runtime=asked, precision=precision)
            if (known := recall(cache, spec.slug, key)) is not None:
                ready, verdict = known
                return cls(spec, ready, verdict.weights, lambda: spec.build(settings))
        network = spec.build(settings)
        embedder, ir = cls._checked(spec, network, device or default_device(), asked, cache=cache, precision=precision)
        if key is not None and ir is not None and embedder.runtime.name == "openvino":
            verdict = Verdict(str(ir), embedder.runtime.precision, embedder.runtime.reason, embedder.weights)
            remember(cache, spec.slug, key, verdict)
        return embedder

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def network(self) -> nn.Module:
        """The PyTorch network, built on first use."""
        if self._built is None:
            self._built = self._network().eval()
        return self._built

    def embed_arrays(self, batch: Sequence[np.ndarray]) -> np.ndarray:
        """Unit-length float32 vectors, one row per preprocessed picture."""
        features = self.runtime.forward(np.stack(list(batch)))
        unit: np.ndarray = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
        return unit

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.embed_arrays([self.preprocess(img) for img in images])


def load_model(settings: Settings, name: str | None = None) -> Embedder:
    """The model `name` (else the one `choose_model` picks), loaded and ready to embed; torch, when
    needed, is imported only then."""
    return Embedder.load(choose_model(name, settings).spec, settings)


def fingerprint(spec: ModelSpec, weights: str) -> str:
    """The recipe and the weights' digest (`weights_digest`): what the vectors of every admitted precision share."""
    return hashlib.sha256(f"{_recipe(spec)} any admitted precision {weights}".encode()).hexdigest()[:16]


def former_fingerprint(spec: ModelSpec, weights: str, precision: str) -> str:
    """The previous release's fingerprint of the same vectors, which named their precision (`fp32` for float32)."""
    arithmetic = "fp32" if precision == "f32" else precision
    return hashlib.sha256(f"{_recipe(spec)} {arithmetic} {weights}".encode()).hexdigest()[:16]


def _recipe(spec: ModelSpec) -> str:
    return f"{spec.name} {spec.dimensions} resize {RESIZE} crop {CROP} mean {spec.mean} std {spec.std}"


def check_inputs(spec: ModelSpec) -> np.ndarray:
    """What the runtimes are compared on: one fixed random input in [-2, 2] and the project's photos
    preprocessed for `spec`."""
    preprocess = Preprocess(spec.mean, spec.std)
    photos = sorted(CHECK_PHOTOS.glob("*.jpg"))[:CHECK_PHOTO_COUNT] if CHECK_PHOTOS.is_dir() else []
    noise = np.random.default_rng(0).uniform(-2, 2, (1, *INPUT_SHAPE)).astype(np.float32)
    return np.concatenate([noise, *(preprocess(load_image(p))[None] for p in photos)])
