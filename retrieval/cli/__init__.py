"""`python -m retrieval ...`: the local server, indexing, search, stats and evaluation from a terminal.

Results go to stdout and diagnostics (model in use, progress, skipped files) to stderr, so the
output of `search` can be piped. A bad argument (a number out of range, a folder where a file
belongs, ...) is one line on stderr and exit code 2, before any query or model load; library and
server errors are one line and exit code 1.

One module per command group (db, index and link, search, duplicates, attach, evaluate, info), each
adding its sub-commands to the parser built here. A command is a function of its typed options (a
frozen dataclass per command, read from argparse's namespace once, here in `main`, by the function
`command` registered with it) and of the settings (read once, here); nothing below sees the namespace.
`main` is the one place that maps errors to exit codes.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from retrieval import RetrievalError, load_settings
from retrieval.cli.arguments import Parser
from retrieval.cli.attach import add_attach
from retrieval.cli.db import add_db
from retrieval.cli.duplicates import add_duplicates
from retrieval.cli.evaluate import add_evaluate
from retrieval.cli.index import add_index, add_link
from retrieval.cli.info import add_models, add_stats
from retrieval.cli.interrupt import INTERRUPTED, unwinding_from_ctrl_c
from retrieval.cli.progress import say
from retrieval.cli.search import add_search


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m retrieval", description="Image similarity search on Neo4j.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (add_db, add_models, add_index, add_search, add_evaluate, add_link, add_duplicates, add_attach, add_stats):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # The command's typed options, from the namespace once; what they refuse is a usage error too.
        options = args.options(args)
    except RetrievalError as e:
        parser.error(str(e))
    try:
        # The one place the command line reads its settings (the environment, then secrets.toml here).
        settings = load_settings(os.environ, Path.cwd())
        code = int(args.run(options, settings))
        sys.stdout.flush()  # here, so that a reader gone early (`| head -1`) is met below, not at exit
        return code
    except BrokenPipeError:
        # The reader stopped early, which is normal on a command line: no traceback. As the Python
        # docs advise (signal, "Note on SIGPIPE"): what is left unwritten goes to devnull, so the
        # interpreter's flush at exit does not fail again, and the exit code is 1.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        say(INTERRUPTED)
        return 130
    except Exception as e:
        if unwinding_from_ctrl_c(e):  # an error met on the way out of a Ctrl-C is that Ctrl-C
            say(INTERRUPTED)
            return 130
        if isinstance(e, RetrievalError):  # every failure a user can meet, in words (driver errors too: see `opened_store`)
            say(f"error: {e}")
            return 1
        raise
