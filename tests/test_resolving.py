"""Duplicates resolved without deleting, on real copies of real photos through the command line: one copy
kept by a stated rule, the others moved into a hidden review folder with a manifest and out of the
catalogue, undone with nothing embedded again; and "not duplicates" said once, kept through index,
link, --reembed and unmarked or undone at will."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from retrieval.duplicates import NEAR_DUPLICATE, Group, Member, duplicate_page, outlines, tier_named
from retrieval.indexing import index_folder
from retrieval.resolving import REVIEW_FOLDER, keeper, why_kept
from tests.support.cli import run_cli
from tests.support.copies import make_tiered_copies

CLASSES = ["bonsai", "lamp", "barrel"]
VECTOR = "embedding_efficientnet_lite0"


def member(path: str, width: int, height: int, size: int, day: int | None) -> Member:
    when = datetime(2020, 1, day, tzinfo=UTC) if day else None
    return Member(path, 0.99, width, height, size, when, "taken" if day else "")


def test_the_copy_kept_has_the_most_pixels_then_the_largest_file_then_the_earliest_date_then_the_shortest_path():
    big = member("/p/a/photo_copy.jpg", 4000, 3000, 2_000_000, 5)
    heavier = member("/p/photo_resaved.jpg", 2000, 1500, 3_000_000, 3)
    old_small = member("/p/old.jpg", 1000, 750, 300_000, 1)
    group = Group("same", 1, 0.95, 0.99, [big, heavier, old_small])

    assert keeper(group) == big and why_kept(group, big) == "most pixels (4000x3000)"
    assert keeper(group, "largest") == heavier and keeper(group, "oldest") == old_small and keeper(group, "newest") == big
    twin = member("/p/photo.jpg", 4000, 3000, 2_000_000, 5)  # the same facts: the shorter path wins
    tied = Group("same", 1, 0.95, 0.99, [big, twin])
    assert keeper(tied) == twin and why_kept(tied, twin) == "shortest path, after a tie"
    undated = Group("same", 1, 0.9, 0.9, [member("/p/x.jpg", 10, 10, 5, None), member("/p/y.jpg", 10, 10, 5, 2)])
    assert keeper(undated, "oldest").path == "/p/y.jpg"  # a file without a date is never the oldest


def test_images_marked_not_duplicates_are_never_put_in_one_group_by_their_link_nor_by_a_centre_they_share():
    links = [("a", "b", 0.97), ("a", "c", 0.70), ("b", "c", 0.70), ("c", "d", 0.70)]
    assert [set(g.paths) for g in outlines(links, NEAR_DUPLICATE)] == [{"a", "b", "c", "d"}]
    apart = [set(g.paths) for g in outlines(links, NEAR_DUPLICATE, [["a", "b"]])]
    assert apart == [{"a", "c", "d"}]  # c, the centre, takes the closer of the two; b is left alone


def image_nodes(driver) -> dict[str, list[float]]:
    rows = driver.execute_query(f"MATCH (i:Image) RETURN i.path AS path, i.`{VECTOR}` AS vector").records
    return {r["path"]: r["vector"] for r in rows}


def sha(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_a_resolution_moves_the_other_copies_into_a_hidden_review_folder_and_undo_puts_files_and_nodes_back(
    store, lite, driver, cli_env, tmp_path
):
    folder = tmp_path / "photos"
    built = make_tiered_copies(folder / "trip", CLASSES, per_class=2, copied_every=2, variants=["resized75"])
    index_folder(store, lite, folder)
    before = image_nodes(driver)
    hashes = {p: sha(p) for p in before}
    originals = {min(g, key=len) for g in built.same}  # each original is larger than its resized copy
    copies = {p for g in built.same for p in g} - originals

    dry = run_cli("duplicates", "--tier", "same", "--resolve", "--dry-run", env=cli_env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("Would set aside 3 files of 3 groups into ") and len(dry.stdout.splitlines()) == 4
    assert all(Path(p).exists() for p in before) and image_nodes(driver) == before

    done = run_cli("duplicates", "--tier", "same", "--resolve", env=cli_env)
    assert done.returncode == 0, done.stderr
    review = folder / "trip" / REVIEW_FOLDER
    (manifest,) = review.glob("*.jsonl")
    assert f"Set aside 3 files of 3 groups into {review / manifest.stem}" in done.stdout
    entries = [line for line in map(json.loads, manifest.read_text().splitlines()) if "from" in line]
    assert {e["from"] for e in entries} == copies
    for entry in entries:
        assert set(entry) == {"from", "to", "size", "sha256", "group", "keeper", "time"}
        assert entry["keeper"] in originals and entry["to"] == str(review / manifest.stem / Path(entry["from"]).name)
        assert not Path(entry["from"]).exists() and sha(entry["to"]) == entry["sha256"] == hashes[entry["from"]]
        assert entry["size"] == Path(entry["to"]).stat().st_size
    assert set(image_nodes(driver)) == set(before) - copies
    assert duplicate_page(store, lite.spec, tier_named("same")).total_groups == 0

    reindexed = run_cli("index", str(folder), env=cli_env)  # the review folder is hidden: left out
    assert reindexed.returncode == 0 and "0 new" in reindexed.stdout, reindexed.stderr
    assert set(image_nodes(driver)) == set(before) - copies

    undone = run_cli("duplicates", "--undo", env=cli_env)  # the last resolution
    assert undone.returncode == 0, undone.stderr
    assert "Put back 3 files and their nodes" in undone.stdout
    assert {p: sha(p) for p in before} == hashes and not list((review / manifest.stem).rglob("*.jpg"))
    assert image_nodes(driver) == before  # the same vectors: nothing embedded again
    regrouped = {frozenset(g.paths) for g in duplicate_page(store, lite.spec, tier_named("same")).groups}
    assert regrouped == set(map(frozenset, built.same))
    again = run_cli("duplicates", "--undo", str(manifest), env=cli_env)
    assert again.returncode == 1 and "was undone already" in again.stderr


def test_undo_never_overwrites_a_file_that_is_at_the_path_now_and_keeps_that_copy_set_aside(
    store, lite, driver, cli_env, tmp_path
):
    folder = tmp_path / "photos"
    built = make_tiered_copies(folder, CLASSES[:1], per_class=1, copied_every=1, variants=["resized75"])
    index_folder(store, lite, folder)
    (group,) = built.same
    copy = max(group, key=len)
    moved_to = tmp_path / "review"
    done = run_cli("duplicates", "--tier", "same", "--group", "1", "--resolve", "--move-to", str(moved_to), env=cli_env)
    assert done.returncode == 0, done.stderr
    Path(copy).write_bytes(b"a new file under the old name")

    undone = run_cli("duplicates", "--undo", env=cli_env)
    assert undone.returncode == 1 and f"another file is at {copy} now" in undone.stdout
    assert Path(copy).read_bytes() == b"a new file under the old name"
    (kept,) = moved_to.rglob("*.jpg")
    assert kept.name == Path(copy).name and copy not in image_nodes(driver)


def test_not_duplicates_stays_said_through_index_link_and_reembed_until_unmarked_or_undone(
    store, lite, driver, cli_env, tmp_path
):
    folder = tmp_path / "photos"
    built = make_tiered_copies(folder, CLASSES[:2], per_class=1, copied_every=1, variants=["resized75"])
    index_folder(store, lite, folder)
    first, second = sorted(built.same, key=min)

    def grouped() -> list[set[str]]:
        return [
            set(g.paths)
            for name in ("same", "near", "similar")
            for g in duplicate_page(store, lite.spec, tier_named(name), per_page=None).groups
        ]

    assert first in grouped()
    marked = run_cli("duplicates", "--not-duplicates", *sorted(first), env=cli_env)
    assert marked.returncode == 0 and "Marked 2 images as not duplicates" in marked.stdout, marked.stderr
    assert not any(len(g & first) > 1 for g in grouped()) and second in grouped()

    os.utime(min(first), ns=(1, 1))  # a new time: read again
    for command in (["index", str(folder)], ["link"], ["index", str(folder), "--reembed"]):
        result = run_cli(*command, env=cli_env)
        assert result.returncode == 0, result.stderr
        assert not any(len(g & first) > 1 for g in grouped())
    assert image_nodes(driver).keys() == set(built.labels)

    unmarked = run_cli("duplicates", "--unmark", *sorted(first), env=cli_env)
    assert unmarked.returncode == 0 and "Forgot 1 'not duplicates' marks." in unmarked.stdout
    assert first in grouped()
    run_cli("duplicates", "--not-duplicates", *sorted(second), env=cli_env)
    assert second not in grouped()
    undone = run_cli("duplicates", "--undo", env=cli_env)  # the last action was the mark
    assert undone.returncode == 0 and "Forgot the mark 'not duplicates' of 2 images" in undone.stdout
    assert second in grouped()


def test_marking_or_undoing_refuses_what_is_not_there_in_one_line(store, lite, cli_env, tmp_path):
    nothing = run_cli("duplicates", "--undo", env=cli_env)
    assert nothing.returncode == 1 and nothing.stderr.strip().endswith("Nothing to undo: no resolution or mark is in force.")
    one = run_cli("duplicates", "--not-duplicates", str(tmp_path / "a.jpg"), env=cli_env)
    assert one.returncode == 1 and "at least two" in one.stderr
    unknown = run_cli("duplicates", "--not-duplicates", str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg"), env=cli_env)
    assert unknown.returncode == 1 and "Not in the catalogue" in unknown.stderr and "Traceback" not in unknown.stderr
    stray = run_cli("duplicates", "--dry-run", env=cli_env)
    assert stray.returncode == 1 and "--dry-run go with --resolve" in stray.stderr
