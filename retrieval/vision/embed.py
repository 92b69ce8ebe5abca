"""An image model ready to embed: its network on a device and a runtime, and its preprocessing
(the seed recipe's Resize(256), CenterCrop(224), ToTensor, then the normalisation the model's
weights were trained with), turning pictures into unit-length vectors. The models themselves are
named in models.py."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision import transforms

from retrieval.core.settings import Settings
from retrieval.vision.models import ModelSpec
from retrieval.vision.runtime import choose_runtime, weights_digest

RESIZE = 256  # the seed recipe's preprocessing: Resize(256), CenterCrop(224)
CROP = 224
PRECISION = "fp32"  # of the forward pass's arithmetic; part of the vectors' fingerprint


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Embedder:
    """A model with its preprocessing, ready on a device and a runtime (see runtime.py); `embed`
    turns pictures into unit vectors."""

    def __init__(
        self, spec: ModelSpec, network: nn.Module, device: torch.device, runtime: str | None = None, cache: Path | None = None
    ) -> None:
        self.spec = spec
        self.device = device
        # A copy: the caller's network stays on its device and in its mode.
        self.network = copy.deepcopy(network).eval().to(device)
        self.runtime = choose_runtime(self.network, spec.slug, device, runtime, cache or Settings().openvino_cache)
        self.transform = transforms.Compose(
            [
                transforms.Resize(RESIZE),
                transforms.CenterCrop(CROP),
                transforms.ToTensor(),
                transforms.Normalize(spec.mean, spec.std),
            ]
        )
        # What made the vectors, so that vectors of another version of the model are never mixed with these.
        recipe = f"{spec.name} {spec.dimensions} resize {RESIZE} crop {CROP} mean {spec.mean} std {spec.std} {PRECISION}"
        self.fingerprint = hashlib.sha256(f"{recipe} {weights_digest(self.network)}".encode()).hexdigest()[:16]

    @classmethod
    def load(
        cls, spec: ModelSpec, settings: Settings | None = None, device: torch.device | None = None, runtime: str | None = None
    ) -> Embedder:
        """`spec`'s network, built as `settings` say (weights file, runtime, cache), on `device` (the GPU if
        there is one); `runtime` (openvino or torch) wins over the settings' runtime."""
        settings = settings or Settings()
        network = spec.build(settings)
        return cls(spec, network, device or default_device(), runtime or settings.runtime, settings.openvino_cache)

    @property
    def name(self) -> str:
        return self.spec.name

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        tensor: torch.Tensor = self.transform(image)
        return tensor

    def embed_tensors(self, batch: Sequence[torch.Tensor]) -> np.ndarray:
        """Unit-length float32 vectors, one row per preprocessed picture."""
        features = self.runtime.forward(torch.stack(list(batch)))
        unit: np.ndarray = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
        return unit

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.embed_tensors([self.preprocess(img) for img in images])
