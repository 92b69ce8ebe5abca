"""The local server's `neo4j.conf`, written by us: loopback only, Bolt only, our folders and memory."""

from __future__ import annotations

from pathlib import Path

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


def write_conf(home: Path, *, lib_dir: Path, port: int, heap: str, pagecache: str, settings: tuple[str, ...]) -> None:
    """The folders of the server in `home` and its configuration (`settings`: more "key=value" lines)."""
    for sub in ("conf", "data", "logs", "run", "import"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    lines = [
        f"server.directories.lib={lib_dir}",
        f"server.directories.data={home / 'data'}",
        f"server.directories.logs={home / 'logs'}",
        f"server.directories.run={home / 'run'}",
        f"server.directories.import={home / 'import'}",
        "server.default_listen_address=127.0.0.1",
        "server.bolt.enabled=true",
        f"server.bolt.listen_address=127.0.0.1:{port}",
        "server.http.enabled=false",
        "server.https.enabled=false",
        "dbms.security.auth_enabled=true",
        "dbms.usage_report.enabled=false",
        f"server.memory.heap.initial_size={heap}",
        f"server.memory.heap.max_size={heap}",
        f"server.memory.pagecache.size={pagecache}",
        *(f"server.jvm.additional={flag}" for flag in JVM_FLAGS),
        *settings,
    ]
    (home / "conf" / "neo4j.conf").write_text("\n".join(lines) + "\n")
