"""A local Neo4j Community server, fetched from Maven Central and run on a Java it supports.

Neo4j publishes no runnable tarball on Maven Central, but it does publish the server's jars.
We resolve `org.neo4j:neo4j` and `org.neo4j.app:neo4j-server` with Maven (cached in ~/.m2),
copy them into a lib folder shared by every local home, write our own `neo4j.conf`, and run
the same launcher class the official `bin/neo4j` script runs (`Neo4jCommand start|stop`).
Two lines are offered: the 5.26 LTS and the newest calendar release; each keeps its database in
a folder of its own inside the home, so one never opens the other's store.
What was verified on this machine is written down in docs/NEO4J.md.

No setting is read here (they come in through `LocalNeo4j`); the process environment is only
handed on to Java, and searched for JAVA_HOME and PATH to find it, as a shell would.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from neo4j import GraphDatabase
from neo4j.exceptions import AuthError, ServiceUnavailable

from retrieval.core.errors import ServerError

LTS_VERSION = "5.26.30"
LATEST_VERSION = "2026.09.0"  # the newest release that resolves from Maven Central (docs/NEO4J.md)
VERSIONS = (LTS_VERSION, LATEST_VERSION)
DEFAULT_PORT = 7687
LAUNCHER = "org.neo4j.server.startup.Neo4jCommand"
START_COMMAND = "python -m retrieval db start"

# Flags the 5.26 tarball's neo4j.conf ships; without the --add-opens lines Lucene's vector
# index population is reported to stall.
JVM_FLAGS = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",  # in the official conf since 2025.04
    "--enable-native-access=ALL-UNNAMED",
    "-Dlog4j2.disable.jmx=true",
    # Lucene computes its dot products with SIMD only with this module, and only on the Java versions
    # it knows (9.11 in 5.26: 20-22; 10.5 in 2026.x: 21-26); elsewhere it is ignored (docs/NEO4J.md).
    "--add-modules=jdk.incubator.vector",
)

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.retrieval</groupId><artifactId>neo4j-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.neo4j</groupId><artifactId>neo4j</artifactId><version>{v}</version></dependency>
    <dependency><groupId>org.neo4j.app</groupId><artifactId>neo4j-server</artifactId><version>{v}</version></dependency>
  </dependencies>
</project>
"""
COPY_DEPENDENCIES = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies"
VERSION_PATTERN = re.compile(r"^(?:5\.26|20(?:2[5-9])\.(?:0[1-9]|1[0-2]))\.\d+$")
JVM_ROOT = Path("/usr/lib/jvm")
LEGACY_LINE = "5.26"  # homes made before versions had folders of their own held a 5.26 store at their top


def line_of(version: str) -> str:
    """The release line, "5.26" or "2026.09": versions of one line open each other's stores (a patch
    upgrade), versions of two lines never do here."""
    return version.rsplit(".", 1)[0]


def supported_java(version: str) -> tuple[int, ...]:
    """The Java major versions a Neo4j version runs on, preferred first."""
    if line_of(version) == "5.26":
        return (21, 17)
    return (25, 21) if line_of(version) >= "2025.10" else (21,)


def install_advice(version: str) -> str:
    packages = " or ".join(f"openjdk-{major}-jre-headless" for major in supported_java(version))
    return f"install Java {' or '.join(map(str, supported_java(version)))} (Debian/Ubuntu: apt-get install {packages})"


@dataclass(frozen=True)
class Java:
    """A Java runtime and why it was chosen."""

    executable: Path
    major: int
    source: str  # "JAVA_HOME", "/usr/lib/jvm" or "PATH"

    def __str__(self) -> str:
        return f"Java {self.major} ({self.executable.parent.parent}, from {self.source})"


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
        """Copy the server's jars from ~/.m2 into the shared lib folder, letting Maven download them once."""
        if any(self.lib_dir.glob(f"neo4j-server-{self.version}.jar")):
            return self.lib_dir
        mvn = _require_tool("mvn", "Maven is needed to fetch Neo4j the first time; install it (apt-get install maven)")
        work = self.lib_dir.parent
        work.mkdir(parents=True, exist_ok=True)
        (work / "pom.xml").write_text(POM.format(v=self.version))
        staging = work / "lib.partial"
        shutil.rmtree(staging, ignore_errors=True)
        base = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(work / "pom.xml"),
            COPY_DEPENDENCIES,
            f"-DoutputDirectory={staging}",
            "-DincludeScope=runtime",
        ]
        log = work / "maven.log"
        # Offline first: once ~/.m2 holds the jars, Maven never goes to the network again.
        for args in ([*base, "-o"], base):
            with log.open("w") as out:
                if subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, check=False).returncode == 0:
                    staging.rename(self.lib_dir)
                    return self.lib_dir
        raise ServerError(
            f"Could not fetch Neo4j {self.version} from Maven Central (see {log}); "
            "check that this machine reaches Maven Central, or point NEO4J_URI at a Neo4j you run yourself."
        )

    def status(self) -> ServerStatus:
        pid = self._running_pid()
        if pid is None:
            return ServerStatus(running=False, uri=self.uri, pid=None, version=None)
        java = _java_of_process(pid)
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
        java = find_java(self.version)
        if _port_in_use(self.port):
            raise ServerError(
                f"Port {self.port} on 127.0.0.1 is in use by another program; stop it, "
                f"or run the local Neo4j on another port with NEO4J_LOCAL_PORT={self.port + 1}."
            )
        self.fetch()
        self._write_conf()
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
        if _version_key(made_by) > _version_key(self.version):
            raise ServerError(
                f"The database in {self.server_home} was made by Neo4j {made_by}, newer than {self.version}; "
                f"start it with `{START_COMMAND} --version {made_by}`, or set NEO4J_LOCAL_HOME to another folder."
            )

    def _write_conf(self) -> None:
        home = self.server_home
        for sub in ("conf", "data", "logs", "run", "import"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        lines = [
            f"server.directories.lib={self.lib_dir}",
            f"server.directories.data={home / 'data'}",
            f"server.directories.logs={home / 'logs'}",
            f"server.directories.run={home / 'run'}",
            f"server.directories.import={home / 'import'}",
            "server.default_listen_address=127.0.0.1",
            "server.bolt.enabled=true",
            f"server.bolt.listen_address=127.0.0.1:{self.port}",
            "server.http.enabled=false",
            "server.https.enabled=false",
            "dbms.security.auth_enabled=true",
            "dbms.usage_report.enabled=false",
            f"server.memory.heap.initial_size={self.heap}",
            f"server.memory.heap.max_size={self.heap}",
            f"server.memory.pagecache.size={self.pagecache}",
            *(f"server.jvm.additional={flag}" for flag in JVM_FLAGS),
            *self.settings,
        ]
        (home / "conf" / "neo4j.conf").write_text("\n".join(lines) + "\n")

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
        cmd = [str(java.executable), "-Xmx128m", "-cp", f"{self.lib_dir}/*", main_class, *args]
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
                    time.sleep(0.5)
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


def _require_tool(name: str, advice: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ServerError(f"`{name}` was not found on PATH. {advice}, or point NEO4J_URI at a Neo4j you run yourself.")
    return path


def home_version(home: Path) -> str:
    """The version a home runs without --version: the line whose database it holds (the one started
    last, if two), so a start never leaves a database behind unasked; on a new home `default_version()`."""
    made = sorted(home.glob("neo4j-*/version"), key=lambda f: f.stat().st_mtime)
    if made:
        return made[-1].read_text().strip()
    return LTS_VERSION if (home / "data").is_dir() else default_version()  # a store at the top: 5.26, before folders


def default_version(env: dict[str, str] | None = None, jvm_root: Path = JVM_ROOT) -> str:
    """The version a new home runs: the newest release where a Java it supports is found (it wrote,
    built its index and searched faster at the same recall, docs/BENCHMARKS.md), else the LTS."""
    try:
        find_java(LATEST_VERSION, env, jvm_root)
    except ServerError:
        return LTS_VERSION
    return LATEST_VERSION


def find_java(version: str, env: dict[str, str] | None = None, jvm_root: Path = JVM_ROOT) -> Java:
    """A Java that `version` supports: JAVA_HOME's if it fits, else the newest fitting one under
    /usr/lib/jvm, else `java` on PATH; one sentence saying what to install if none fits."""
    env = dict(os.environ) if env is None else env
    wanted = supported_java(version)
    candidates = []
    if env.get("JAVA_HOME"):
        candidates.append((Path(env["JAVA_HOME"]) / "bin" / "java", "JAVA_HOME"))
    candidates += [(home / "bin" / "java", str(jvm_root)) for home in sorted(jvm_root.glob("*"))]
    on_path = shutil.which("java", path=env.get("PATH"))
    if on_path:
        candidates.append((Path(on_path), "PATH"))
    found: dict[Path, Java] = {}
    for executable, source in candidates:
        if executable.exists() and (real := executable.resolve()) not in found and (major := _java_major(real)):
            found[real] = Java(real, major, source)
    for source in ("JAVA_HOME", str(jvm_root), "PATH"):
        fitting = [java for java in found.values() if java.source == source and java.major in wanted]
        if fitting:
            return min(fitting, key=lambda java: wanted.index(java.major))
    seen = ", ".join(f"Java {j.major} ({j.source})" for j in found.values()) or "none"
    raise ServerError(
        f"Neo4j {version} runs on Java {' or '.join(map(str, wanted))}, and none was found (seen: {seen}); "
        f"{install_advice(version)}, or set JAVA_HOME to one."
    )


def _java_major(executable: Path) -> int | None:
    """The major version a `java` reports (`-version` prints `version "25.0.3"`, or `"1.8.0"` for 8)."""
    release = executable.parent.parent / "release"
    text = release.read_text(errors="replace") if release.exists() else ""
    if "JAVA_VERSION=" not in text:
        text = subprocess.run([executable, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'(?:JAVA_VERSION=|version )"(?:1\.)?(\d+)', text)
    return int(match.group(1)) if match else None


def _java_of_process(pid: int) -> str | None:
    try:
        executable = Path(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return None
    return f"Java {_java_major(executable)} ({executable.parent.parent})"


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0
