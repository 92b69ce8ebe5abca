"""`index --ray` on a local Ray cluster of 2 workers, with a Neo4j of its own, both inside a network
namespace with only loopback (tests/ray_scenario.py does the whole scenario there, once, on one
cluster that every run shares, and writes what it saw): the same nodes, vectors and links as a
plain run; a worker killed mid-run still gives the exact set; Ctrl-C stops the workers and keeps
what committed; Neo4j down reads as in a plain run; and every socket Ray (or Neo4j) listens on is
on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from retrieval.neo4j.java import default_version
from retrieval.neo4j.maven import fetch_jars
from tests.support.paths import PROJECT

PHOTOS = 160  # a worker is killed, or Ctrl-C sent, once 64 (MIDWAY) are in: 6 batches of 16 still to go
SUMMARY = f"{PHOTOS} new, 0 updated, 0 unchanged, 0 removed, 0 skipped"

pytestmark = pytest.mark.slow  # a Neo4j and a Ray cluster of its own, in a subprocess: not for the quick tier

needs_namespace = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None,
    reason="needs root, unshare and ip, to keep Ray off the host's network",
)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("ray") / "scenario.json"
    version = default_version()
    fetch_jars(version, PROJECT / ".neo4j" / "dist" / version / "lib")  # here: the namespace reaches no Maven Central
    script = f"ip link set lo up && exec {sys.executable} tests/ray_scenario.py {out} {PHOTOS}"
    command = ["unshare", "-n", "bash", "-c", script]
    done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, timeout=1800, check=False)
    assert done.returncode == 0 and out.exists(), done.stderr[-3000:]
    return json.loads(out.read_text())


def assert_same_graph(ray: dict, plain: dict) -> None:
    assert ray["paths"] == plain["paths"] and len(plain["paths"]) == PHOTOS
    assert ray["most_nodes_per_path"] == 1  # 0 duplicated
    assert ray["unlisted"] == plain["unlisted"] == 0  # every image got its SIMILAR_TO list from its own run
    for path, vector in plain["vectors"].items():
        assert float(np.dot(vector, ray["vectors"][path])) >= 0.9999, path
    assert {p: [b for b, _ in links] for p, links in ray["links"].items()} == {
        p: [b for b, _ in links] for p, links in plain["links"].items()
    }


@needs_namespace
def test_indexing_on_ray_gives_the_nodes_vectors_and_links_of_a_plain_run(scenario):
    plain, ray = scenario["plain_run"], scenario["ray_run"]
    assert plain["code"] == 0 and ray["code"] == 0, ray["stderr"][-2000:]
    assert SUMMARY in plain["stdout"] and SUMMARY in ray["stdout"]
    assert "Traceback" not in ray["stderr"]
    assert_same_graph(scenario["ray"], scenario["plain"])


@needs_namespace
def test_a_worker_killed_mid_run_is_restarted_and_the_run_ends_with_the_exact_set(scenario):
    kill = scenario["kill"]
    assert kill["error"] is None
    assert len(kill["actor_pids_before"]) == 2 and kill["images_when_killed"] < PHOTOS
    assert kill["restarts"] >= 1
    assert kill["summary"].startswith(SUMMARY)
    assert_same_graph(scenario["killed"], scenario["plain"])


@needs_namespace
def test_ctrl_c_on_the_driver_stops_the_workers_and_keeps_what_committed(scenario):
    run, after = scenario["interrupted_run"], scenario["interrupted"]
    assert run["code"] == 130 and "Traceback" not in run["stderr"]
    assert "Interrupted. Every finished batch is stored; run the same command again to finish." in run["stderr"]
    assert 0 < after["kept"] < PHOTOS
    assert after["later"] == after["kept"]  # no worker wrote after the driver stopped
    assert after["workers_alive"] == []


@needs_namespace
def test_neo4j_going_down_under_a_ray_run_says_what_a_plain_run_says(scenario):
    run = scenario["neo4j_down_run"]
    assert run["code"] == 1 and "Traceback" not in run["stderr"]
    assert f"Cannot use Neo4j at {scenario['neo4j_uri']}: the connection was lost" in run["stderr"]
    assert "Work finished before this is kept" in run["stderr"]


@needs_namespace
def test_every_socket_listening_during_the_runs_is_on_127_0_0_1(scenario):
    listening = scenario["listening"]
    assert listening, "no listening socket was seen"
    assert [s for s in listening if not s.startswith(("127.0.0.1:", "0000:0000:0000:0000:0000:ffff:7f00:0001:"))] == []
