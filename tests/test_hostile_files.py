"""A messy folder: every bad file is skipped with its reason, every good one indexed exactly once."""

from __future__ import annotations

import os
import shutil
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from retrieval.core.errors import UnreadableImage
from retrieval.core.settings import load_settings
from retrieval.finding import OUTSIDE
from retrieval.indexing import RunOptions, index_files, plan_run
from retrieval.neo4j.connection import neo4j_settings
from retrieval.serving.jobs import IndexJob
from retrieval.vision.decode import MAX_JPEG_SCANS, decode, read_file
from tests.support.cli import run_cli
from tests.support.hostile import make_corpus, many_scans_jpeg, taken_at
from tests.support.paths import DEMO_IMAGES, PROJECT

PHOTOS = ["car_ferrari_red_01.jpg", "car_hyundai_suv_01.jpg"]

# Root reads any file whatever its mode; drop that privilege so the unreadable file is unreadable. (The
# user nobody cannot run the tests' Python: its virtualenv lies in root's home, closed to others.)
AS_UNPRIVILEGED = (
    ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search"]
    if os.geteuid() == 0
    else []
)


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "messy photos"
    good, bad = make_corpus(folder, DEMO_IMAGES / "car_ferrari_red_01.jpg")
    return folder, good, bad


def skipped_lines(stdout: str) -> dict[str, str]:
    return {line: line for line in stdout.splitlines() if line.startswith("  skipped ")}


def test_each_bad_file_is_skipped_with_its_reason_and_exactly_the_good_ones_are_stored(store, cli_env, corpus):
    folder, good, bad = corpus
    result = run_cli("index", str(folder), "--verbose", env=cli_env, wrapper=AS_UNPRIVILEGED)
    assert result.returncode == 0, result.stderr
    lines = list(skipped_lines(result.stdout))
    assert len(lines) == len(bad)
    for path, reason in bad.items():
        [line] = [line for line in lines if line.startswith(f"  skipped {path}: ")]
        assert reason in line, line
    assert f"{len(good)} new, 0 updated, 0 unchanged, 0 removed, {len(bad)} skipped" in result.stdout
    assert sorted(store.paths()) == sorted(str(p) for p in good)

    sizes = {
        r["name"]: (r["w"], r["h"])
        for r in store.driver.execute_query("MATCH (i:Image) RETURN i.name AS name, i.width AS w, i.height AS h").records
    }
    assert sizes["rotated_exif.jpg"] == (300, 400)  # stored upright
    assert sizes["huge_photo.jpg"] == (6000, 4000)  # the original's size, though decoded in draft mode

    again = run_cli("index", str(folder), env=cli_env, wrapper=AS_UNPRIVILEGED)
    assert f"0 new, 0 updated, {len(good)} unchanged, 0 removed, {len(bad)} skipped" in again.stdout
    assert not skipped_lines(again.stdout)  # without --verbose, counted by reason, not listed
    assert sum(int(line.split()[0]) for line in again.stdout.splitlines()[1:] if " skipped: " in line) == len(bad)
    assert len(store.paths()) == len(good)


def test_a_photo_whose_exif_date_neo4j_cannot_keep_is_stored_without_it_and_the_rest_of_the_folder_is_indexed(
    store, cli_env, tmp_path
):
    folder = tmp_path / "odd dates"
    folder.mkdir()
    taken = {  # EXIF date and offset: what the node keeps
        "year_0_in_utc.jpg": ("0001:01:01 00:00:00", "+14:59", None),  # `Ticks out of range` in the driver
        "year_10000_in_utc.jpg": ("9999:12:31 23:59:59", "-14:59", None),  # `Ordinal out of range`
        "first_instant.jpg": ("0001:01:01 00:00:00", "+00:00", datetime(1, 1, 1, tzinfo=UTC)),
        "last_instant.jpg": ("9999:12:31 23:59:59", "+00:00", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        "holiday.jpg": ("2021:07:14 18:02:33", "+02:00", datetime(2021, 7, 14, 18, 2, 33, tzinfo=timezone(timedelta(hours=2)))),
    }
    for name, (when, offset, _) in taken.items():
        (folder / name).write_bytes(taken_at(DEMO_IMAGES / PHOTOS[0], when, offset))
    for _ in range(2):  # and a rerun (which reads the facts of nodes left without them) is as clean
        result = run_cli("index", str(folder), "--no-link", env=cli_env)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
    stored = {
        r["name"]: r["taken"]
        for r in store.driver.execute_query("MATCH (i:Image) RETURN i.name AS name, i.taken AS taken").records
    }
    assert {name: t.to_native() if t is not None else None for name, t in stored.items()} == {
        name: expected for name, (_, _, expected) in taken.items()
    }


def test_a_jpeg_of_thousands_of_scans_is_skipped_with_its_reason_before_decoding_and_the_rest_indexed(store, cli_env, tmp_path):
    folder = tmp_path / "scans"
    good = photos_in(folder)
    hostile = many_scans_jpeg(Image.new("RGB", (4000, 4000), (90, 120, 150)), 5_000)  # as the issue's, under 300 KB
    assert len(hostile) < 300_000
    (folder / "scans.jpg").write_bytes(hostile)
    (folder / "progressive.jpg").write_bytes(many_scans_jpeg(Image.open(DEMO_IMAGES / PHOTOS[1]), 1))  # as editors write them
    result = run_cli("index", str(folder), "--no-link", "--verbose", env=cli_env)
    assert result.returncode == 0, result.stderr
    assert f"too many JPEG scans for safe decoding (more than {MAX_JPEG_SCANS}" in result.stdout
    assert sorted(store.paths()) == sorted(str(p) for p in [*good, folder / "progressive.jpg"])
    with pytest.raises(UnreadableImage, match="too many JPEG scans"):
        decode((folder / "scans.jpg").read_bytes(), "scans.jpg")


def test_awkward_but_good_images_decode_to_sensible_rgb(corpus):
    folder, _, _ = corpus
    sixteen = np.asarray(decode(read_file(folder / "sixteen_bit.png"), "16"))
    assert sixteen.mean() < 200  # scaled to 8 bits, not clipped to white
    transparent = decode(read_file(folder / "palette_transparent.png"), "p")
    assert transparent.mode == "RGB"
    huge = decode(read_file(folder / "huge_photo.jpg"), "huge")
    assert min(huge.size) < 4000 and min(huge.size) >= 256  # drafted, still large enough for Resize(256)


def photos_in(folder: Path) -> list[Path]:
    folder.mkdir(parents=True)
    return [Path(shutil.copy(DEMO_IMAGES / name, folder / name)) for name in PHOTOS]


def index_from_the_app(store, embedder, folder: Path, env: dict[str, str], roots: tuple[Path, ...] | None = None):
    """A run as the app starts it (jobs.IndexJob, in its own thread), waited for; returns its last state."""
    job = IndexJob()
    assert job.start(store, embedder, folder, neo4j_settings(load_settings(env, PROJECT)), roots=roots) is None
    for thread in threading.enumerate():
        if thread.name == "index-folder":
            thread.join()
    return job.latest()


@pytest.fixture
def folder_with_a_name_not_utf8(tmp_path: Path) -> tuple[Path, list[Path], str]:
    """Two photos beside a photo whose name is the bytes bad\\xff\\xfe.jpg, and how that name is shown."""
    folder = tmp_path / "photos"
    good = photos_in(folder)
    with open(os.path.join(os.fsencode(folder), b"bad\xff\xfe.jpg"), "wb") as f:
        f.write(good[0].read_bytes())
    return folder, good, f"{folder}/bad\\xff\\xfe.jpg"


def test_a_name_that_is_not_utf8_is_skipped_with_its_reason_and_the_rest_indexed(store, cli_env, folder_with_a_name_not_utf8):
    folder, good, shown = folder_with_a_name_not_utf8
    result = run_cli("index", str(folder), "--verbose", env=cli_env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert f"  skipped {shown}: the name is not valid UTF-8" in result.stdout
    assert "2 new, 0 updated, 0 unchanged, 0 removed, 1 skipped" in result.stdout
    assert sorted(store.paths()) == sorted(str(p) for p in good)

    [bad] = [name for name in os.listdir(folder) if name.startswith("bad")]
    found = run_cli("search", str(folder / bad), "-k", "2", env=cli_env)  # a photo by that name can still be a query
    assert found.returncode == 0, found.stderr
    assert str(good[0]) in found.stdout


def test_the_apps_run_skips_a_name_that_is_not_utf8_and_indexes_the_rest(store, lite, cli_env, folder_with_a_name_not_utf8):
    folder, good, shown = folder_with_a_name_not_utf8
    run = index_from_the_app(store, lite, folder, cli_env)
    assert run.error is None and run.report is not None
    assert [(s.path, s.reason.split(",")[0]) for s in run.report.skipped] == [(shown, "the name is not valid UTF-8")]
    assert sorted(store.paths()) == sorted(str(p) for p in good)


def test_pipes_devices_and_unreadable_folders_are_listed_as_skipped_and_prune_keeps_what_it_cannot_see(store, cli_env, tmp_path):
    folder = tmp_path / "photos"
    good = photos_in(folder)
    hidden = photos_in(folder / "locked")
    assert run_cli("index", str(folder), env=cli_env).returncode == 0  # the locked folder's photo is indexed first
    os.mkfifo(folder / "pipe.jpg")
    os.symlink("/dev/zero", folder / "zero.jpg")
    (folder / "locked").chmod(0)
    try:
        result = run_cli("index", str(folder), "--prune", "--verbose", env=cli_env, wrapper=AS_UNPRIVILEGED)
    finally:
        (folder / "locked").chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert set(skipped_lines(result.stdout)) == {
        f"  skipped {folder / 'pipe.jpg'}: a FIFO (named pipe), not a file",
        f"  skipped {folder / 'zero.jpg'}: a device, not a file",
        f"  skipped {folder / 'locked'}: cannot read the folder (Permission denied)",
    }
    assert "0 new, 0 updated, 2 unchanged, 0 removed, 3 skipped" in result.stdout
    assert sorted(store.paths()) == sorted(str(p) for p in [*good, *hidden])


def test_the_apps_run_skips_a_linked_file_leading_outside_the_allowed_folders(store, lite, cli_env, tmp_path):
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    good = photos_in(allowed)
    [secret, _] = photos_in(outside)
    os.symlink(secret, allowed / "escape.jpg")
    os.symlink(good[0], allowed / "inside_link.jpg")  # a link that stays within the roots is read
    run = index_from_the_app(store, lite, allowed, cli_env, roots=(allowed.resolve(),))
    assert run.error is None and run.report is not None
    assert [(s.path, s.reason) for s in run.report.skipped] == [
        (str(allowed / "escape.jpg"), "a link to a file outside the folders that may be indexed")
    ]
    assert sorted(store.paths()) == sorted(str(p) for p in [*good, allowed / "inside_link.jpg"])


def test_a_file_that_becomes_a_link_outside_the_allowed_folders_after_the_listing_is_not_read(store, lite, tmp_path):
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    good = photos_in(allowed)
    [secret, _] = photos_in(outside)
    roots = (allowed.resolve(),)
    store.ensure_schema(lite.spec.space)  # as index_folder does before its plan
    report, todo, _ = plan_run(store, lite.spec, allowed, roots=roots)
    assert [path for path, _ in todo] == good
    good[0].unlink()
    good[0].symlink_to(secret)  # swapped between listing and reading
    index_files(store, lite, todo, report, RunOptions(roots=roots))
    assert [(s.path, s.reason) for s in report.skipped] == [(str(good[0]), OUTSIDE)]
    assert store.paths() == [str(good[1])]
