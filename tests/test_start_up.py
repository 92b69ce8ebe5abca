"""What a command loads: the storage layer (every module of `retrieval.neo4j`) and the command line
start without torch, OpenVINO or Streamlit (they cost seconds of every start), and a model checked
once on this machine loads again without torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from retrieval.vision.decode import load_image
from tests.support.paths import DEMO_IMAGES, PROJECT

HEAVY = ("torch", "torchvision", "openvino", "streamlit", "networkx")
STORAGE = sorted(
    ".".join(p.relative_to(PROJECT).with_suffix("").parts).removesuffix(".__init__")
    for p in (PROJECT / "retrieval" / "neo4j").glob("*.py")
)


@pytest.mark.parametrize("module", [*STORAGE, "retrieval.neighbours", "retrieval.search", "retrieval.cli"])
def test_importing_a_module_that_embeds_nothing_loads_no_heavy_library(module):
    check = f"import sys, {module}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", check], cwd=PROJECT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""


def test_the_command_line_loads_none_of_pandas_or_pyarrow_which_the_driver_would_import_if_installed():
    # -X importtime lists every module a process imports: a failed attempt at the top module, marked missing, is
    # listed too, but a real import would list the modules inside it.
    command = [sys.executable, "-X", "importtime", "-m", "retrieval", "--help"]
    run = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    imported = [line.split("|")[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")]
    assert "neo4j" in imported
    assert not [m for m in imported if m.startswith(("pandas.", "pyarrow."))]


LOAD = """
import sys, time
import numpy as np
from pathlib import Path
from retrieval.core.settings import load_settings
from retrieval.vision.decode import load_image
from retrieval.vision.embed import Embedder
from retrieval.vision.models import MODELS
started = time.perf_counter()
embedder = Embedder.load(MODELS["efficientnet-lite0"], load_settings({"XDG_CACHE_HOME": sys.argv[1]}, Path()))
seconds = time.perf_counter() - started
np.save(sys.argv[2], embedder.embed([load_image(Path(p)) for p in sys.argv[3:]]))
print("torch" in sys.modules, embedder.runtime.name, embedder.fingerprint, f"{seconds:.2f}")
"""


@pytest.mark.slow  # models built and compiled again in fresh processes: not for the quick tier
def test_a_model_checked_once_on_this_machine_loads_again_without_torch_and_gives_the_same_vectors(lite, tmp_path):
    photos = [str(p) for p in sorted(DEMO_IMAGES.glob("car_ferrari_*.jpg"))[:4]]

    def load(name: str) -> tuple[list[str], np.ndarray]:
        args = [sys.executable, "-c", LOAD, str(tmp_path / "cache"), str(tmp_path / name), *photos]
        done = subprocess.run(args, cwd=PROJECT, capture_output=True, text=True, check=True)
        return done.stdout.split(), np.load(tmp_path / name)

    (first_torch, first_runtime, first_print, _), first = load("first.npy")
    (again_torch, again_runtime, again_print, _), again = load("again.npy")
    assert (first_torch, first_runtime) == ("True", "openvino")  # checked against torch once
    assert (again_torch, again_runtime) == ("False", "openvino")  # then remembered: no torch at all
    assert first_print == again_print == lite.fingerprint  # the same fingerprint as a load that builds the network
    assert np.array_equal(first, again)
    reference = lite.embed([load_image(Path(p)) for p in photos])
    assert np.min(np.sum(again * reference, axis=1)) >= 0.9999
