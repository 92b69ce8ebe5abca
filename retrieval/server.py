"""A local Neo4j Community server, fetched from Maven Central and run on the machine's JDK.

Neo4j publishes no runnable tarball on Maven Central, but it does publish the server's jars.
We resolve `org.neo4j:neo4j` and `org.neo4j.app:neo4j-server` with Maven (cached in ~/.m2),
copy them into a lib folder shared by every local home, write our own `neo4j.conf`, and run
the same launcher class the official `bin/neo4j` script runs (`Neo4jCommand start|stop`).
What was verified on this machine is written down in docs/NEO4J.md.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from neo4j import GraphDatabase
from neo4j.exceptions import AuthError, ServiceUnavailable

from retrieval.errors import ServerError

DEFAULT_VERSION = "5.26.30"
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
    "--enable-native-access=ALL-UNNAMED",
    "-Dlog4j2.disable.jmx=true",
    # Lucene 9.11 (the vector index) computes its dot products with SIMD only on Java 20-22 and with
    # this module; on Java 17 it is ignored (docs/BENCHMARKS.md, "Search at 1k, 10k and 100k images").
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
VERSION_PATTERN = re.compile(r"^5\.26\.\d+$")


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    uri: str
    pid: int | None
    version: str | None


@dataclass(frozen=True)
class LocalNeo4j:
    """One local server: its home (conf, data, logs, password) and the port Bolt listens on.

    Homes live side by side under one root and share the jars in `<root>/dist/<version>/lib`,
    so the test server and the user's server never touch each other's data.
    """

    home: Path
    port: int = DEFAULT_PORT
    version: str = DEFAULT_VERSION
    heap: str = "1g"
    pagecache: str = "1g"
    settings: tuple[str, ...] = ()  # more neo4j.conf lines, "key=value" (benchmarks try Lucene's settings)

    def __post_init__(self) -> None:
        if not VERSION_PATTERN.match(self.version):
            raise ServerError(f"Neo4j version {self.version!r} is not a 5.26.x LTS release, which this tool runs.")

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.port}"

    @property
    def lib_dir(self) -> Path:
        return self.home.parent / "dist" / self.version / "lib"

    @property
    def password_file(self) -> Path:
        return self.home / "password"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "neo4j.log"

    @property
    def _pid_file(self) -> Path:
        return self.home / "run" / "neo4j.pid"

    def password(self) -> str:
        """NEO4J_PASSWORD if set, else a password generated once and kept in a mode-600 file."""
        if os.environ.get("NEO4J_PASSWORD"):
            return os.environ["NEO4J_PASSWORD"]
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
        version = self._server_version() if pid else None
        return ServerStatus(running=pid is not None, uri=self.uri, pid=pid, version=version)

    def start(self, timeout: float = 180.0) -> ServerStatus:
        """Start the server if it is not running and wait until Bolt accepts our login."""
        if self._running_pid():
            self._wait_for_bolt(timeout)
            return self.status()
        _check_java()
        if _port_in_use(self.port):
            raise ServerError(
                f"Port {self.port} on 127.0.0.1 is in use by another program; stop it, "
                f"or run the local Neo4j on another port with NEO4J_LOCAL_PORT={self.port + 1}."
            )
        self.fetch()
        self._write_conf()
        password = self.password()
        if not (self.home / "data" / "dbms" / "auth.ini").exists():
            # "--": a password may start with "-" (token_urlsafe makes one in 64), which the launcher would take for an option.
            self._launcher("org.neo4j.server.startup.Neo4jAdminCommand", "dbms", "set-initial-password", "--", password)
        self._launcher(LAUNCHER, "start")
        self._wait_for_bolt(timeout)
        return self.status()

    def stop(self) -> None:
        """Stop the server this home started (the pid in its run folder), and nothing else."""
        if self._running_pid():
            self._launcher(LAUNCHER, "stop")

    def _write_conf(self) -> None:
        conf = self.home / "conf"
        for sub in ("conf", "data", "logs", "run", "import"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        lines = [
            f"server.directories.lib={self.lib_dir}",
            f"server.directories.data={self.home / 'data'}",
            f"server.directories.logs={self.home / 'logs'}",
            f"server.directories.run={self.home / 'run'}",
            f"server.directories.import={self.home / 'import'}",
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
        (conf / "neo4j.conf").write_text("\n".join(lines) + "\n")

    def _launcher(self, main_class: str, *args: str) -> None:
        env = {**os.environ, "NEO4J_HOME": str(self.home), "NEO4J_CONF": str(self.home / "conf")}
        env.pop("JAVA_OPTS", None)  # it would replace every flag the launcher builds from neo4j.conf
        cmd = ["java", "-Xmx128m", "-cp", f"{self.lib_dir}/*", main_class, *args]
        done = subprocess.run(cmd, env=env, cwd=self.home, capture_output=True, text=True, check=False)
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
        return pid if f"--home-dir={self.home}" in cmdline else None

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
                        f"{'NEO4J_PASSWORD' if os.environ.get('NEO4J_PASSWORD') else self.password_file}: {e.message}"
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


def _check_java() -> None:
    java = _require_tool("java", "Java 17 is needed to run Neo4j 5.26; install it (apt-get install openjdk-17-jre-headless)")
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)', out)
    if not match or match.group(1) not in ("17", "21"):
        raise ServerError(f"Neo4j 5.26 runs on Java 17 or 21, but `java -version` says: {out.splitlines()[:1]}.")


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0
