"""A database made by the previous release keeps working: searches run on it before anything else,
and the first `index` removes what the new design no longer uses (the blended vectors, their index,
the link markers), renames its fingerprint, which named the precision, to one every admitted
precision shares, says so, and leaves the graph a fresh run gives, nothing re-embedded."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest

from retrieval.core.settings import PRECISION_ENV
from retrieval.duplicates import duplicate_page, tier_named
from retrieval.indexing import index_folder
from retrieval.neo4j.store import ImageStore
from retrieval.search import search_file
from retrieval.vision.decode import load_image
from tests.support.cli import run_cli
from tests.support.graph_checks import (
    assert_every_close_pair_is_linked,
    assert_links_are_the_exact_nearest_neighbours,
    assert_lists_are_exact_for,
)
from tests.support.paths import DEMO_IMAGES, demo_folders
from tests.support.server import database_snapshot

# The statements the previous release ran (retrieval/neo4j/{schema,images,links}.py at 63ca842), with
# its names filled in for EfficientNet-Lite0 on the Image label.
OLD_INDEX = "CREATE VECTOR INDEX `{name}` IF NOT EXISTS FOR (i:Image) ON i.`{prop}` OPTIONS {{indexConfig: $config}}"
OLD_SPACE = """
MERGE (s:VectorSpace {index: $index})
SET s.model = $model, s.dimensions = $dimensions, s.fingerprint = coalesce(s.fingerprint, $fingerprint)
"""
OLD_UPSERT = """
UNWIND $rows AS row
MERGE (i:Image {path: row.path})
SET i.name = row.name, i.size = row.size, i.mtime_ns = row.mtime_ns, i.sha256 = row.sha256,
    i.width = row.width, i.height = row.height, i.indexed_at = datetime(), i.embedding_efficientnet_lite0_sha256 = row.sha256
WITH i, row
CALL db.create.setNodeVectorProperty(i, 'embedding_efficientnet_lite0', row.vector)
"""
OLD_LINKS = """
UNWIND $rows AS row
MATCH (i:Image {path: row.path})
CALL (i) { MATCH (i)-[old:SIMILAR_TO {model: $model}]->() DELETE old }
SET i.linked_efficientnet_lite0 = coalesce(i.embedding_efficientnet_lite0_sha256, i.sha256),
    i.linked_efficientnet_lite0_count = size(row.neighbours),
    i.embedding_efficientnet_lite0_blended_norm = row.norm, i.linked_efficientnet_lite0_floor = row.floor
WITH i, row
CALL db.create.setNodeVectorProperty(i, 'embedding_efficientnet_lite0_blended', row.blended)
WITH i, row
UNWIND row.neighbours AS neighbour
MATCH (other:Image {path: neighbour.path})
CREATE (i)-[:SIMILAR_TO {model: $model, score: neighbour.score}]->(other)
"""
OLD_PROPERTIES = [
    "embedding_efficientnet_lite0_blended",
    "embedding_efficientnet_lite0_blended_norm",
    "linked_efficientnet_lite0_count",
    "linked_efficientnet_lite0_floor",
]


def old_fingerprint(lite) -> str:
    """The previous release's fingerprint of `lite`'s vectors, which named their precision."""
    return next(old for old, precision in lite.former_fingerprints.items() if precision == lite.runtime.precision)


@pytest.fixture
def old_database(store: ImageStore, lite, tmp_path):
    """The 34 demo photos indexed and linked as the previous release left them."""
    folder = tmp_path / "photos"
    shutil.copytree(DEMO_IMAGES, folder, ignore=shutil.ignore_patterns("*.md", "*.csv"))
    photos = sorted(folder.glob("*.jpg"))
    spec, driver, fingerprint = lite.spec, store.driver, old_fingerprint(lite)
    store._query("MATCH (n) RETURN count(n) AS n")  # the dialect, asked once
    driver.execute_query("CREATE CONSTRAINT image_path_unique IF NOT EXISTS FOR (i:Image) REQUIRE i.path IS UNIQUE")
    config = store.dialect.index_configs(spec.dimensions, True)[0]
    for name, prop in (
        ("image_efficientnet_lite0", "embedding_efficientnet_lite0"),
        ("image_efficientnet_lite0_blended", f"{spec.space.vector_property}_blended"),
    ):
        driver.execute_query(OLD_INDEX.format(name=name, prop=prop), config=config)
        driver.execute_query(OLD_SPACE, index=name, model=spec.name, dimensions=spec.dimensions, fingerprint=fingerprint)
    vectors = lite.embed([load_image(p) for p in photos])
    rows = []
    for photo, vector in zip(photos, vectors, strict=True):
        stat, image = photo.stat(), load_image(photo)
        sha = hashlib.sha256(photo.read_bytes()).hexdigest()
        row = {"path": str(photo), "name": photo.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha}
        rows.append({**row, "width": image.width, "height": image.height, "vector": vector.tolist()})
    driver.execute_query(OLD_UPSERT, rows=rows)
    lists = []
    for i, vector in enumerate(vectors):
        scores = vectors @ vector
        nearest = [j for j in np.argsort(-scores) if j != i][:10]
        blended = vector + sum(max(float(scores[j]), 0) ** 3 * vectors[j] for j in nearest)
        neighbours = [{"path": str(photos[j]), "score": float(scores[j])} for j in nearest]
        lists.append(
            {
                "path": str(photos[i]),
                "neighbours": neighbours,
                "floor": min(n["score"] for n in neighbours),
                "norm": float(np.linalg.norm(blended)),
                "blended": (blended / np.linalg.norm(blended)).tolist(),
            }
        )
    driver.execute_query(OLD_LINKS, rows=lists, model=spec.name)
    return folder


def test_searches_work_on_the_previous_releases_database_before_anything_is_run_and_write_nothing(
    store, lite, cli_env, old_database
):
    before = database_snapshot(store.driver)
    photo = old_database / "car_ferrari_red_03.jpg"
    for plain in (False, True):
        hits = search_file(store, lite, photo, 5, plain=plain)
        assert hits[0].path == str(photo) and f"{hits[0].score:.3f}" == "1.000"
    found = run_cli("search", str(photo), "-k", "3", env=cli_env)
    assert found.returncode == 0 and found.stdout.splitlines()[1].split()[1:] == ["1.000", str(photo)], found.stderr
    assert database_snapshot(store.driver) == before


def test_the_first_index_upgrades_it_in_one_line_and_leaves_the_graph_of_a_fresh_run(store, lite, cli_env, old_database):
    indexed = run_cli("index", str(old_database), env=cli_env)
    assert indexed.returncode == 0, indexed.stderr
    upgrade = [line for line in indexed.stderr.splitlines() if "previous release" in line]
    assert upgrade == [
        "Upgraded the database from the previous release: compact vector copies for 34 of 34 images; the blended "
        "vectors, their index image_efficientnet_lite0_blended and the link markers, no longer used, are removed.",
        "Upgraded image_efficientnet_lite0 from the previous release: its fingerprint now names the model's weights and "
        f"preprocessing, not the precision; its vectors (made in {lite.runtime.precision}) are kept, and every admitted "
        "precision adds to them.",
    ]
    assert "0 new, 0 updated, 34 unchanged" in indexed.stdout and "0 images linked" in indexed.stderr  # old lists kept

    names = [r["name"] for r in store.driver.execute_query("SHOW INDEXES YIELD name RETURN name").records]
    assert "image_efficientnet_lite0_blended" not in names and "image_efficientnet_lite0" in names
    spaces = store.driver.execute_query("MATCH (s:VectorSpace) RETURN collect(s.index) AS spaces").records[0]["spaces"]
    assert spaces == ["image_efficientnet_lite0"]
    for prop in OLD_PROPERTIES:
        assert (
            store.driver.execute_query(f"MATCH (i:Image) WHERE i.`{prop}` IS NOT NULL RETURN count(i) AS n").records[0]["n"] == 0
        )
    compact = "MATCH (i:Image) WHERE i.embedding_efficientnet_lite0_f16 IS NOT NULL RETURN count(i) AS n"
    assert store.driver.execute_query(compact).records[0]["n"] == 34
    assert_links_are_the_exact_nearest_neighbours(store, lite.spec)  # what a fresh run of the 34 photos writes

    again = run_cli("index", str(old_database), env=cli_env)
    assert again.returncode == 0 and "previous release" not in again.stderr  # once
    assert store.fingerprint(lite.spec.space) == lite.fingerprint


def test_a_database_the_previous_release_made_in_one_precision_is_extended_in_the_other(store, lite, cli_env, old_database):
    """Made where the runtime chose one precision (its fingerprint named it), then searched and
    extended by a run in the other one: nothing is refused or re-embedded, and `stats` counts each."""
    other = "f32" if lite.runtime.precision == "bf16" else "bf16"
    env = {**cli_env, PRECISION_ENV: other}
    found = run_cli("search", str(old_database / "car_ferrari_red_03.jpg"), "-k", "3", env=env)
    assert found.returncode == 0 and "another version" not in found.stderr, found.stderr
    assert found.stdout.splitlines()[1].split()[1:] == ["1.000", str(old_database / "car_ferrari_red_03.jpg")]
    shutil.copy(DEMO_IMAGES / "everyday_food_salad_01.jpg", old_database / "new_salad.jpg")
    indexed = run_cli("index", str(old_database), env=env)
    assert indexed.returncode == 0, indexed.stderr
    assert "1 new, 0 updated, 34 unchanged" in indexed.stdout and "1 images linked" in indexed.stderr
    (space,) = store.stats([lite.spec.space]).indexes
    ran = next(line for line in indexed.stderr.splitlines() if line.startswith("Runtime:"))
    assert space.precisions == ({lite.runtime.precision: 34, other: 1} if f"; {other} (" in ran else {lite.runtime.precision: 35})
    assert_lists_are_exact_for(store, lite.spec, [str(old_database / "new_salad.jpg")])  # among vectors of both


def test_images_marked_not_duplicates_on_the_previous_releases_database_stay_apart_through_the_upgrade(
    store, lite, cli_env, old_database
):
    similar = tier_named("similar")
    marked = set(duplicate_page(store, lite.spec, similar, per_page=None).groups[0].paths)
    said = run_cli("duplicates", "--not-duplicates", *sorted(marked), env=cli_env)
    assert said.returncode == 0, said.stderr

    indexed = run_cli("index", str(old_database), env=cli_env)
    assert indexed.returncode == 0 and "previous release" in indexed.stderr, indexed.stderr
    groups = duplicate_page(store, lite.spec, similar, per_page=None).groups
    assert groups and all(len(marked & set(g.paths)) <= 1 for g in groups)


def test_a_small_catalogue_of_the_release_before_this_one_gets_full_lists_as_it_grows(store, lite, tmp_path):
    """That release marked no list short (its runs scanned every list when they started on a catalogue
    of 10 or fewer): the first run of this one marks such a catalogue's lists, and fills them."""
    folders = demo_folders(tmp_path, {"first": 5, "more": 20})
    index_folder(store, lite, folders["first"])
    store.driver.execute_query("MATCH (i:Image) REMOVE i.linked_efficientnet_lite0_short")  # as it left them
    store.driver.execute_query("DROP INDEX image_linked_efficientnet_lite0_short")

    assert index_folder(store, lite, folders["more"]).links.linked == 20 + 5
    assert_every_close_pair_is_linked(store, lite.spec)  # every list holds 10 others
