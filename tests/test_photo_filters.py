"""The photos' own facts (capture time, camera, upright size, folder) on their nodes, and searches
filtered by them: inside the vector index where the server and the index can (2026.x), after it with
over-fetch elsewhere (5.26, or an index made before the filter's properties), with the same results."""

from __future__ import annotations

import json
import shlex
import shutil
import struct
import subprocess
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from retrieval.core.errors import RetrievalError
from retrieval.core.facts import parse_days
from retrieval.core.files import FileRules
from retrieval.core.filters import PhotoFilter
from retrieval.indexing import index_folder
from retrieval.neo4j.images import ImageRecord
from retrieval.neo4j.schema import CREATE_VECTOR_INDEX, QUANTIZED
from retrieval.vision.facts import read_facts
from retrieval.vision.models import MODELS
from tests.support.app import shown
from tests.support.cli import run_cli
from tests.support.paths import APP, DEMO_IMAGES, PROJECT
from tests.support.server import plan_operators

SPEC = MODELS["efficientnet-lite0"]
DATE_TIME, MAKE, MODEL, ORIENTATION, EXIF_IFD = 0x0132, 0x010F, 0x0110, 0x0112, 0x8769
DATE_TIME_ORIGINAL, OFFSET_TIME_ORIGINAL, LENS_MODEL = 0x9003, 0x9011, 0xA434


def photo_with_exif(source: Path, target: Path, tags: dict[int, object], inner: dict[int, object] | None = None) -> Path:
    """`source` saved as a JPEG at `target` with EXIF `tags` (IFD0) and `inner` (the Exif IFD)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(source) as img:
        exif = Image.Exif()
        for tag, value in tags.items():
            exif[tag] = value
        for tag, value in (inner or {}).items():
            exif.get_ifd(EXIF_IFD)[tag] = value
        img.convert("RGB").save(target, "JPEG", exif=exif)
    return target


def raw_exif(entries: list[tuple[int, int, int]]) -> bytes:
    """EXIF bytes of one IFD whose entries are (tag, TIFF type, a value that fits in four bytes), as written."""
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", tag, kind, 1, value) for tag, kind, value in entries)
    return b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0)


def node(store, path: Path) -> dict:
    rows = store.driver.execute_query("MATCH (i:Image {path: $path}) RETURN properties(i) AS p", path=str(path)).records
    return rows[0]["p"]


def test_indexing_stores_capture_time_with_its_offset_camera_upright_size_and_folder(store, lite, tmp_path):
    source = DEMO_IMAGES / "car_ferrari_red_01.jpg"
    width, height = Image.open(source).size
    turned = photo_with_exif(
        source,
        tmp_path / "trip" / "turned.jpg",
        {MAKE: "NIKON CORPORATION", MODEL: "NIKON D750 ", ORIENTATION: 6, DATE_TIME: "2020:01:01 00:00:00"},
        {DATE_TIME_ORIGINAL: "2021:07:14 18:02:33", OFFSET_TIME_ORIGINAL: "+02:00"},
    )
    plain = photo_with_exif(
        source, tmp_path / "trip" / "day" / "plain.jpg", {MAKE: "Canon", MODEL: "Canon EOS R5", DATE_TIME: "2019:03:02 10:00:00"}
    )
    bare = photo_with_exif(source, tmp_path / "bare.jpg", {})

    report = index_folder(store, lite, tmp_path, link=False)

    assert report.new == 3
    facts = node(store, turned)
    assert facts["taken"].to_native() == datetime(2021, 7, 14, 18, 2, 33, tzinfo=timezone(timedelta(hours=2)))
    assert facts["camera"] == "NIKON D750"
    assert (facts["width"], facts["height"]) == (height, width)  # upright: EXIF orientation 6 turns it
    assert facts["folder"] == str(tmp_path / "trip")
    facts = node(store, plain)
    assert facts["taken"].to_native() == datetime(2019, 3, 2, 10, tzinfo=UTC)  # DateTime without DateTimeOriginal; no offset: UTC
    assert facts["camera"] == "Canon EOS R5"
    assert "taken" not in node(store, bare) and "camera" not in node(store, bare)


def test_odd_or_hostile_exif_is_left_out_field_by_field_and_the_photo_is_indexed(store, lite, tmp_path):
    source = DEMO_IMAGES / "car_ferrari_red_01.jpg"
    cases = {
        "zero_date.jpg": ({MAKE: "Sony", DATE_TIME: "0000:00:00 00:00:00"}, {DATE_TIME_ORIGINAL: "2021:13:45 99:00:00"}),
        "huge_make.jpg": ({MAKE: "X" * 60_000, MODEL: "Y" * 100, DATE_TIME: "2018:05:06 07:08:09"}, {}),
        "control_chars.jpg": ({MAKE: "Evil\x1b[31m", MODEL: "Cam\x00\x00"}, {DATE_TIME_ORIGINAL: "2021:01:01 00:00:00"}),
    }
    for name, (tags, inner) in cases.items():
        photo_with_exif(source, tmp_path / name, tags, inner)
    with Image.open(source) as img:  # numbers where EXIF has text: Pillow would write them as text, so the bytes are made here
        img.convert("RGB").save(
            tmp_path / "wrong_types.jpg", "JPEG", exif=raw_exif([(MAKE, 3, 5), (MODEL, 4, 7), (DATE_TIME, 4, 42)])
        )
    (tmp_path / "not_exif.jpg").write_bytes(source.read_bytes()[:200] + b"Exif\x00\x00MM\x00*" + b"\xff" * 50)

    report = index_folder(store, lite, tmp_path, link=False)

    assert report.new == 4 and [s.path for s in report.skipped] == [str(tmp_path / "not_exif.jpg")]
    assert "taken" not in node(store, tmp_path / "zero_date.jpg") and node(store, tmp_path / "zero_date.jpg")["camera"] == "Sony"
    huge = node(store, tmp_path / "huge_make.jpg")
    assert "camera" not in huge and huge["taken"].to_native() == datetime(2018, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert not {"taken", "camera"} & set(node(store, tmp_path / "wrong_types.jpg"))
    odd = node(store, tmp_path / "control_chars.jpg")
    assert odd["camera"] == "Cam" and odd["taken"].year == 2021  # the make with an escape sequence is left out
    assert read_facts(b"not an image at all") == {}


def test_a_database_indexed_before_facts_were_kept_gets_them_on_the_next_run_without_reembedding(store, lite, tmp_path):
    photo = photo_with_exif(DEMO_IMAGES / "car_ferrari_red_01.jpg", tmp_path / "a.jpg", {MAKE: "Canon", MODEL: "EOS 80D"})
    index_folder(store, lite, tmp_path, link=False)
    store.driver.execute_query("MATCH (i:Image) REMOVE i.taken, i.camera, i.camera_key, i.folder, i.facts")
    before = node(store, photo)

    report = index_folder(store, lite, tmp_path, link=False)

    after = node(store, photo)
    assert (report.new, report.updated, report.unchanged) == (0, 0, 1)
    assert after["camera"] == "Canon EOS 80D" and after["folder"] == str(tmp_path)
    assert after["indexed_at"] == before["indexed_at"]  # the vector was not written again


def test_hidden_and_excluded_entries_are_left_out_counted_and_never_pruned(store, lite, tmp_path):
    photo = DEMO_IMAGES / "car_ferrari_red_01.jpg"
    for relative in ["keep.jpg", ".hidden.jpg", ".thumbnails/small.jpg", "raw/big.jpg", "x/thumbs/t.jpg", "x/kept.jpg"]:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(photo, tmp_path / relative)
    everything = index_folder(store, lite, tmp_path, link=False, rules=FileRules(include_hidden=True))
    assert everything.new == 6 and everything.left_out == 0

    rules = FileRules(exclude=("raw/*", "*/thumbs/*"))
    report = index_folder(store, lite, tmp_path, link=False, rules=rules, prune=True)

    assert report.total == 2 and report.left_out == 4  # .hidden.jpg, the .thumbnails folder, raw/big.jpg, x/thumbs/t.jpg
    assert "4 hidden or excluded files and folders left out" in report.summary()
    assert report.removed == 0 and len(store.paths()) == 6  # left out is not gone: their nodes stay

    asked = index_folder(store, lite, tmp_path, link=False, rules=replace(rules, prune_left_out=True), prune=True)
    assert asked.removed == 4 and sorted(store.paths()) == [str(tmp_path / "keep.jpg"), str(tmp_path / "x" / "kept.jpg")]


def seed(store, count: int, rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
    """`count` unit vectors stored with facts: one in 20 taken in 2021 (else 2015), one in 3 under /p/a/,
    one in 2 with a NIKON D750, one in 25 through an EF50mm f/1.8; returns the vectors and each one's facts."""
    store.ensure_schema(SPEC.space)
    vectors = rng.normal(size=(count, SPEC.space.dimensions)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    facts = [
        {
            "path": f"/p/{'a' if i % 3 == 0 else 'b'}/{i}.jpg",
            "taken": datetime(2021 if i % 20 == 0 else 2015, 6, 1, tzinfo=UTC),
            "camera": "NIKON D750" if i % 2 == 0 else "Canon EOS R5",
            "lens": "EF50mm f/1.8" if i % 25 == 0 else "RF24-70mm F2.8",
        }
        for i in range(count)
    ]
    records = [
        ImageRecord(f["path"], f"{i}.jpg", 0, 0, "", 0, 0, vectors[i], {k: v for k, v in f.items() if k != "path"})
        for i, f in enumerate(facts)
    ]
    for start in range(0, count, 500):
        store.upsert(SPEC.space, records[start : start + 500])
    return vectors, facts


FILTERS = [
    PhotoFilter.of(taken="2021-01-01..2021-12-31"),
    PhotoFilter.of(under="/p/a"),
    PhotoFilter.of(camera="nikon  d750"),
    PhotoFilter.of(taken="2021-01-01..", under="/p/a/", camera="NIKON D750"),
    PhotoFilter.of(lens="ef50mm  F/1.8"),
]


def exact(vectors, facts, query, keep, k):
    rows = [i for i, f in enumerate(facts) if keep(f)]
    scores = vectors[rows] @ query
    return [facts[rows[i]]["path"] for i in np.argsort(-scores)[:k]]


KEEPS = [
    lambda f: f["taken"].year == 2021,
    lambda f: f["path"].startswith("/p/a/"),
    lambda f: f["camera"] == "NIKON D750",
    lambda f: f["taken"].year == 2021 and f["path"].startswith("/p/a/") and f["camera"] == "NIKON D750",
    lambda f: f["lens"] == "EF50mm f/1.8",
]


@pytest.mark.parametrize("case", range(len(FILTERS)), ids=["taken", "under", "camera", "all three", "lens"])
def test_a_filtered_search_returns_k_of_the_best_passing_images_inside_the_index_or_after_it(store, case):
    rng = np.random.default_rng(case)
    vectors, facts = seed(store, 3000, rng)
    query = vectors[rng.integers(len(vectors))]
    want = exact(vectors, facts, query, KEEPS[case], 10)

    found = store.nearest(SPEC.space, query, 10, facts=FILTERS[case])
    after = store.nearest(SPEC.space, query, 10, facts=FILTERS[case], exact_limit=0)  # over-fetch, never exact

    assert len(found) == len(after) == 10
    assert all(KEEPS[case](facts[int(h.name.removesuffix(".jpg"))]) for h in [*found, *after])
    assert len({h.path for h in found} & set(want)) >= 9 and len({h.path for h in after} & set(want)) >= 9


def recorded_queries(store) -> list[tuple[str, dict]]:
    """Every read statement the store sends from now on, as sent (its names filled), with its parameters."""
    sent = []
    query = store._query

    def recording(template, names=None, /, **params):
        sent.append((store._cypher(template, names), params))
        return query(template, names, **params)

    store._query = recording
    return sent


def test_on_2026_the_photo_filter_runs_inside_the_vector_index_and_on_5_26_after_it(store):
    vectors, _ = seed(store, 200, np.random.default_rng(7))
    sent = recorded_queries(store)
    hits = store.nearest(SPEC.space, vectors[0], 5, facts=PhotoFilter.of(taken="2021-01-01..2021-12-31"))
    assert len(hits) == 5
    statement, params = sent[-1]
    operators = plan_operators(store.driver, statement, params)
    searches = [details for name, details in operators if name.startswith("NodeVectorIndexSearch")]
    if store.dialect.search_filter:
        assert store.filters_in_index(SPEC.space)
        assert searches and "taken >= $taken_from AND taken < $taken_until" in searches[0].split(" WHERE ", 1)[1]
    else:
        assert not store.filters_in_index(SPEC.space)
        assert not any("taken" in details for details in searches)
        assert "node.taken >= $taken_from" in statement


def test_an_index_made_without_the_filter_properties_falls_back_to_filtering_after_it_with_the_same_results(store):
    rng = np.random.default_rng(3)
    vectors, facts = seed(store, 2000, rng)
    query = vectors[5]
    photo_filter = PhotoFilter.of(camera="NIKON D750", under="/p/b")
    before = [h.path for h in store.nearest(SPEC.space, query, 10, facts=photo_filter)]
    index = store.index_name(SPEC.space)
    store.driver.execute_query(f"DROP INDEX {index}")
    config = store.dialect.index_configs(SPEC.space.dimensions, QUANTIZED)[0]  # as the release before made it
    store._write(CREATE_VECTOR_INDEX, {"index": index, "prop": SPEC.space.vector_property}, config=config)
    try:
        store.driver.execute_query("CALL db.awaitIndexes(300)")
        assert not store.filters_in_index(SPEC.space)
        after = [h.path for h in store.nearest(SPEC.space, query, 10, facts=photo_filter)]
    finally:
        store.driver.execute_query(f"DROP INDEX {index}")  # the next test's store makes the index of today
    want = exact(vectors, facts, query, lambda f: f["camera"] == "NIKON D750" and f["path"].startswith("/p/b/"), 10)
    assert len(after) == 10 and len(set(after) & set(want)) >= 9 and len(set(before) & set(want)) >= 9


def test_date_ranges_are_read_with_either_end_open_and_bad_ones_refused():
    assert parse_days("2021-01-01..2021-12-31") == (date(2021, 1, 1), date(2021, 12, 31))
    assert parse_days("2021-01-01..") == (date(2021, 1, 1), None)
    assert parse_days("..2019-12-31") == (None, date(2019, 12, 31))
    assert parse_days("2020-02-29") == (date(2020, 2, 29), date(2020, 2, 29))
    for bad in ["..", "2021", "2021-13-01..", "yesterday..today", "2021-02-01..2021-01-01"]:
        with pytest.raises(RetrievalError, match="date range"):
            PhotoFilter.of(taken=bad)
    assert PhotoFilter.of() is None


def readme_jq_example() -> tuple[list[str], list[str]]:
    """The README's one `retrieval ... | jq ...` line: the search's arguments and the jq command."""
    line = next(line for line in (PROJECT / "README.md").read_text().splitlines() if "| jq " in line)
    search, jq = line.split(" | ", 1)
    return shlex.split(search)[1:], shlex.split(jq)


def test_the_cli_filters_leaves_hidden_folders_out_and_prints_json_that_the_readmes_jq_example_reads(store, cli_env, tmp_path):
    photos = tmp_path / "photos"
    source = DEMO_IMAGES / "car_ferrari_red_01.jpg"
    for name, when in [
        ("new_a.jpg", "2021:07:14 18:02:33"),
        ("new_b.jpg", "2022:01:02 03:04:05"),
        ("old.jpg", "2019:03:02 10:00:00"),
    ]:
        photo_with_exif(source, photos / "trip" / name, {MAKE: "NIKON CORPORATION", MODEL: "NIKON D750", DATE_TIME: when})
    (photos / ".thumbnails").mkdir()
    shutil.copy(source, photos / ".thumbnails" / "small.jpg")
    indexed = run_cli("index", str(photos), "--no-link", env=cli_env)
    assert indexed.returncode == 0, indexed.stderr
    assert "3 new" in indexed.stdout and "1 hidden or excluded files and folders left out" in indexed.stdout

    arguments, jq = readme_jq_example()
    arguments[arguments.index("photo.jpg")] = str(photos / "trip" / "old.jpg")
    found = run_cli(*arguments, env=cli_env)
    assert found.returncode == 0, found.stderr
    rows = json.loads(found.stdout)
    assert [Path(r["path"]).name for r in rows] and {Path(r["path"]).name for r in rows} == {"new_a.jpg", "new_b.jpg"}
    assert {"path", "score", "taken", "camera", "width", "height"} <= set(rows[0]) and rows[0]["camera"] == "NIKON D750"
    printed = subprocess.run(jq, input=found.stdout, capture_output=True, text=True, check=True).stdout.splitlines()
    assert [line.split()[1][:4] for line in printed] == [r["taken"][:4] for r in rows] and all(
        line.endswith(".jpg") for line in printed
    )

    camera = run_cli("search", str(photos / "trip" / "old.jpg"), "--camera", "canon", "--json", env=cli_env)
    assert (camera.returncode, json.loads(camera.stdout)) == (1, [])
    stats = json.loads(run_cli("stats", "--json", env=cli_env).stdout)
    assert stats["images"] == 3
    refused = run_cli("search", str(source), "--taken", "2021-02-30..", env=cli_env)
    assert refused.returncode == 2 and "not a date range" in refused.stderr and "Traceback" not in refused.stderr


def test_the_apps_search_tab_filters_its_grid_and_its_search_by_camera(store, lite, app_env, tmp_path):
    source = DEMO_IMAGES / "car_ferrari_red_01.jpg"
    cameras = [
        ("nikon_a.jpg", "NIKON D750"),
        ("nikon_b.jpg", "NIKON D750"),
        ("nikon_c.jpg", "nikon d750"),
        ("canon.jpg", "Canon EOS R5"),
    ]
    for name, camera in cameras:
        photo_with_exif(source, tmp_path / name, {MAKE: camera.split()[0], MODEL: camera})
    index_folder(store, lite, tmp_path, link=False)
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.toggle(key="facts_on").set_value(True).run()
    assert at.selectbox(key="facts_camera").options == ["Canon EOS R5", "NIKON D750"]  # two spellings: once, as most say
    at.selectbox(key="facts_camera").set_value("NIKON D750").run()

    assert any(m.value.startswith("**3 images in the catalogue**") for m in at.markdown)
    picks = [b for b in at.button if str(b.key).startswith("search:")]
    assert sorted(Path(str(b.key).removeprefix("search:")).name for b in picks) == ["nikon_a.jpg", "nikon_b.jpg", "nikon_c.jpg"]
    next(b for b in picks if str(b.key).endswith("nikon_a.jpg")).click().run()
    assert not at.exception
    captions = " ".join(shown(c.value) for c in [*at.caption, *at.markdown])
    assert "nikon_b.jpg" in captions and "canon.jpg" not in captions


def test_the_lens_is_kept_from_exif_and_search_lens_finds_it_in_any_case_and_prints_it(store, cli_env, tmp_path):
    source = DEMO_IMAGES / "car_ferrari_red_01.jpg"
    for name, lens in [("zoom.jpg", "EF24-105mm f/4L IS USM"), ("prime.jpg", "RF50mm F1.8 STM"), ("none.jpg", None)]:
        photo_with_exif(source, tmp_path / name, {MAKE: "Canon", MODEL: "Canon EOS R5"}, {LENS_MODEL: lens} if lens else {})
    indexed = run_cli("index", str(tmp_path), "--no-link", env=cli_env)
    assert indexed.returncode == 0, indexed.stderr
    assert node(store, tmp_path / "zoom.jpg")["lens"] == "EF24-105mm f/4L IS USM" and "lens" not in node(
        store, tmp_path / "none.jpg"
    )

    found = run_cli("search", str(tmp_path / "none.jpg"), "--lens", "ef24-105mm  F/4L is usm", "--json", env=cli_env)
    assert found.returncode == 0, found.stderr
    rows = json.loads(found.stdout)
    assert [(Path(r["path"]).name, r["lens"], r["camera"]) for r in rows] == [
        ("zoom.jpg", "EF24-105mm f/4L IS USM", "Canon EOS R5")
    ]
    nothing = run_cli("search", str(tmp_path / "none.jpg"), "--lens", "Summilux", "--json", env=cli_env)
    assert (nothing.returncode, json.loads(nothing.stdout)) == (1, [])
    empty = run_cli("search", str(tmp_path / "none.jpg"), "--lens", " ", env=cli_env)
    assert empty.returncode == 2 and "The lens to filter by is empty" in empty.stderr and "Traceback" not in empty.stderr


def test_a_database_indexed_before_the_lens_was_declared_gets_it_on_the_next_run_without_reembedding(store, lite, tmp_path):
    photo = photo_with_exif(
        DEMO_IMAGES / "car_ferrari_red_01.jpg",
        tmp_path / "a.jpg",
        {MAKE: "Canon", MODEL: "EOS 80D"},
        {LENS_MODEL: "EF-S18-135mm"},
    )
    index_folder(store, lite, tmp_path, link=False)
    # As the release before left it: taken and camera read (its marker, 1), no lens, no range index on it.
    store.driver.execute_query("MATCH (i:Image) REMOVE i.lens, i.lens_key SET i.facts = 1")
    store.driver.execute_query("DROP INDEX image_lens_key")
    before = node(store, photo)

    report = index_folder(store, lite, tmp_path, link=False)

    after = node(store, photo)
    assert (report.new, report.updated, report.unchanged) == (0, 0, 1)
    assert (after["lens"], after["lens_key"], after["camera"]) == ("EF-S18-135mm", "ef-s18-135mm", "Canon EOS 80D")
    assert after["indexed_at"] == before["indexed_at"]  # the vector was not written again
    indexes = [r["name"] for r in store.driver.execute_query("SHOW RANGE INDEXES YIELD name RETURN name").records]
    assert "image_lens_key" in indexes
    assert [
        h.path
        for h in store.nearest(SPEC.space, store.vector_of(SPEC.space, str(photo)), 1, facts=PhotoFilter.of(lens="ef-s18-135MM"))
    ] == [str(photo)]


def test_a_vector_index_made_before_the_lens_was_declared_filters_by_lens_after_it_with_the_same_results(store):
    rng = np.random.default_rng(4)
    vectors, facts = seed(store, 2000, rng)
    query = vectors[11]
    by_lens = PhotoFilter.of(lens="EF50mm f/1.8")
    assert store.filters_in_index(SPEC.space) == store.dialect.search_filter  # today's index: the lens inside it on 2026.x
    index = store.index_name(SPEC.space)
    store.driver.execute_query(f"DROP INDEX {index}")
    config = store.dialect.index_configs(SPEC.space.dimensions, QUANTIZED)[0]
    older = CREATE_VECTOR_INDEX  # as the release before made it: on 2026.x with taken, path and camera_key only
    if store.dialect.search_filter:
        older = older.replace(" OPTIONS", " WITH [i.taken, i.path, i.camera_key] OPTIONS")
    store._write(older, {"index": index, "prop": SPEC.space.vector_property}, config=config)
    try:
        store.driver.execute_query("CALL db.awaitIndexes(300)")
        assert not store.filters_in_index(SPEC.space)
        after = [h.path for h in store.nearest(SPEC.space, query, 10, facts=by_lens)]
        if store.dialect.search_filter:  # the parts the older index was made with still run inside it
            sent = recorded_queries(store)
            both = PhotoFilter.of(taken="2021-01-01..", lens="EF50mm f/1.8")
            kept = store.nearest(SPEC.space, query, 5, facts=both, exact_limit=0)  # over-fetch: the index is asked
            assert kept and all(facts[int(h.name.removesuffix(".jpg"))]["lens"] == "EF50mm f/1.8" for h in kept)
            statement, params = sent[-1]
            searches = [d for n, d in plan_operators(store.driver, statement, params) if n.startswith("NodeVectorIndexSearch")]
            assert searches and "taken >= $taken_from" in searches[0] and "lens" not in searches[0]
    finally:
        store.driver.execute_query(f"DROP INDEX {index}")  # the next test's store makes the index of today
    want = exact(vectors, facts, query, lambda f: f["lens"] == "EF50mm f/1.8", 10)
    assert len(after) == 10 and len(set(after) & set(want)) >= 9


def test_the_apps_search_tab_offers_the_catalogues_lenses_and_filters_by_one(store, lite, app_env, tmp_path):
    source = DEMO_IMAGES / "car_ferrari_red_01.jpg"
    for name, lens in [("zoom.jpg", "EF24-105mm f/4L IS USM"), ("prime.jpg", "RF50mm F1.8 STM"), ("none.jpg", None)]:
        photo_with_exif(source, tmp_path / name, {MAKE: "Canon", MODEL: "Canon EOS R5"}, {LENS_MODEL: lens} if lens else {})
    index_folder(store, lite, tmp_path, link=False)
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.toggle(key="facts_on").set_value(True).run()
    assert at.selectbox(key="facts_lens").options == ["EF24-105mm f/4L IS USM", "RF50mm F1.8 STM"]
    at.selectbox(key="facts_lens").set_value("RF50mm F1.8 STM").run()

    assert not at.exception
    picks = [b for b in at.button if str(b.key).startswith("search:")]
    assert [Path(str(b.key).removeprefix("search:")).name for b in picks] == ["prime.jpg"]
