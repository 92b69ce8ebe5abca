"""Which Neo4j versions this tool runs, and the Java each runs on: found from JAVA_HOME,
/usr/lib/jvm or PATH, as a shell would (the environment is only searched, no setting is read)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from retrieval.core.errors import ServerError

LTS_VERSION = "5.26.30"
LATEST_VERSION = "2026.09.0"  # the newest release that resolves from Maven Central (docs/NEO4J.md)
VERSIONS = (LTS_VERSION, LATEST_VERSION)
VERSION_PATTERN = re.compile(r"^(?:5\.26|20(?:2[5-9])\.(?:0[1-9]|1[0-2]))\.\d+$")
JVM_ROOT = Path("/usr/lib/jvm")


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


def java_of_process(pid: int) -> str | None:
    try:
        executable = Path(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return None
    return f"Java {_java_major(executable)} ({executable.parent.parent})"


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))
