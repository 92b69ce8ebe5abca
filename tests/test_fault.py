"""An indexing run stopped in the middle (Neo4j going down, Ctrl-C, kill -9): what was committed
stays, and a rerun ends with exactly one node and one vector per photo, and exact links."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from retrieval.vision.decode import load_image
from tests.support.cli import run_cli, start_cli
from tests.support.graph_checks import assert_every_close_pair_is_linked
from tests.support.paths import copy_bench_photos
from tests.support.server import crash, outage_env

PHOTOS = 500
STOPPED_PHOTOS = 200


def count_images(store) -> int:
    return store.driver.execute_query("MATCH (i:Image) RETURN count(i) AS n").records[0]["n"]


def wait_for_batches(store, run: subprocess.Popen[str], images: int) -> None:
    """Until the run has committed `images` images (the store is polled for that event, a few times a
    second, with no deadline: a run that ends first fails the test instead of being waited out)."""
    while count_images(store) < images:
        assert run.poll() is None, run.communicate()[1]
        time.sleep(0.05)


def test_indexing_survives_neo4j_stopping_midway_and_a_rerun_finishes_the_job(outage_store, lite, outage_server, tmp_path):
    store, server, cli_env = outage_store, outage_server, outage_env(outage_server)  # a server of its own to stop
    folder = tmp_path / "photos"
    copy_bench_photos(folder, PHOTOS)
    expected = sorted(str(p) for p in folder.iterdir())

    run = start_cli("index", str(folder), "--batch-size", "16", env=cli_env)
    wait_for_batches(store, run, 32)  # two batches committed
    crash(server)
    _, stderr = run.communicate(timeout=300)
    assert run.returncode == 1
    assert f"Cannot use Neo4j at {server.uri}: the connection was lost" in stderr
    assert "Work finished before this is kept" in stderr and "python -m retrieval db start" in stderr
    assert "Traceback" not in stderr

    server.start()
    kept = count_images(store)
    assert 32 <= kept < PHOTOS
    rerun = run_cli("index", str(folder), env=cli_env)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{PHOTOS - kept} new, 0 updated, {kept} unchanged, 0 removed, 0 skipped" in rerun.stdout

    assert sorted(store.paths()) == expected  # 0 lost, 0 duplicated (paths are unique by constraint)
    assert count_images(store) == PHOTOS
    assert store.count_vectors(lite.spec.space) == PHOTOS
    for path in expected[:: PHOTOS // 10]:
        stored = store.vector_of(lite.spec.space, path)
        fresh = lite.embed([load_image(folder / path.rsplit("/", 1)[1])])[0]
        assert float(np.dot(stored, fresh)) > 0.9999


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_an_index_run_stopped_by_ctrl_c_or_killed_keeps_its_batches_and_a_rerun_finishes(store, lite, cli_env, tmp_path, stop):
    folder = tmp_path / "photos"
    copy_bench_photos(folder, STOPPED_PHOTOS)
    run = start_cli("index", str(folder), "--batch-size", "16", env=cli_env)
    wait_for_batches(store, run, 32)
    run.send_signal(stop)
    _, stderr = run.communicate(timeout=120)
    if stop == signal.SIGINT:
        assert run.returncode == 130 and "Traceback" not in stderr
        assert "Interrupted. Every finished batch is stored; run the same command again to finish." in stderr
    kept = count_images(store)
    assert 32 <= kept < STOPPED_PHOTOS

    rerun = run_cli("index", str(folder), env=cli_env)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{STOPPED_PHOTOS - kept} new, 0 updated, {kept} unchanged" in rerun.stdout
    assert count_images(store) == store.count_vectors(lite.spec.space) == STOPPED_PHOTOS
    assert_every_close_pair_is_linked(store, lite.spec)  # the batch stopped before its lists got them from the rerun


STUCK_AFTER_CTRL_C = """
import time
from retrieval.cli.interrupt import exit_soon_after_ctrl_c
exit_soon_after_ctrl_c(grace=1.0)
try:
    print("ready", flush=True)  # inside the try: a Ctrl-C sent the moment "ready" is read is caught below
    time.sleep(60)
except KeyboardInterrupt:
    while True:  # cleanup that never ends, as a call that does not let go
        pass
"""


def test_a_ctrl_c_ends_the_command_within_seconds_even_when_what_it_interrupted_hangs():
    run = subprocess.Popen([sys.executable, "-c", STUCK_AFTER_CTRL_C], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert run.stdout.readline() == "ready\n"
    run.send_signal(signal.SIGINT)
    # Its cleanup never ends, so the command ending at all is the grace timer's doing (the timeout only bounds a failure).
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 130
    assert "Interrupted. Every finished batch is stored" in stderr and "Traceback" not in stderr
