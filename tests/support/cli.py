"""The command line as users run it: `python -m retrieval` in a process of its own, pointed at the
tests' server."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Sequence

import pytest

from retrieval.neo4j.server import LocalNeo4j
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
    """`python -m retrieval ARGS`, optionally behind a wrapper command such as `setpriv ...`."""
    return subprocess.run(
        [*wrapper, sys.executable, "-m", "retrieval", *args], env=env, cwd=PROJECT, capture_output=True, text=True, check=False
    )


def start_cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """`python -m retrieval ARGS` started in the background, its output captured: for runs a test
    stops, kills or races with others."""
    command = [sys.executable, "-m", "retrieval", *args]
    return subprocess.Popen(command, env=env, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
