"""Duplicate tiers on real copies of real photos: a resized copy is the same picture, a shifted crop a
near-duplicate, another photo of the same thing at most similar; groups come a page at a time with what
their files differ in, through the library and the CLI (text, JSON, paths), and nothing is deleted."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

from retrieval.duplicates import NEAR_DUPLICATE, duplicate_page, outlines, tier_named
from retrieval.indexing import index_folder
from tests.support.cli import run_cli
from tests.support.copies import make_tiered_copies

CLASSES = ["accordion", "bonsai", "cup", "dalmatian", "lamp", "llama"]
# Classes whose first photo's shifted crop scores inside the near tier: a crop can also score as the
# same picture or below near-duplicates (docs/QUALITY.md, "Duplicate tiers").
CROPPED = ["bonsai", "lamp", "barrel"]


def groups_of(store, lite, tier: str) -> list[set[str]]:
    return [set(g.paths) for g in duplicate_page(store, lite.spec, tier_named(tier), per_page=None).groups]


def test_a_resized_copy_is_the_same_picture_a_crop_a_near_duplicate_and_another_photo_at_most_similar(store, lite, tmp_path):
    built = make_tiered_copies(tmp_path / "photos", CROPPED, per_class=8, copied_every=8, variants=["resized75", "shifted"])
    index_folder(store, lite, tmp_path / "photos")  # 24 photos, 3 of them with a resized copy and a shifted crop

    assert sorted(groups_of(store, lite, "same"), key=min) == sorted(built.same, key=min)
    assert sorted(groups_of(store, lite, "near"), key=min) == sorted(built.near, key=min)
    similar = groups_of(store, lite, "similar")
    assert all(any(near <= group for group in similar) for near in built.near)  # a tier holds the closer ones
    assert all(len({built.labels[p] for p in group}) == 1 for group in similar)
    assert any(len(group) > 3 for group in similar)  # other photos of the same thing join only here


def test_similar_links_never_chain_a_group_wider_than_one_centre_but_copies_of_copies_stay_together():
    chain = [("a", "b", 0.70), ("b", "c", 0.71), ("c", "d", 0.72), ("d", "e", 0.73), ("e", "f", 0.74)]  # like, like, ...
    copies = [("c", "c2", 0.97), ("c2", "c3", 0.96), ("c3", "c4", 0.95)]  # a copy of a copy of a copy of c
    groups = [set(g.paths) for g in outlines(chain + copies, transitive_from=NEAR_DUPLICATE)]

    # Every image is linked to two others: e, with the closest links, is the first centre (d and f join
    # it), then c with its copies, a unit (b joins it); a is left alone, never joined to f through five links.
    assert groups == [{"b", "c", "c2", "c3", "c4"}, {"d", "e", "f"}]
    assert all(min(g.matches.values()) == g.lowest for g in outlines(chain + copies, transitive_from=NEAR_DUPLICATE))
    assert [set(g.paths) for g in outlines(chain + copies)] == [{"a", "b", "c", "c2", "c3", "c4", "d", "e", "f"}]  # components


def test_groups_come_largest_first_a_page_at_a_time_with_what_their_files_differ_in(store, lite, tmp_path):
    built = make_tiered_copies(tmp_path / "photos", CLASSES[:3], per_class=5, copied_every=5, variants=["resized75", "quality40"])
    biggest = sorted(built.same, key=min)[0]
    extra = Path(min(biggest)).with_name("extra_resized90.jpg")
    with Image.open(min(biggest)) as original:
        original.resize((original.width * 9 // 10, original.height * 9 // 10)).save(extra, quality=95)  # a group of four
    index_folder(store, lite, tmp_path / "photos")
    same = tier_named("same", 0.9)

    first, second, beyond = (duplicate_page(store, lite.spec, same, page, per_page=2) for page in (1, 2, 3))
    assert (first.total_groups, first.total_images, first.pages) == (3, 10, 2)
    assert [len(g.members) for g in first.groups] == [4, 3] and [g.number for g in first.groups] == [1, 2]
    assert set(first.groups[0].paths) == biggest | {str(extra)}
    assert [g.number for g in second.groups] == [3] and beyond.groups == [] and beyond.total_groups == 3

    group = first.groups[0]
    for member in group.members:
        with Image.open(member.path) as photo:
            assert (member.width, member.height) == photo.size
        assert member.size == Path(member.path).stat().st_size
        assert member.dated_by == "modified"
        assert member.date == datetime.fromtimestamp(Path(member.path).stat().st_mtime_ns / 1e9, tz=UTC)
    pixels, sizes, _ = group.differences()
    full, middle, smallest = sorted({(m.width, m.height) for m in group.members}, reverse=True)
    assert pixels == f"pixels: {full[0]}x{full[1]}, {middle[0]}x{middle[1]}, {smallest[0]}x{smallest[1]}"
    assert sizes.startswith("bytes: ")


def test_the_date_a_photo_was_taken_is_shown_instead_of_the_files_time(store, lite, driver, tmp_path):
    built = make_tiered_copies(tmp_path / "photos", ["bonsai"], per_class=1, copied_every=1, variants=["resized75"])
    index_folder(store, lite, tmp_path / "photos")
    taken = sorted(built.same[0])[0]
    driver.execute_query("MATCH (i:Image {path: $path}) SET i.taken = localdatetime('2019-07-14T09:30:00')", path=taken)

    members = {m.path: m for m in duplicate_page(store, lite.spec, tier_named("same")).groups[0].members}
    assert (members[taken].dated_by, members[taken].date) == ("taken", datetime(2019, 7, 14, 9, 30))
    assert members[taken].facts().endswith("taken 2019-07-14 09:30")
    assert {m.dated_by for p, m in members.items() if p != taken} == {"modified"}


def test_the_cli_lists_tiers_as_text_json_and_paths_and_deletes_nothing(store, lite, driver, cli_env, tmp_path):
    built = make_tiered_copies(tmp_path / "photos", CROPPED, per_class=5, copied_every=5, variants=["resized75", "shifted"])
    index_folder(store, lite, tmp_path / "photos")
    files = sorted((tmp_path / "photos").iterdir())

    listed = run_cli("duplicates", "--tier", "same", env=cli_env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("3 groups of same picture (cosine >= 0.94), 6 images, largest first:")
    assert listed.stdout.count("pixels: ") == 3 and "best match" in listed.stdout

    near = run_cli("duplicates", "--tier", "near", "--json", env=cli_env)
    assert near.returncode == 0, near.stderr
    groups = json.loads(near.stdout)
    assert sorted((set(m["path"] for m in g["members"]) for g in groups), key=min) == sorted(built.near, key=min)
    assert {g["tier"] for g in groups} == {"near"} and [g["group"] for g in groups] == [1, 2, 3]
    assert all(0.89 <= g["score"]["lowest"] <= g["score"]["best"] <= 1 for g in groups)
    member = groups[0]["members"][0]
    assert set(member) == {"path", "match", "width", "height", "size", "date", "dated_by"}
    assert datetime.fromisoformat(member["date"]) == datetime.fromtimestamp(Path(member["path"]).stat().st_mtime_ns / 1e9, tz=UTC)

    exported = run_cli("duplicates", "--tier", "near", "--group", "2", "--paths", env=cli_env)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.splitlines() == [m["path"] for m in groups[1]["members"]]
    paged = run_cli("duplicates", "--tier", "near", "--page", "1", "--paths", env=cli_env)
    assert paged.stdout.split("\n\n")[0].splitlines() == [m["path"] for m in groups[0]["members"]]

    strict = run_cli("duplicates", "--threshold", "0.9999", env=cli_env)
    assert strict.returncode == 0 and "No near-duplicates at cosine >= 0.9999" in strict.stdout
    assert sorted((tmp_path / "photos").iterdir()) == files
    assert driver.execute_query("MATCH (i:Image) RETURN count(i) AS n").records[0]["n"] == len(files)
