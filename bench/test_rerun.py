"""Benchmark: a rerun over an unchanged folder of ~2,000 photos against the first run, in one
process. Goal: the rerun takes under 5 % of the first run. Not part of the default tests; run
with `./test.sh bench -s -k rerun`."""

from __future__ import annotations

import os
import shutil

import pytest

from retrieval.indexing import index_folder
from tests.support.paths import BENCH
from tests.support.server import empty_store


@pytest.mark.bench
def test_rerun_over_an_unchanged_folder_costs_under_5_percent_of_the_first_run(driver, lite, tmp_path):
    folder = tmp_path / "photos"
    shutil.copytree(BENCH / "images", folder)
    photos = sum(1 for _ in folder.rglob("*.jpg"))
    store = empty_store(driver)

    first = index_folder(store, lite, folder)
    rerun = index_folder(store, lite, folder)
    for photo in folder.rglob("*.jpg"):  # same bytes, new modification time: the content hash decides
        os.utime(photo)
    touched = index_folder(store, lite, folder)

    assert first.new == photos and not first.skipped
    assert rerun.unchanged == photos and rerun.indexed == 0
    assert touched.unchanged == photos and touched.indexed == 0
    print(
        f"\n{photos} photos: first run {first.seconds:.1f} s; rerun, unchanged {rerun.seconds:.2f} s "
        f"({rerun.seconds / first.seconds:.2%}); rerun, every file touched {touched.seconds:.2f} s "
        f"({touched.seconds / first.seconds:.2%})"
    )
    assert rerun.seconds < 0.05 * first.seconds
