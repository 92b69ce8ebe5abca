"""A fork server for the command line's runs in the tests (`run_cli`, tests/support/cli.py): started
once per test process as `python -m tests.support.cli_fork SOCKET`, it makes the imports of `python
-m retrieval` once, then forks a process per run. Each run is a process of its own, as a user's: the
run's whole environment, working folder, stdout and stderr at their descriptors (a library's own
writes land there too), and an interpreter that ends as a real one does (SystemExit, a traceback,
threads joined, atexit), whose exit status the test gets. It ends when the test process closes its
stdin, removing its socket and the folder it is in."""

from __future__ import annotations

import os
import pickle
import runpy
import select
import signal
import socket
import sys

# Made as at a real start: Python has sys.argv[0] "-m" while it finds the module, and the package
# decides by it what it leaves out (retrieval/__init__.py).
_argv, sys.argv[:1] = sys.argv[:], ["-m"]
import retrieval.cli  # noqa: E402, F401

sys.argv[:] = _argv


def serve(path: str) -> bool:
    """Answer each connection in a process of its own (so runs may overlap, as separate commands do),
    which forks the run, waits for it and sends its exit status back. False in this server, once the
    test process has closed its stdin; True in a run's process, ready to run the command."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the per-connection processes are reaped by the kernel
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(path + ".new")
        server.listen()
        os.rename(path + ".new", path)  # its name appears once it listens: the test process waits for it
        while server in select.select([server, sys.stdin], [], [])[0]:
            connection, _ = server.accept()
            if os.fork() == 0:
                server.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                prepare_run(connection)
                return True
            connection.close()
    os.unlink(path)
    os.rmdir(os.path.dirname(path))
    return False


def prepare_run(connection: socket.socket) -> None:
    """Read the run's request, fork it, and in this process wait for it and report; in the run's
    process, set up what `python -m retrieval` would have: its environment, folder and descriptors."""
    with connection, connection.makefile("rb") as request:
        args, env, cwd, out, err = pickle.load(request)
        if (run := os.fork()) != 0:
            status = os.waitpid(run, 0)[1]
            connection.sendall(str(os.waitstatus_to_exitcode(status)).encode())
            os._exit(0)
    for fd, name, flags in (
        (0, os.devnull, os.O_RDONLY),
        (1, out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        (2, err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
    ):
        file = os.open(name, flags, 0o600)
        os.dup2(file, fd)
        os.close(file)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    sys.argv = ["-m", *args]


if __name__ == "__main__" and serve(sys.argv[1]):
    # A run's process: `python -m retrieval ARGS`, whose SystemExit (or exception) ends this
    # interpreter as it would end that one.
    runpy.run_module("retrieval", run_name="__main__", alter_sys=True)
