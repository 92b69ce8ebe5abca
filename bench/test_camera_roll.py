"""Benchmark: a camera roll's formats indexed through the product, side by side in one run. From the
same bench photos, made as a phone or camera writes them: 12 MP JPEG with EXIF (4032 x 3024), HEIC,
AVIF, JPEG XL, and DNG (its 12 MP sensor data with the camera's full-size JPEG preview, as Canon and
Nikon store theirs, and without a preview, read by LibRaw's half-size decode). Each format's folder is
indexed by `index_folder` (read, decode, preprocess, embed, write to Neo4j; no SIMILAR_TO lists), and
its images per second are set against the seed recipe's loop on the 12 MP JPEGs (open, full decode,
preprocess, model, one at a time) in the same run, as ratios: the machine is shared and noisy.

Run with `PYTHONPATH=$PWD python -m pytest bench/test_camera_roll.py -m bench -s`; the figures are in
docs/BENCHMARKS.md, "Camera roll"."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pytest
from neo4j import GraphDatabase
from PIL import Image

from retrieval.indexing import index_folder
from retrieval.neo4j.store import ImageStore
from tests.support.formats import exif_bytes, jpeg_of, save_as, write_dng
from tests.support.machine import cpu_flags
from tests.support.paths import BENCH
from tests.support.photos import seed_loop
from tests.support.server import fresh_server

PHOTOS = 16  # per format: a short run
SIZE = (4032, 3024)  # 12 MP, a phone's
EXIF = exif_bytes("Apple", "iPhone 12", datetime(2021, 7, 14, 18, 2, 33))
FORMATS = {  # folder: how a photo is written there
    "JPEG 12 MP": lambda photo, path: save_as(photo, path.with_suffix(".jpg"), EXIF, quality=92),
    "HEIC": lambda photo, path: save_as(photo, path.with_suffix(".heic"), EXIF, quality=80),
    "AVIF": lambda photo, path: save_as(photo, path.with_suffix(".avif"), EXIF, quality=80, speed=8),
    "JPEG XL": lambda photo, path: save_as(photo, path.with_suffix(".jxl"), EXIF, quality=90, effort=3),
    "DNG, full-size preview": lambda photo, path: write_dng(path.with_suffix(".dng"), SIZE, preview=jpeg_of(photo, quality=92)),
    "DNG, no preview (half-size decode)": lambda photo, path: write_dng(path.with_suffix(".dng"), SIZE),
}


@pytest.fixture(scope="module")
def roll(tmp_path_factory) -> dict[str, list[Path]]:
    """Each format's folder of PHOTOS files, made from the same bench photos (one per class, upscaled to 12 MP)."""
    root = tmp_path_factory.mktemp("roll")
    sources = sorted((BENCH / "images").rglob("*.jpg"))[:: 1965 // PHOTOS][:PHOTOS]
    made: dict[str, list[Path]] = {name: [] for name in FORMATS}
    for n, source in enumerate(sources):
        with Image.open(source) as image:
            photo = image.convert("RGB").resize(SIZE, Image.Resampling.BICUBIC)
        for name, write in FORMATS.items():
            made[name].append(write(photo, root / name.replace(" ", "_").replace(",", "") / f"IMG_{n:04}"))
    return made


@pytest.mark.bench
def test_a_camera_rolls_formats_indexed_against_the_seed_loops_jpeg_rate(roll, lite, request):
    server = fresh_server("bench-roll", heap="512m", pagecache="256m", version=request.config.getoption("--neo4j"))
    server.start()
    try:
        with GraphDatabase.driver(server.uri, auth=("neo4j", server.password()), notifications_min_severity="OFF") as driver:
            store = ImageStore(driver)
            seed_loop(lite, roll["JPEG 12 MP"][:2])  # warm up
            index_folder(store, lite, roll["JPEG 12 MP"][0].parent, link=False)  # warm up, then forgotten
            driver.execute_query("MATCH (n:Image) DETACH DELETE n")
            started = time.perf_counter()
            seed_loop(lite, roll["JPEG 12 MP"])
            seed_rate = PHOTOS / (time.perf_counter() - started)
            print(f"\nNeo4j {server.version}; CPU flags: {cpu_flags()}; {PHOTOS} photos per format, {SIZE[0]} x {SIZE[1]}")
            print(f"| format | MB per file | img/s | / seed loop's JPEG ({seed_rate:.2f} img/s) |")
            print("| --- | --- | --- | --- |")
            for name, paths in roll.items():
                started = time.perf_counter()
                report = index_folder(store, lite, paths[0].parent, link=False)
                rate = PHOTOS / (time.perf_counter() - started)
                assert report.new == PHOTOS and not report.skipped, report.summary()
                megabytes = sum(p.stat().st_size for p in paths) / len(paths) / 1e6
                print(f"| {name} | {megabytes:.1f} | {rate:.2f} | {rate / seed_rate:.2f}x |")
    finally:
        server.stop()
