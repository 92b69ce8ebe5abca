"""What makes a vector current is kept per model (the content hash it was made from), vectors of
another version of a model (another fingerprint) are never mixed with those stored, and vectors of
the same model in each admitted precision are."""

from __future__ import annotations

import copy
import json
import os
import shutil

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest
from torch import nn

from retrieval.core.errors import RetrievalError
from retrieval.core.settings import PRECISION_ENV
from retrieval.indexing import index_folder
from retrieval.search import model_mismatch
from retrieval.vision.decode import load_image
from retrieval.vision.embed import Embedder
from retrieval.vision.models import Availability, ModelSpec
from retrieval.vision.runtime import default_precision, native_bf16
from tests.support.cli import run_cli
from tests.support.graph_checks import assert_every_close_pair_is_linked, assert_links_are_the_exact_nearest_neighbours
from tests.support.paths import APP, DEMO_IMAGES

PHOTOS = sorted(DEMO_IMAGES.glob("car_ferrari_*.jpg"))[:12]


def made_here(name: str, dimensions: int, network: nn.Module) -> ModelSpec:
    """A model whose network is made by the test, read from no weights file."""
    usable = Availability(True, "test")
    return ModelSpec(name, dimensions, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), lambda _: network, lambda _: usable, lambda _: None)


def tiny_model() -> tuple[ModelSpec, nn.Module]:
    """A second model, small and fixed: mean colours on a 4x4 grid (48-d)."""
    network = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Flatten())
    spec = made_here("tiny-test", 48, network)
    return spec, network


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for photo in PHOTOS:
        shutil.copy(photo, folder / photo.name)
    return folder


def test_a_file_edited_between_two_models_is_embedded_again_for_the_first(store, lite, folder, tmp_path):
    spec, network = tiny_model()
    tiny = Embedder.from_network(spec, network, torch.device("cpu"), runtime="torch", cache=tmp_path)
    assert index_folder(store, lite, folder).new == len(PHOTOS)  # model A

    edited = folder / PHOTOS[0].name
    edited.write_bytes((DEMO_IMAGES / "everyday_food_salad_01.jpg").read_bytes())
    os.utime(edited, ns=(10**18, 10**18))
    assert index_folder(store, tiny, folder).indexed == len(PHOTOS)  # model B, with the edited file

    again = index_folder(store, lite, folder)  # model A again: its vector was made from the old picture
    assert (again.updated, again.unchanged) == (1, len(PHOTOS) - 1)
    fresh = lite.embed([load_image(edited)])[0]
    assert float(store.vector_of(lite.spec.space, str(edited)) @ fresh) > 0.9999
    assert index_folder(store, tiny, folder).unchanged == len(PHOTOS)  # and B's stays current
    assert_every_close_pair_is_linked(store, lite.spec)  # the links to the edited image carry its new cosines


def test_vectors_of_another_version_of_a_model_are_refused_then_replaced_on_request(store, lite, folder, tmp_path):
    index_folder(store, lite, folder)
    before = store.vectors(lite.spec.space)
    retrained = copy.deepcopy(lite.network)
    with torch.no_grad():
        next(retrained.parameters()).mul_(1.01)  # the same model name, other weights
    other = Embedder.from_network(lite.spec, retrained, torch.device("cpu"), runtime="torch", cache=tmp_path)
    assert other.fingerprint != lite.fingerprint and store.fingerprint(lite.spec.space) == lite.fingerprint

    with pytest.raises(RetrievalError, match=r"another version of efficientnet-lite0.*--reembed"):
        index_folder(store, other, folder)
    after = store.vectors(lite.spec.space)
    assert after.keys() == before.keys() and all(np.array_equal(after[p], before[p]) for p in before)  # nothing mixed in

    report = index_folder(store, other, folder, reembed=True)
    assert report.new + report.updated == len(PHOTOS)
    assert store.fingerprint(lite.spec.space) == other.fingerprint
    photo = folder / PHOTOS[1].name
    assert float(store.vector_of(lite.spec.space, str(photo)) @ other.embed([load_image(photo)])[0]) > 0.9999
    assert_links_are_the_exact_nearest_neighbours(store, lite.spec)


def test_embedder_leaves_the_callers_network_as_it_was(tmp_path):
    network = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Dropout(0.5), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    network.train()
    spec = made_here("conv-test", 8, network)
    embedder = Embedder.from_network(spec, network, torch.device("cpu"), runtime="torch", cache=tmp_path)
    assert network.training  # its mode is the caller's (the embedder's copy is in eval mode)
    assert not embedder.network.training
    assert all(a is not b for a, b in zip(network.parameters(), embedder.network.parameters(), strict=True))


def test_a_search_with_another_version_of_the_model_is_warned_about_in_the_cli_and_the_app(store, lite, folder, cli_env, app_env):
    index_folder(store, lite, folder)
    store.driver.execute_query("MATCH (s:VectorSpace {index: 'image_efficientnet_lite0'}) SET s.fingerprint = 'older'")
    assert model_mismatch(store, lite.spec, lite.fingerprint).startswith("The stored efficientnet-lite0 vectors were made by")
    found = run_cli("search", str(folder / PHOTOS[0].name), env=cli_env)
    assert found.returncode == 0 and "fingerprint older" in found.stderr and "--reembed" in found.stderr
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert any("--reembed" in w.value for w in at.warning)


def test_a_forced_precision_is_for_its_own_run_and_both_precisions_share_the_catalogue(store, cli_env, tmp_path):
    """RETRIEVAL_PRECISION set for one `index` run is not what the next run without it chooses (two
    processes in a row, with a cache folder of their own), and the two runs' vectors, one precision
    each, share the index: `stats` counts them by precision, and a search finds both."""
    default = default_precision()
    other = "f32" if default == "bf16" else "bf16"
    env = {**cli_env, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, photos in ((first, PHOTOS[:6]), (second, PHOTOS[6:])):
        folder.mkdir()
        for photo in photos:
            shutil.copy(photo, folder / photo.name)

    forced = run_cli("index", str(first), env={**env, PRECISION_ENV: other})
    assert forced.returncode == 0 and f"(set by {PRECISION_ENV})" in forced.stderr, forced.stderr
    for command in (("index", str(second)), ("search", str(first / PHOTOS[0].name), "-k", "12")):
        later = run_cli(*command, env=env)  # the second from what the first remembered
        assert later.returncode == 0, later.stderr
        runtime = next(line for line in later.stderr.splitlines() if line.startswith("Runtime:"))
        assert f"; {default} (this CPU" in runtime and PRECISION_ENV not in runtime
        assert "another version" not in later.stderr
    found = [line.split()[-1] for line in later.stdout.splitlines()[1:]]
    assert {str(first / p.name) for p in PHOTOS[:6]} | {str(second / p.name) for p in PHOTOS[6:]} == set(found)

    stats = run_cli("stats", "--json", env=env)
    (space,) = [s for s in json.loads(stats.stdout)["indexes"] if s["model"] == "efficientnet-lite0"]
    assert space["vectors"] == 12 and sum(space["precisions"].values()) == 12
    if native_bf16():  # elsewhere a forced bf16 may run in f32 (runtime.py)
        assert space["precisions"] == {"bf16": 6, "f32": 6}
