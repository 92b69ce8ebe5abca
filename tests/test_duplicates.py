"""Near-duplicate groups on real photos: altered copies (re-encoded, halved, cropped, mirrored)
group with their original and with nothing else, through the library and the CLI."""

from __future__ import annotations

from retrieval.duplicates import duplicate_groups
from retrieval.indexing import index_folder
from tests.support.cli import run_cli
from tests.support.photos import make_near_duplicates

CLASSES = ["accordion", "bonsai", "cup", "dalmatian", "lamp", "llama"]


def test_altered_copies_group_with_their_original_and_distinct_photos_do_not(store, lite, cli_env, tmp_path):
    folder = tmp_path / "photos"
    built = make_near_duplicates(folder, CLASSES, per_class=10, copied_every=10)  # 60 photos, 6 with 4 copies each
    report = index_folder(store, lite, folder)
    assert report.new == 60 + 6 * 4

    groups = duplicate_groups(store, lite.spec)
    assert sorted(map(set, (g.paths for g in groups)), key=min) == sorted(built, key=min)
    assert all(len(g.paths) == 5 and g.links == sorted(g.links, key=lambda link: -link[2]) for g in groups)

    listed = run_cli("duplicates", env=cli_env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("6 groups of near-duplicates (cosine >= 0.89), largest first:")
    assert listed.stdout.count("images, cosine") == 6
    assert all(path in listed.stdout for group in built for path in group)
    strict = run_cli("duplicates", "--threshold", "0.9999", env=cli_env)
    assert strict.returncode == 0 and "No near-duplicates at cosine >= 0.9999" in strict.stdout
