"""The command line as users run it: `python -m retrieval` in a process of its own, pointed at the
tests' server."""

from __future__ import annotations

import pickle
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from retrieval.neo4j.server import LocalNeo4j
from retrieval.neo4j.store import ImageStore
from tests.support.paths import PROJECT
from tests.support.server import server_env


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C reaches the runs a test starts, as in a terminal. A session started as a background job
    (`cmd &` in a script) has SIGINT ignored, and its children would inherit that: Python in them then
    never raises KeyboardInterrupt, and a run a test interrupts goes on to its end. With a handler here,
    every child starts with SIGINT at its default (exec resets a handled signal, not an ignored one)."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def cli_env(neo4j_server: LocalNeo4j) -> dict[str, str]:
    return server_env(neo4j_server)


def run_cli(*args: str, env: dict[str, str], wrapper: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    """`python -m retrieval ARGS`, optionally behind a wrapper command such as `setpriv ...`. Without
    one, the process is forked from one that has made the command line's imports already (they were
    most of a short command's CPU, some 150 times a test run): see tests/support/cli_fork.py."""
    command = [*wrapper, sys.executable, "-m", "retrieval", *args]
    if wrapper:
        return subprocess.run(command, env=env, cwd=PROJECT, capture_output=True, text=True, check=False)
    with tempfile.TemporaryDirectory() as output, socket.socket(socket.AF_UNIX) as connection:
        out, err = Path(output, "stdout"), Path(output, "stderr")
        connection.connect(str(FORKS.address()))
        connection.sendall(pickle.dumps((args, env, str(PROJECT), str(out), str(err))))
        code = int(connection.makefile("rb").read())
        return subprocess.CompletedProcess(command, code, out.read_text(), err.read_text())


class ForkServer:
    """This test process's fork server (tests/support/cli_fork.py), started on first use (by whichever
    thread comes first); it ends with this process, which holds its stdin, and removes its socket's
    folder then."""

    def __init__(self) -> None:
        self.socket: Path | None = None
        self.server: subprocess.Popen[bytes] | None = None  # held: its stdin closing ends the server
        self.starting = threading.Lock()

    def address(self) -> Path:
        """The server's socket, once it listens."""
        with self.starting:
            if self.socket is None:
                listening = Path(tempfile.mkdtemp(prefix="cli-fork-"), "socket")
                server = subprocess.Popen(
                    [sys.executable, "-m", "tests.support.cli_fork", str(listening)],
                    cwd=PROJECT,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                while not listening.exists():  # an event (the socket listening), polled with no deadline
                    assert server.poll() is None, "the command line's fork server ended"
                    time.sleep(0.02)
                self.server, self.socket = server, listening
            return self.socket


FORKS = ForkServer()


def start_cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """`python -m retrieval ARGS` started in the background, its output captured: for runs a test
    stops, kills or races with others."""
    command = [sys.executable, "-m", "retrieval", *args]
    return subprocess.Popen(command, env=env, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def count_images(store: ImageStore) -> int:
    return store.driver.execute_query("MATCH (i:Image) RETURN count(i) AS n").records[0]["n"]


def wait_for_batches(store: ImageStore, run: subprocess.Popen[str], images: int) -> None:
    """Until the run has committed `images` images (the store is polled for that event, a few times a
    second, with no deadline: a run that ends first fails the test instead of being waited out)."""
    while count_images(store) < images:
        assert run.poll() is None, run.communicate()[1]
        time.sleep(0.05)
