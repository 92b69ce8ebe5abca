"""Queries beyond one whole photo, through the library and the CLI on the demo photos: several
examples (positives and negatives) and a region of the photo."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.cli import main
from retrieval.examples import Example, example_vectors, search_examples
from retrieval.indexing import index_folder
from retrieval.region import Box
from retrieval.search import search_file, search_image, search_indexed
from retrieval.vision import decode as decode_module
from retrieval.vision.decode import Picture, decode_picture, load_image
from tests.support.cli import run_cli
from tests.support.paths import DEMO_IMAGES

RED, YELLOW, BLACK = (str(DEMO_IMAGES / f"car_ferrari_{c}.jpg") for c in ("red_01", "yellow_02", "black_03"))


def paths_of(output: str) -> list[str]:
    return [row.split()[2] for row in output.splitlines()[1:] if row.split()[0].isdigit()]


def test_several_indexed_examples_rank_by_their_combination_and_leave_themselves_out(demo_store, lite):
    store = demo_store
    query = [Example("red", path=RED), Example("yellow", path=YELLOW), Example("black", positive=False, path=BLACK)]
    positives, negatives = example_vectors(store, lite, query)
    hits = search_examples(store, lite.spec, positives, negatives, 8, exclude={RED, YELLOW, BLACK})
    assert len(hits) == 8 and not {RED, YELLOW, BLACK} & {h.path for h in hits}
    assert hits != search_examples(store, lite.spec, positives, [], 8, exclude={RED, YELLOW})  # the negative counts
    alone = search_examples(store, lite.spec, positives[:1], [], 8, exclude={RED})
    assert alone == search_indexed(store, lite.spec, RED, 8)  # one example is the one-photo search


def test_the_cli_searches_like_two_photos_not_like_a_third_and_by_a_box(demo_store, lite, cli_env):
    store = demo_store
    found = run_cli("search", RED, YELLOW, "--not", BLACK, "-k", "5", env=cli_env)
    assert found.returncode == 0, found.stderr
    listed = paths_of(found.stdout)
    assert len(listed) == 5 and not {RED, YELLOW, BLACK} & set(listed)

    boxed = run_cli("search", RED, "--box", "100,100,400,300", "-k", "5", "--plain", env=cli_env)
    assert boxed.returncode == 0, boxed.stderr
    region = Box(100, 100, 400, 300).crop(load_image(Path(RED)))
    assert paths_of(boxed.stdout) == [h.path for h in search_image(store, lite, region, 5, plain=True)]
    assert paths_of(boxed.stdout) != [h.path for h in search_file(store, lite, Path(RED), k=5, plain=True)]


def test_the_cli_leaves_its_example_out_of_the_expansion_whatever_route_its_path_takes(store, lite, cli_env, tmp_path):
    photos, link = tmp_path / "photos", tmp_path / "link"
    photos.mkdir()
    for photo in sorted(DEMO_IMAGES.glob("*.jpg")):
        (photos / photo.name).write_bytes(photo.read_bytes())
    link.symlink_to(photos)
    index_folder(store, lite, link)  # stored as link/..., the route given
    stored = str(link / Path(RED).name)
    expected = [(h.path, f"{h.score:.3f}") for h in search_indexed(store, lite.spec, stored, 5)]
    for route in (stored, str(link / ".." / "link" / Path(RED).name), str(photos / ".." / "link" / Path(RED).name)):
        found = run_cli("search", route, "-k", "5", env=cli_env)
        assert found.returncode == 0, found.stderr
        rows = [row.split() for row in found.stdout.splitlines()[1:] if row.split()[0].isdigit()]
        assert [(path, score) for _, score, path in rows] == expected, route


@pytest.mark.usefixtures("app_env")
def test_a_query_photo_that_is_not_indexed_is_decoded_once_by_the_cli(store, lite, monkeypatch, capsys, tmp_path):
    index_folder(store, lite, DEMO_IMAGES)
    query = tmp_path / "query.jpg"  # the red car's bytes at a path that is not indexed
    query.write_bytes(Path(RED).read_bytes())
    monkeypatch.setenv("RETRIEVAL_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    decoded: list[str] = []

    def counted(data: bytes, name: str) -> Picture:
        decoded.append(name)
        return decode_picture(data, name)

    monkeypatch.setattr(decode_module, "decode_picture", counted)
    assert main(["search", str(query), "-k", "5", "--plain"]) == 0
    assert decoded == [str(query)]
    printed = capsys.readouterr().out
    assert paths_of(printed) == [h.path for h in search_file(store, lite, Path(RED), k=5, plain=True)]
