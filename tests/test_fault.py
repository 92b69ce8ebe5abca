"""An indexing run stopped in the middle (Ctrl-C, kill -9; Neo4j going down is in tests/test_outages.py):
what was committed stays, and a rerun ends with exactly one node and one vector per photo, and exact links."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tests.support.cli import count_images, run_cli, start_cli, wait_for_batches
from tests.support.graph_checks import assert_every_close_pair_is_linked
from tests.support.paths import copy_bench_photos

PHOTOS = 200


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_an_index_run_stopped_by_ctrl_c_or_killed_keeps_its_batches_and_a_rerun_finishes(store, lite, cli_env, tmp_path, stop):
    folder = tmp_path / "photos"
    copy_bench_photos(folder, PHOTOS)
    run = start_cli("index", str(folder), "--batch-size", "16", env=cli_env)
    wait_for_batches(store, run, 32)
    run.send_signal(stop)
    _, stderr = run.communicate(timeout=120)
    if stop == signal.SIGINT:
        assert run.returncode == 130 and "Traceback" not in stderr
        assert "Interrupted. Every finished batch is stored; run the same command again to finish." in stderr
    kept = count_images(store)
    assert 32 <= kept < PHOTOS

    rerun = run_cli("index", str(folder), env=cli_env)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{PHOTOS - kept} new, 0 updated, {kept} unchanged" in rerun.stdout
    assert count_images(store) == store.count_vectors(lite.spec.space) == PHOTOS
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
