"""The Ctrl-C watchdog: a second chance to end a command that an interrupt cannot reach."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

INTERRUPTED = "Interrupted. Every finished batch is stored; run the same command again to finish."
CTRL_C_GRACE = 10.0  # seconds a Ctrl-C leaves the command to unwind before it is ended


def exit_soon_after_ctrl_c(grace: float = CTRL_C_GRACE) -> None:
    """Make a Ctrl-C end the process within `grace` seconds even if what it interrupted does not let
    go (a native call, or a driver call waiting on the server): what was committed is kept either way,
    as Neo4j rolls back a transaction whose connection closes. The signal reaches a thread of ours
    through Python's wakeup file descriptor, written the moment it arrives, whatever the main thread
    is in. Armed once per process, where `python -m retrieval` starts (not by `main`, which tests call)."""
    read, write = os.pipe()
    os.set_blocking(write, False)
    signal.set_wakeup_fd(write)

    def watch() -> None:
        while os.read(read, 1) != bytes([signal.SIGINT]):
            pass
        time.sleep(grace)
        os.write(sys.stderr.fileno(), f"\n{INTERRUPTED}\n".encode())  # no lock the stuck thread may hold
        os._exit(130)

    threading.Thread(target=watch, name="ctrl-c", daemon=True).start()


def unwinding_from_ctrl_c(error: BaseException) -> bool:
    """Whether `error` was raised while the command unwound from a Ctrl-C, so the Ctrl-C is what the
    user should hear of: the Neo4j driver, interrupted mid-message, can meet a BufferError ("Existing
    exports of data") in its own clean-up, which replaces the KeyboardInterrupt (seen once by hand
    on an `index` stopped at its second batch; neo4j-python-driver#843 fixed such masking once)."""
    cause = error.__context__
    while cause is not None:
        if isinstance(cause, KeyboardInterrupt):
            return True
        cause = cause.__context__
    return False
