"""A local Neo4j Community server, its process: started, checked and stopped.

Its jars come from Maven Central (maven.py), its `neo4j.conf` is ours (conf.py), and it runs on a
Java its version supports (java.py), with the same launcher class the official `bin/neo4j` script
runs (`Neo4jCommand start|stop`).
Two lines are offered: the 5.26 LTS and the newest calendar release; each keeps its database in
a folder of its own inside the home, so one never opens the other's store.
What was verified on this machine is written down in docs/NEO4J.md.

No setting is read here (they come in through `LocalNeo4j`); the process environment is only
handed on to Java, and searched for JAVA_HOME and PATH to find it, as a shell would.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from neo4j import GraphDatabase
from neo4j.exceptions import AuthError, ServiceUnavailable

from retrieval.core.errors import ServerError
from retrieval.neo4j.conf import write_conf
from retrieval.neo4j.java import (
    LTS_VERSION,
    VERSION_PATTERN,
    VERSIONS,
    Java,
    default_version,
    find_java,
    java_of_process,
    line_of,
    version_key,
)
from retrieval.neo4j.maven import fetch_jars

DEFAULT_PORT = 7687
LAUNCHER = "org.neo4j.server.startup.Neo4jCommand"
# Neo4j's launcher (and neo4j-admin) runs for a few seconds: C2's compiling never pays back in so
# short a JVM, nor does a parallel collector, so it runs as command-line JVMs do, on C1 with the
# serial collector (docs/NEO4J.md has the measurement). The server it forks takes its flags from
# neo4j.conf, not from these.
LAUNCHER_JVM = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")
START_COMMAND = "python -m retrieval db start"

LEGACY_LINE = "5.26"  # homes made before versions had folders of their own held a 5.26 store at their top


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    uri: str
    pid: int | None
    version: str | None
    java: str | None = None  # the Java the running server runs on


@dataclass(frozen=True)
class LocalNeo4j:
    """One local server: its home (password, and a folder per release line with conf, data, logs),
    the port Bolt listens on and the Neo4j version.

    Homes live side by side under one root and share the jars in `<root>/dist/<version>/lib`,
    so the test server and the user's server never touch each other's data. Inside a home, each
    line (5.26, 2026.09, ...) has its own server folder, so starting another version never opens,
    and so never upgrades, a store the first one made; the password is the home's, so the app and
    the CLI reach whichever version runs.
    """

    home: Path
    port: int = DEFAULT_PORT
    version: str = ""  # "" for the home's own line, or on a new home `default_version()` (`home_version`)
    heap: str = "1g"
    pagecache: str = "1g"
    settings: tuple[str, ...] = ()  # more neo4j.conf lines, "key=value" (benchmarks try Lucene's settings)
    given_password: str | None = field(default=None, repr=False)  # NEO4J_PASSWORD; None: the home's generated one

    def __post_init__(self) -> None:
        if not self.version:
            object.__setattr__(self, "version", home_version(self.home))
        if not VERSION_PATTERN.match(self.version):
            raise ServerError(
                f"Neo4j version {self.version!r} is neither a 5.26.x LTS release nor a calendar release "
                f"(2025.01.0 or later); this tool runs those, e.g. {' or '.join(VERSIONS)}."
            )

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.port}"

    @property
    def lib_dir(self) -> Path:
        return self.home.parent / "dist" / self.version / "lib"

    @property
    def server_home(self) -> Path:
        """This version's server folder in the home: NEO4J_HOME, with conf, data, logs and run."""
        return self.home / f"neo4j-{line_of(self.version)}"

    @property
    def data_dir(self) -> Path:
        return self.server_home / "data"

    @property
    def password_file(self) -> Path:
        return self.home / "password"

    @property
    def log_file(self) -> Path:
        return self.server_home / "logs" / "neo4j.log"

    @property
    def _pid_file(self) -> Path:
        return self.server_home / "run" / "neo4j.pid"

    @property
    def _version_file(self) -> Path:
        return self.server_home / "version"

    def of_version(self, version: str) -> LocalNeo4j:
        return replace(self, version=version)

    def other_lines(self) -> list[str]:
        """The versions whose stores this home also holds (another line's server folder)."""
        found = []
        for folder in sorted(self.home.glob("neo4j-*")):
            if folder != self.server_home and (folder / "version").exists():
                found.append((folder / "version").read_text().strip())
        return found

    def running(self) -> LocalNeo4j | None:
        """This home's server that is running, of whichever version, or None."""
        for version in [self.version, *self.other_lines()]:
            server = self.of_version(version)
            if server._running_pid():
                return server
        return None

    def password(self) -> str:
        """The password given (NEO4J_PASSWORD), else one generated once and kept in a mode-600 file."""
        if self.given_password:
            return self.given_password
        if not self.password_file.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(24))
        return self.password_file.read_text().strip()

    def fetch(self) -> Path:
        return fetch_jars(self.version, self.lib_dir)

    def status(self) -> ServerStatus:
        pid = self._running_pid()
        if pid is None:
            return ServerStatus(running=False, uri=self.uri, pid=None, version=None)
        java = java_of_process(pid)
        return ServerStatus(running=True, uri=self.uri, pid=pid, version=self._server_version(), java=java)

    def start(self, timeout: float = 180.0) -> ServerStatus:
        """Start the server if it is not running and wait until Bolt accepts our login."""
        self._adopt_legacy_layout()
        if self._running_pid():
            self._wait_for_bolt(timeout)
            return self.status()
        if (other := self.running()) is not None:
            raise ServerError(
                f"Neo4j {other.version} is running from {self.home}; stop it first (`python -m retrieval db stop`), "
                f"then start {self.version}."
            )
        self._check_store_version()
        # A server that crashed left its pid file, naming a process that is no Neo4j of this home (a
        # zombie where nothing reaps it, or a pid reused since), which the launcher takes for a running server.
        self._pid_file.unlink(missing_ok=True)
        java = find_java(self.version)
        if _port_in_use(self.port):
            raise ServerError(
                f"Port {self.port} on 127.0.0.1 is in use by another program; stop it, "
                f"or run the local Neo4j on another port with NEO4J_LOCAL_PORT={self.port + 1}."
            )
        self.fetch()
        write_conf(
            self.server_home,
            lib_dir=self.lib_dir,
            port=self.port,
            heap=self.heap,
            pagecache=self.pagecache,
            settings=self.settings,
        )
        password = self.password()
        if not (self.data_dir / "dbms" / "auth.ini").exists():
            # "--": a password may start with "-" (token_urlsafe makes one in 64), which the launcher would take for an option.
            self._launcher(java, "org.neo4j.server.startup.Neo4jAdminCommand", "dbms", "set-initial-password", "--", password)
        self._version_file.write_text(self.version + "\n")
        self._launcher(java, LAUNCHER, "start")
        self._wait_for_bolt(timeout)
        return self.status()

    def stop(self) -> None:
        """Stop the server this home started (the pid in its run folder), and nothing else."""
        if self._running_pid():
            self._launcher(find_java(self.version), LAUNCHER, "stop")

    def _adopt_legacy_layout(self) -> None:
        """A home made before versions had folders of their own keeps its 5.26 store at its top: move
        it into the 5.26 folder (once, with no server running from it), so it is found there."""
        legacy = self.home / "data"
        target = self.home / f"neo4j-{LEGACY_LINE}"
        if not legacy.is_dir() or target.exists():
            return
        pid_file = self.home / "run" / "neo4j.pid"
        if pid_file.exists() and Path(f"/proc/{pid_file.read_text().strip()}").exists():
            raise ServerError(f"A Neo4j started by an older version of this tool is running from {self.home}; stop it first.")
        target.mkdir()
        for sub in ("conf", "data", "logs", "run", "import"):
            if (self.home / sub).exists():
                (self.home / sub).rename(target / sub)
        (target / "version").write_text(f"{LTS_VERSION}\n")

    def _check_store_version(self) -> None:
        """Refuse a store made by a newer version of the line: Neo4j cannot downgrade it."""
        if not self._version_file.exists():
            return
        made_by = self._version_file.read_text().strip()
        if version_key(made_by) > version_key(self.version):
            raise ServerError(
                f"The database in {self.server_home} was made by Neo4j {made_by}, newer than {self.version}; "
                f"start it with `{START_COMMAND} --version {made_by}`, or set NEO4J_LOCAL_HOME to another folder."
            )

    def _launcher(self, java: Java, main_class: str, *args: str) -> None:
        """Run a launcher class on `java`; the server it forks runs on the same Java."""
        home = self.server_home
        env = {
            **os.environ,
            "NEO4J_HOME": str(home),
            "NEO4J_CONF": str(home / "conf"),
            "JAVA_HOME": str(java.executable.parent.parent),
        }
        env.pop("JAVA_OPTS", None)  # it would replace every flag the launcher builds from neo4j.conf
        cmd = [str(java.executable), "-Xmx128m", *LAUNCHER_JVM, "-cp", f"{self.lib_dir}/*", main_class, *args]
        done = subprocess.run(cmd, env=env, cwd=home, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ServerError(
                f"Neo4j's launcher failed ({' '.join(args[:2])}, exit {done.returncode}): "
                f"{(done.stdout + done.stderr).strip()[-800:]}\n{self._log_tail()}"
            )

    def _running_pid(self) -> int | None:
        """The pid in our run folder, if that process is alive and is a Neo4j server of this home."""
        try:
            pid = int(self._pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except (OSError, ValueError):
            return None
        return pid if f"--home-dir={self.server_home}\0" in cmdline else None

    def _wait_for_bolt(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        with GraphDatabase.driver(self.uri, auth=("neo4j", self.password())) as driver:
            while time.monotonic() < deadline:
                if not self._running_pid():
                    raise ServerError(f"Neo4j exited while starting.\n{self._log_tail()}")
                try:
                    driver.verify_connectivity()
                    return
                except AuthError as e:
                    raise ServerError(
                        f"Neo4j at {self.uri} rejected the password from "
                        f"{'NEO4J_PASSWORD' if self.given_password else self.password_file}: {e.message}"
                    ) from e
                except (ServiceUnavailable, OSError) as e:
                    last_error = str(e)
                    time.sleep(0.1)  # a refused connection is answered at once: polled often, start returns as Bolt opens
        raise ServerError(f"Neo4j did not answer on {self.uri} within {timeout:.0f} s ({last_error}).\n{self._log_tail()}")

    def _server_version(self) -> str | None:
        try:
            with GraphDatabase.driver(self.uri, auth=("neo4j", self.password())) as driver:
                records = driver.execute_query("CALL dbms.components() YIELD versions RETURN versions[0] AS v").records
                return str(records[0]["v"])
        except Exception:  # a server still starting, or a wrong password: the status just has no version
            return None

    def _log_tail(self, lines: int = 25) -> str:
        if not self.log_file.exists():
            return f"(no log at {self.log_file})"
        tail = self.log_file.read_text(errors="replace").splitlines()[-lines:]
        return f"Last lines of {self.log_file}:\n" + "\n".join(tail)


def home_version(home: Path) -> str:
    """The version a home runs without --version: the line whose database it holds (the one started
    last, if two), so a start never leaves a database behind unasked; on a new home `default_version()`."""
    made = sorted(home.glob("neo4j-*/version"), key=lambda f: f.stat().st_mtime)
    if made:
        return made[-1].read_text().strip()
    return LTS_VERSION if (home / "data").is_dir() else default_version()  # a store at the top: 5.26, before folders


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0
