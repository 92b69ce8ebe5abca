"""Neo4j's jars from Maven Central: Neo4j publishes no runnable tarball there, but it does publish
the server's jars. We resolve `org.neo4j:neo4j` and `org.neo4j.app:neo4j-server` with Maven (cached
in ~/.m2) and copy them into a lib folder shared by every local home."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

from retrieval.core.errors import ServerError

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


def fetch_jars(version: str, lib_dir: Path) -> Path:
    """Copy the server's jars from ~/.m2 into `lib_dir`, letting Maven download them once. Two first
    starts at once (the app and a command, or two test sessions) fetch one at a time: the second finds
    the jars the first copied."""
    if _fetched(version, lib_dir):
        return lib_dir
    work = lib_dir.parent
    work.mkdir(parents=True, exist_ok=True)
    with (work / "fetch.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or when a process holding it dies
        if not _fetched(version, lib_dir):
            _fetch(version, work, lib_dir)
    return lib_dir


def _fetched(version: str, lib_dir: Path) -> bool:
    return any(lib_dir.glob(f"neo4j-server-{version}.jar"))


def _fetch(version: str, work: Path, lib_dir: Path) -> None:
    mvn = _require_tool("mvn", "Maven is needed to fetch Neo4j the first time; install it (apt-get install maven)")
    (work / "pom.xml").write_text(POM.format(v=version))
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
                staging.rename(lib_dir)
                return
    raise ServerError(
        f"Could not fetch Neo4j {version} from Maven Central (see {log}); "
        "check that this machine reaches Maven Central, or point NEO4J_URI at a Neo4j you run yourself."
    )


def _require_tool(name: str, advice: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ServerError(f"`{name}` was not found on PATH. {advice}, or point NEO4J_URI at a Neo4j you run yourself.")
    return path
