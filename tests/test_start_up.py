"""What a command that embeds nothing loads: the storage layer (every module of `retrieval.neo4j`) and
the command line start without torch, OpenVINO or Streamlit (they cost seconds of every start)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.paths import PROJECT

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
