"""The Ray scenario of tests/test_ray.py, run inside a network namespace with only loopback (never
on the host's network: Ray binds every interface there). It starts a Neo4j of its own in the
namespace and one Ray cluster of 2 CPUs, started as `index --ray` starts a local one (the library's
`ray_cluster`), which every run shares: a plain run and a `--ray` run of the same photos; a run
whose worker is killed mid-run; Ctrl-C on a `--ray` driver; Neo4j stopped under a `--ray` run.
Every socket listening in the namespace is sampled meanwhile. The results go to the JSON file named
by the first argument, for the test to assert on.

Usage (as root): unshare -n bash -c 'ip link set lo up && exec python tests/ray_scenario.py OUT.json PHOTOS'
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(PROJECT)]

from neo4j import GraphDatabase  # noqa: E402

from retrieval.core.settings import load_settings  # noqa: E402
from retrieval.indexing import index_folder  # noqa: E402
from retrieval.neighbours import update_links  # noqa: E402
from retrieval.neo4j.server import LocalNeo4j  # noqa: E402
from retrieval.neo4j.store import ImageStore  # noqa: E402
from retrieval.vision.models import MODELS  # noqa: E402
from tests.support.cli import count_images  # noqa: E402
from tests.support.graph_checks import stored_links  # noqa: E402
from tests.support.paths import copy_bench_photos  # noqa: E402
from tests.support.server import OUTAGE_RETRY_SECONDS, QUICK_JIT, crash  # noqa: E402

SPEC = MODELS["efficientnet-lite0"]
MIDWAY = 64  # images committed before a worker is killed, Ctrl-C is sent or Neo4j stopped


def listening_sockets() -> set[str]:
    """host:port of every TCP socket listening in this network namespace (IPv4 and IPv6)."""
    found = set()
    for name in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{name}").read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A":  # LISTEN
                address, port = local.split(":")
                found.add(f"{_address(address)}:{int(port, 16)}")
    return found


def _address(hexed: str) -> str:
    raw = bytes.fromhex(hexed)
    if len(raw) == 4:
        return ".".join(str(b) for b in raw[::-1])
    words = [raw[i : i + 4][::-1].hex() for i in range(0, 16, 4)]  # each 32-bit word in host (little-endian) order
    return ":".join(w[j : j + 4] for w in words for j in (0, 4))


class SocketWatch(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.seen: set[str] = set()
        self.running = True

    def run(self) -> None:
        while self.running:
            self.seen |= listening_sockets()
            time.sleep(0.3)


def cli(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "retrieval", *args]
    return subprocess.Popen(command, cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(run: subprocess.Popen[str]) -> dict:
    stdout, stderr = run.communicate(timeout=900)
    return {"code": run.returncode, "stdout": stdout, "stderr": stderr}


def wait_for(store: ImageStore, images: int, run: subprocess.Popen[str] | None = None, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while count_images(store) < images and time.monotonic() < deadline and (run is None or run.poll() is None):
        time.sleep(0.1)


def snapshot(store: ImageStore) -> dict:
    """Paths and vectors of every image, how many nodes a path has (0 duplicated: 1 each), how many
    images the run left without a SIMILAR_TO list, and the lists once `link` has refreshed them all
    (a run's own lists depend on the order its batches committed in)."""
    rows = store.driver.execute_query("MATCH (i:Image) RETURN i.path AS path, count(*) AS nodes ORDER BY path").records
    unlisted = store.count_unlisted(SPEC.space)
    update_links(store, SPEC)
    return {
        "paths": [r["path"] for r in rows],
        "most_nodes_per_path": max((r["nodes"] for r in rows), default=0),
        "vectors": {p: v.tolist() for p, v in store.vectors(SPEC.space).items()},
        "unlisted": unlisted,
        "links": stored_links(store, SPEC),
    }


def wipe(store: ImageStore) -> None:
    store.driver.execute_query("MATCH (n) DETACH DELETE n")


def ray_workers_alive() -> list[int]:
    """Pids of Ray worker processes of this namespace still running our indexing actor."""
    ours = os.readlink("/proc/self/ns/net")
    alive = []
    for proc in Path("/proc").iterdir():
        try:
            if (
                proc.name.isdigit()
                and os.readlink(proc / "ns" / "net") == ours
                and b"IndexWorker" in (proc / "cmdline").read_bytes()
            ):
                alive.append(int(proc.name))
        except OSError:
            continue
    return alive


def kill_a_worker_midway(store: ImageStore, folder: Path) -> dict:
    """The library on the cluster, one worker's process killed (SIGKILL) once MIDWAY images are in."""
    import ray

    from retrieval.distributed import ray_workers

    def ours() -> list[dict]:  # this run's actors (the earlier runs' are another job's)
        job = ray.get_runtime_context().get_job_id()
        return [a for a in ray._private.state.actors().values() if a["JobID"] == job]

    result: dict = {}
    outcome: dict = {}

    def index() -> None:
        try:
            with ray_workers(SPEC, load_settings(os.environ, Path.cwd())) as workers:
                outcome["report"] = index_folder(store, workers, folder, batch_size=16)
        except Exception as e:  # reported to the test, which fails on it
            outcome["error"] = repr(e)

    thread = threading.Thread(target=index)
    thread.start()
    wait_for(store, MIDWAY)
    pids = [a["Pid"] for a in ours() if a["State"] == "ALIVE" and a.get("Pid")]
    result["actor_pids_before"] = pids
    os.kill(pids[0], signal.SIGKILL)
    result["killed"] = pids[0]
    result["images_when_killed"] = count_images(store)
    thread.join(timeout=900)
    result["restarts"] = max((a.get("NumRestarts", 0) for a in ours()), default=0)
    report = outcome.get("report")
    result["error"] = outcome.get("error")
    result["summary"] = report.summary() if report else None
    return result


class Phases:
    """The seconds each phase of the scenario took, for whoever reads its output (no test asserts on them)."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds, self.clock = seconds, time.monotonic()

    def done(self, name: str) -> None:
        now = time.monotonic()
        self.seconds[name], self.clock = now - self.clock, now


def on_the_cluster(
    server: LocalNeo4j, store: ImageStore, folder: Path, env: dict[str, str], results: dict, *, phases: Phases
) -> None:
    """The runs on the one cluster this process started (the CLI's join it with `--ray ADDRESS`)."""
    import ray

    address = ray.get_runtime_context().gcs_address
    wipe(store)
    results["ray_run"] = finished(cli(env, "index", str(folder), "--ray", address))
    results["ray"] = snapshot(store)
    phases.done("ray")

    wipe(store)
    results["kill"] = kill_a_worker_midway(store, folder)
    results["killed"] = snapshot(store)
    phases.done("worker_killed")

    wipe(store)
    run = cli(env, "index", str(folder), "--ray", address, "--batch-size", "16")
    wait_for(store, MIDWAY, run)
    run.send_signal(signal.SIGINT)
    results["interrupted_run"] = finished(run)
    kept = count_images(store)
    gone_by = time.monotonic() + 60  # the killed actors' processes end: waited for, not a pause (60 s bounds a failure)
    while ray_workers_alive() and time.monotonic() < gone_by:
        time.sleep(0.1)
    results["interrupted"] = {"kept": kept, "later": count_images(store), "workers_alive": ray_workers_alive()}
    phases.done("interrupted")

    wipe(store)
    run = cli(env, "index", str(folder), "--ray", address, "--batch-size", "16")
    wait_for(store, MIDWAY // 2, run)
    crash(server)
    phases.done("neo4j_down_stopping")
    results["neo4j_down_run"] = finished(run)
    results["neo4j_uri"] = server.uri
    phases.done("neo4j_down_run_ending")


def main() -> None:
    out, photos = Path(sys.argv[1]), int(sys.argv[2])
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"ray-scenario-{os.getpid()}"
    # Beside the other homes, to share their jars; port 7687 is free in a namespace of our own.
    home = PROJECT / ".neo4j" / f"ray-scenario-{os.getpid()}"
    server = LocalNeo4j(home=home, port=7687, heap="1g", pagecache="512m", settings=(QUICK_JIT,))
    results: dict = {"seconds": {}}
    phases = Phases(results["seconds"])
    try:
        server.start()
        phases.done("neo4j_start")
        every_run(server, work, photos, results, phases=phases)
    finally:  # a scenario that fails leaves no Neo4j running in the namespace, nor its files
        crash(server)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(server.home, ignore_errors=True)
    results["seconds"]["all"] = sum(results["seconds"].values())
    out.write_text(json.dumps(results))


def every_run(server: LocalNeo4j, work: Path, photos: int, results: dict, *, phases: Phases) -> None:
    """The plain run, then the cluster and its runs, with every listening socket sampled meanwhile."""
    from retrieval.distributed import LOCAL_ENVIRONMENT, ray_cluster

    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "RETRIEVAL_", "RAY_"))}
    env |= {
        "NEO4J_LOCAL_HOME": str(server.home),
        "NEO4J_LOCAL_PORT": str(server.port),
        "RETRIEVAL_MODEL": SPEC.name,
        "NEO4J_RETRY_SECONDS": OUTAGE_RETRY_SECONDS,  # Neo4j is crashed under the last run (as in tests/test_outages.py)
        "RETRIEVAL_SECRETS_FILE": str(work / "no-secrets.toml"),
        **LOCAL_ENVIRONMENT,  # token authentication, as the cluster's, for the CLI runs that join it
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
        # Ray's sessions and its "latest cluster" file in a folder of this run's, not /tmp/ray, which every
        # namespace of the machine shares (another run's cluster there is not one to join).
        "RAY_TMPDIR": str(work / "ray"),
        "PYTHONPATH": str(PROJECT),
    }
    os.environ.clear()
    os.environ.update(env)
    watch = SocketWatch()
    watch.start()
    folder = work / "photos"
    (work / "ray").mkdir(parents=True)
    copy_bench_photos(folder, photos)
    auth = ("neo4j", server.password())
    try:
        with GraphDatabase.driver(server.uri, auth=auth, notifications_min_severity="OFF") as driver:
            store = ImageStore(driver)
            results["plain_run"] = finished(cli(env, "index", str(folder)))  # before the cluster: nothing of Ray's beside it
            results["plain"] = snapshot(store)
            phases.done("plain")
            with ray_cluster(num_cpus=2):
                phases.done("ray_start")
                on_the_cluster(server, store, folder, env, results, phases=phases)
    finally:
        watch.running = False
        watch.join()
    results["listening"] = sorted(watch.seen)


if __name__ == "__main__":
    main()
