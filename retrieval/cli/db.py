"""`db start|status|stop`: the project's local Neo4j server (or, with NEO4J_URI set, a word about that one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from retrieval import Settings
from retrieval.cli.arguments import by_name, command
from retrieval.cli.progress import say

# Managing the project's own local server (fetched, started, stopped here) is this machine's tooling, not
# something a program using the library needs: it stays in the storage layer, beside the connection that
# decides which server every command talks to, and only this module of the command line reaches into it.
from retrieval.neo4j.connection import Neo4jSettings, neo4j_settings, open_driver
from retrieval.neo4j.errors import driver_errors
from retrieval.neo4j.java import LATEST_VERSION, LTS_VERSION, VERSIONS, find_java
from retrieval.neo4j.server import START_COMMAND

if TYPE_CHECKING:
    from retrieval.cli.arguments import Commands


@dataclass(frozen=True)
class DbOptions:
    action: str  # start, status or stop
    version: str | None  # the Neo4j line asked for, if any


def add_db(sub: Commands) -> None:
    db = command(sub, cmd_db, by_name(DbOptions))
    db.add_argument("action", choices=["start", "status", "stop"])
    db.add_argument(
        "--version",
        metavar="V",
        help=(
            f"Neo4j version: {' or '.join(VERSIONS)}; default: the one whose database the home holds, on a new home "
            f"{LATEST_VERSION} where Java 21 or 25 is found, else {LTS_VERSION}. Each line keeps its own database in the home."
        ),
    )


def cmd_db(options: DbOptions, settings: Settings) -> int:
    """start, stop or check the local Neo4j server

    Manage the project's local Neo4j Community server (fetched from Maven Central on first start). Ignored when
    NEO4J_URI points at your own server.
    """
    neo4j = neo4j_settings(settings)
    if neo4j.local is None:
        if options.action == "status":
            return _print_remote_status(neo4j)
        done = "started" if options.action == "start" else "stopped"
        say(f"NEO4J_URI is set to {neo4j.uri}: that server is used, and the local one is not {done}.")
        return 0
    server = neo4j.local  # the same server every other command talks to (environment, then secrets.toml)
    if options.version:
        server = server.of_version(options.version)
    elif options.action != "start":
        server = server.running() or server  # status and stop: whichever version runs from this home
    if options.action == "start":
        java = find_java(server.version)
        say(f"Starting Neo4j {server.version} on {java} in {server.home} (the first start fetches it with Maven) ...")
        status = server.start()
        for other in server.other_lines():
            say(f"This home also holds a Neo4j {other} database, kept as it is: `{START_COMMAND} --version {other}` runs it.")
        print(f"running  {status.uri}  Neo4j {status.version}  {status.java}  pid {status.pid}")
    elif options.action == "stop":
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


def _print_remote_status(neo4j: Neo4jSettings) -> int:
    """The server NEO4J_URI names, as it answers: asked through a driver of its own (as `open_store` opens
    one), since what the server runs is no concern of the image store's."""
    with open_driver(neo4j) as driver, driver_errors(neo4j, "during `db`"):
        info = driver.get_server_info()
        print(f"running  {neo4j.uri}  {info.agent}")
    return 0
