"""`db start|status|stop`: the project's local Neo4j server (or, with NEO4J_URI set, a word about that one)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from retrieval.cli.arguments import command
from retrieval.cli.opening import opened_store
from retrieval.cli.progress import say
from retrieval.neo4j.connection import neo4j_settings
from retrieval.neo4j.java import LATEST_VERSION, LTS_VERSION, VERSIONS, find_java
from retrieval.neo4j.server import START_COMMAND

if TYPE_CHECKING:
    from retrieval.cli.arguments import Commands


def add_db(sub: Commands) -> None:
    db = command(sub, cmd_db)
    db.add_argument("action", choices=["start", "status", "stop"])
    db.add_argument(
        "--version",
        metavar="V",
        help=(
            f"Neo4j version: {' or '.join(VERSIONS)}; default: the one whose database the home holds, on a new home "
            f"{LATEST_VERSION} where Java 21 or 25 is found, else {LTS_VERSION}. Each line keeps its own database in the home."
        ),
    )


def cmd_db(args: argparse.Namespace) -> int:
    """start, stop or check the local Neo4j server

    Manage the project's local Neo4j Community server (fetched from Maven Central on first start). Ignored when
    NEO4J_URI points at your own server.
    """
    settings = neo4j_settings(args.settings)
    if settings.local is None:
        if args.action == "status":
            return _print_remote_status(args)
        done = "started" if args.action == "start" else "stopped"
        say(f"NEO4J_URI is set to {settings.uri}: that server is used, and the local one is not {done}.")
        return 0
    server = settings.local  # the same server every other command talks to (environment, then secrets.toml)
    if args.version:
        server = server.of_version(args.version)
    elif args.action != "start":
        server = server.running() or server  # status and stop: whichever version runs from this home
    if args.action == "start":
        java = find_java(server.version)
        say(f"Starting Neo4j {server.version} on {java} in {server.home} (the first start fetches it with Maven) ...")
        status = server.start()
        for other in server.other_lines():
            say(f"This home also holds a Neo4j {other} database, kept as it is: `{START_COMMAND} --version {other}` runs it.")
        print(f"running  {status.uri}  Neo4j {status.version}  {status.java}  pid {status.pid}")
    elif args.action == "stop":
        server.stop()
        print(f"stopped  {server.uri}")
    else:
        status = server.status()
        state = (
            f"running  {status.uri}  Neo4j {status.version}  {status.java}"
            if status.running
            else f"stopped  {status.uri}  Neo4j {server.version}"
        )
        print(state)
        return 0 if status.running else 3
    return 0


def _print_remote_status(args: argparse.Namespace) -> int:
    with opened_store(args) as store:
        info = store.driver.get_server_info()
        print(f"running  {args.settings.neo4j_uri}  {info.agent}")
    return 0
