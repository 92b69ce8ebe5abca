"""Resolutions killed midway and run at the same time as each other or as an index run, in real
processes on the real Neo4j: every file is in place or moved and in its manifest, no node is left
without its file, the next `index` makes the catalogue match the files, and undo puts everything back."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval.indexing import index_folder
from retrieval.resolving import REVIEW_FOLDER
from tests.support.cli import run_cli, start_cli
from tests.support.copies import make_tiered_copies
from tests.support.paths import BENCH, PROJECT

CLASSES = ["bonsai", "lamp", "barrel", "accordion", "cup", "llama"]

# A resolution that kills itself (SIGKILL, as kill -9) at the Nth call of one of its steps.
KILLED_AT = """
import os, signal, sys
import retrieval.resolving as resolving
step, nth = sys.argv[1], int(sys.argv[2])
calls = []
def dying(original):
    def call(*args, **kwargs):
        calls.append(1)
        if len(calls) == nth:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)
    return call
if step == "move":  # after the group's nodes were set aside, before its file moved
    resolving._move_file = dying(resolving._move_file)
else:  # "unlink": after a file was linked into the review folder, before it left its place
    resolving.os.unlink = dying(os.unlink)
from retrieval.cli import main
sys.exit(main(["duplicates", "--tier", "same", "--resolve"]))
"""


def sha(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def catalogue(driver) -> set[str]:
    return {r["path"] for r in driver.execute_query("MATCH (i:Image) RETURN i.path AS path").records}


def files_in_place(folder: Path) -> set[str]:
    return {str(p) for p in folder.rglob("*.jpg") if REVIEW_FOLDER not in p.parts}


def entries(folder: Path) -> list[dict]:
    """The moves of every manifest below `folder`, less those a manifest says were skipped."""
    found = []
    for manifest in folder.rglob("*.jsonl"):
        lines = [json.loads(text) for text in manifest.read_text().splitlines()]
        skipped = {line["skipped"] for line in lines if "skipped" in line}
        found += [line for line in lines if "from" in line and line["from"] not in skipped]
    return found


@pytest.mark.parametrize("stop", [("move", 1), ("move", 3), ("unlink", 2)], ids=["first-move", "third-move", "mid-move"])
def test_a_resolution_killed_midway_leaves_each_file_in_place_or_moved_and_index_then_undo_make_it_whole(
    store, lite, cli_env, tmp_path, stop
):
    step, nth, driver = *stop, store.driver
    folder = tmp_path / "photos"
    built = make_tiered_copies(folder, CLASSES[:4], per_class=1, copied_every=1, variants=["resized75"])
    index_folder(store, lite, folder)
    hashes = {p: sha(p) for p in built.labels}
    vectors = {
        r["path"]: r["v"]
        for r in driver.execute_query("MATCH (i:Image) RETURN i.path AS path, i.embedding_efficientnet_lite0 AS v").records
    }

    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AT, step, str(nth)], env=cli_env, cwd=PROJECT, capture_output=True, text=True, check=False
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    listed = entries(folder)
    assert {e["from"] for e in listed} == {p for g in built.same for p in g} - {min(g, key=len) for g in built.same}
    for entry in listed:  # in place, or moved and in the manifest (a move cut between its two steps: both)
        assert (os.path.exists(entry["from"]) or os.path.exists(entry["to"])) and entry["sha256"] == hashes[entry["from"]]
    assert all(os.path.exists(p) for p in catalogue(driver))  # no node without its file

    indexed = run_cli("index", str(folder), env=cli_env)
    assert indexed.returncode == 0, indexed.stderr
    assert "0 new, 0 updated" in indexed.stdout  # nodes put back, nothing embedded
    assert catalogue(driver) == files_in_place(folder)

    undone = run_cli("duplicates", "--undo", env=cli_env)
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert {p: sha(p) for p in files_in_place(folder)} == hashes
    assert not [p for p in (folder / REVIEW_FOLDER).rglob("*") if p.is_file() and p.suffix != ".jsonl"]
    after = {
        r["path"]: r["v"]
        for r in driver.execute_query("MATCH (i:Image) RETURN i.path AS path, i.embedding_efficientnet_lite0 AS v").records
    }
    assert after == vectors


def test_two_resolutions_at_once_lose_no_file_keep_a_copy_of_each_group_in_place_and_leave_no_node_without_its_file(
    store, lite, driver, cli_env, tmp_path
):
    folder = tmp_path / "photos"
    built = make_tiered_copies(folder, CLASSES, per_class=1, copied_every=1, variants=["resized75", "resized50", "quality40"])
    index_folder(store, lite, folder)
    hashes = {p: sha(p) for p in built.labels}

    runs = [start_cli("duplicates", "--tier", "same", "--resolve", "--keep", keep, env=cli_env) for keep in ("pixels", "largest")]
    for run in runs:
        _, err = run.communicate(timeout=600)
        assert run.returncode == 0 and "Traceback" not in err, err

    everywhere = [p for p in folder.rglob("*.jpg")]
    assert sorted(sha(p) for p in everywhere) == sorted(hashes.values())  # every file once: none lost, none doubled
    for group in built.same:
        assert any(os.path.exists(p) for p in group)
    assert catalogue(driver) == files_in_place(folder)
    moved = {e["from"] for e in entries(folder)}
    assert moved == set(hashes) - files_in_place(folder)  # each move in the manifest of the run that made it


def test_a_resolution_during_an_index_run_of_the_same_folder_leaves_no_node_without_its_file(
    store, lite, driver, cli_env, tmp_path
):
    folder = tmp_path / "photos"
    built = make_tiered_copies(folder, CLASSES, per_class=1, copied_every=1, variants=["resized75", "quality40"])
    index_folder(store, lite, folder)
    (folder / "more").mkdir()
    for label in ("brain", "camera", "dolphin"):  # work for the index run
        for photo in sorted((BENCH / "images" / label).glob("*.jpg"))[:24]:
            shutil.copy(photo, folder / "more" / f"{label}_{photo.name}")
    for path in built.labels:
        os.utime(path, ns=(1, 1))  # read again by the index run, while the resolution moves them
    hashes = {str(p): sha(p) for p in folder.rglob("*.jpg")}

    indexing = start_cli("index", str(folder), "--batch-size", "4", env=cli_env)
    resolving = start_cli("duplicates", "--tier", "same", "--resolve", env=cli_env)
    for run in (resolving, indexing):
        _, err = run.communicate(timeout=900)
        assert run.returncode == 0 and "Traceback" not in err, err

    assert sorted(sha(p) for p in folder.rglob("*.jpg")) == sorted(hashes.values())
    assert all(os.path.exists(p) for p in catalogue(driver))
    rerun = run_cli("index", str(folder), env=cli_env)
    assert rerun.returncode == 0, rerun.stderr
    assert catalogue(driver) == files_in_place(folder)
