"""A folder made like a phone's camera roll and a photographer's card, indexed on the real Neo4j: HEIC,
AVIF, JPEG XL and DNG stored with their facts like a JPEG, searched from the command line; a HEIC and
the JPEG made from it one "same picture" group; a RAW beside a JPEG of the same name left out and
counted (both indexed, as one same-picture group, with --raw-pairs); videos and sidecars counted by
extension; skipped files counted by reason, listed only with --verbose."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from retrieval.core.files import FileRules
from retrieval.duplicates import duplicate_page, tier_named
from retrieval.indexing import index_folder
from tests.support.cli import run_cli
from tests.support.formats import exif_bytes, jpeg_of, save_as, write_dng
from tests.support.paths import DEMO_IMAGES

TAKEN = datetime(2023, 5, 6, 7, 8, 9, tzinfo=UTC)
PHOTOS = sorted(DEMO_IMAGES.glob("*.jpg"))


def photo(number: int, size: tuple[int, int] = (640, 427)) -> Image.Image:
    with Image.open(PHOTOS[number]) as img:
        return img.convert("RGB").resize(size)


def camera_roll(folder: Path) -> dict[str, Path]:
    """One picture of each format, with EXIF; a RAW beside its JPEG; a video, sidecars, a file without
    extension, an empty .jpg. Named as the cameras name them."""
    exif = exif_bytes("Apple", "iPhone 15 Pro", TAKEN)
    files = {
        "heic": save_as(photo(0), folder / "IMG_0001.HEIC", exif, quality=85),
        "avif": save_as(photo(6), folder / "IMG_0002.avif", exif, quality=85),
        "jxl": save_as(photo(12), folder / "IMG_0003.jxl", exif, quality=85),
        "dng": write_dng(
            folder / "IMG_0004.DNG", (900, 600), preview=jpeg_of(photo(18)), make="NIKON CORPORATION", model="NIKON Z 6"
        ),
        "jpg": save_as(photo(24), folder / "DSC_0005.JPG", exif_bytes("NIKON CORPORATION", "NIKON Z 6", TAKEN)),
        "raw beside jpg": write_dng(folder / "DSC_0005.dng", (900, 600), preview=jpeg_of(photo(24))),
    }
    for name, content in [("IMG_0001.MOV", b"\0\0\0\x18ftypqt  "), ("IMG_0001.AAE", b"<plist/>"), ("IMG_0004.xmp", b"<x/>")]:
        (folder / name).write_bytes(content)
    (folder / "README").write_text("not a picture")
    (folder / "empty.jpg").write_bytes(b"")
    return files


def node(store, path: Path) -> dict:
    rows = store.driver.execute_query("MATCH (i:Image {path: $path}) RETURN properties(i) AS p", path=str(path)).records
    return rows[0]["p"]


def test_every_format_is_indexed_with_its_facts_and_everything_else_is_counted(store, lite, tmp_path):
    files = camera_roll(tmp_path)
    report = index_folder(store, lite, tmp_path, link=False)

    assert (report.new, report.raw_pairs, report.total) == (5, 1, 6)  # five pictures and the empty file
    assert [(s.path, s.reason) for s in report.skipped] == [(str(tmp_path / "empty.jpg"), "empty file (0 bytes)")]
    assert report.others == {".mov": 1, ".aae": 1, ".xmp": 1, "": 1}
    assert report.summary().endswith(
        "; 1 RAW files left out beside a picture of the same name"
        "; not pictures, not read: 1 without extension, 1 .aae, 1 .mov, 1 .xmp"
    )
    assert sorted(store.paths()) == sorted(str(files[kind]) for kind in ("heic", "avif", "jxl", "dng", "jpg"))
    for kind in ("heic", "avif", "jxl"):
        facts = node(store, files[kind])
        assert (facts["camera"], facts["taken"].to_native(), facts["width"], facts["height"]) == (
            "Apple iPhone 15 Pro",
            TAKEN,
            640,
            427,
        )
    raw = node(store, files["dng"])
    assert (raw["camera"], raw["width"], raw["height"]) == ("NIKON Z 6", 900, 600)  # the sensor's size, not the preview's


def test_with_raw_pairs_the_raw_and_its_jpeg_are_both_indexed_as_one_same_picture_group(store, lite, tmp_path):
    files = camera_roll(tmp_path)
    report = index_folder(store, lite, tmp_path, rules=FileRules(raw_pairs=True))
    assert (report.new, report.raw_pairs) == (6, 0)
    same = [set(group.paths) for group in duplicate_page(store, lite.spec, tier_named("same"), per_page=None).groups]
    assert same == [{str(files["jpg"]), str(files["raw beside jpg"])}]


def test_a_heic_and_the_jpeg_made_from_it_are_one_same_picture_group(store, lite, tmp_path):
    heic = save_as(photo(3, (1008, 756)), tmp_path / "phone" / "IMG_1234.HEIC", quality=80)
    with Image.open(heic) as decoded:  # what "export as JPEG" gives: the HEIC decoded, smaller, re-encoded
        exported = save_as(decoded.resize((800, 600)), tmp_path / "exports" / "IMG_1234.jpg", quality=80)
    others = [save_as(photo(n), tmp_path / "phone" / f"IMG_{n:04}.HEIC", quality=80) for n in (1, 2, 9, 15)]
    index_folder(store, lite, tmp_path)
    same = [set(group.paths) for group in duplicate_page(store, lite.spec, tier_named("same"), per_page=None).groups]
    assert same == [{str(heic), str(exported)}]
    assert len(store.paths()) == 2 + len(others)


def test_the_cli_counts_skipped_files_by_reason_lists_them_with_verbose_and_searches_with_a_heic_or_a_raw(
    store, cli_env, tmp_path
):
    folder = tmp_path / "roll"
    files = camera_roll(folder)
    for n in range(300):  # as a broken sync leaves them
        (folder / f"broken_{n:03}.jpg").write_bytes(b"")
    (folder / "cut.heic").write_bytes(files["heic"].read_bytes()[:500])

    quiet = run_cli("index", str(folder), env=cli_env)
    assert quiet.returncode == 0, quiet.stderr
    lines = quiet.stdout.splitlines()
    assert lines[0].startswith("5 new, 0 updated, 0 unchanged, 0 removed, 302 skipped (307 files")
    assert lines[1:] == ["  301 skipped: empty file", "  1 skipped: damaged or refused HEIF data"]
    assert "--verbose" in quiet.stderr

    verbose = run_cli("index", str(folder), "--verbose", env=cli_env)
    listed = [line for line in verbose.stdout.splitlines() if line.startswith("  skipped ")]
    assert len(listed) == 302 and f"  skipped {folder / 'broken_000.jpg'}: empty file (0 bytes)" in listed

    for kind in ("heic", "dng"):  # a copy outside the catalogue: decoded by the search, as an upload is
        query = shutil.copy(files[kind], tmp_path / f"query{files[kind].suffix}")
        found = run_cli("search", str(query), "-k", "1", "--json", env=cli_env)
        assert found.returncode == 0, found.stderr
        [best] = json.loads(found.stdout)
        assert best["path"] == str(files[kind]) and best["score"] == pytest.approx(1.0, abs=1e-3)
