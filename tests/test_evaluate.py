"""`python -m retrieval evaluate` on a small labelled subset of ../shared/bench: figures far above
chance, kept apart from the user's images, and re-using what is indexed."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from retrieval.cli.contact_sheet import CAPTION, TILE
from retrieval.evaluate import EVALUATION_LABEL
from retrieval.neo4j.store import ImageStore
from retrieval.vision.models import MODELS
from tests.support.cli import run_cli
from tests.support.paths import BENCH, DEMO_IMAGES

CLASSES = ["accordion", "anchor", "barrel", "bonsai", "brain", "brontosaurus"]
PER_CLASS = 12


@pytest.fixture(scope="module")
def labelled_set(tmp_path_factory) -> Path:
    """72 bench photos, 12 of each of 6 classes, with labels.csv and a queries.csv of 2 per class."""
    root = tmp_path_factory.mktemp("labelled")
    with (BENCH / "labels.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["label"] in CLASSES]
    chosen = [r for label in CLASSES for r in [r for r in rows if r["label"] == label][:PER_CLASS]]
    for row in chosen:
        (root / row["path"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(BENCH / row["path"], root / row["path"])
    for name, subset in (("labels.csv", chosen), ("queries.csv", chosen[:: PER_CLASS // 2])):
        with (root / name).open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["path", "label"])
            writer.writeheader()
            writer.writerows(subset)
    return root


def test_evaluate_scores_far_above_chance_and_never_touches_the_users_images(store, cli_env, labelled_set, tmp_path):
    users = tmp_path / "mine"
    users.mkdir()
    for photo in sorted(DEMO_IMAGES.glob("*.jpg"))[:5]:
        shutil.copy(photo, users / photo.name)
    assert run_cli("index", str(users), env=cli_env).returncode == 0

    run = run_cli("evaluate", str(labelled_set), "--exact", "--json", env=cli_env)
    assert run.returncode == 0, run.stderr
    figures = json.loads(run.stdout)
    assert (figures["images"], figures["queries"], figures["model"]) == (72, 72, "efficientnet-lite0")
    assert figures["search"].startswith("expanded query, re-ranked by neighbourhood")  # the default search is what is measured
    # Chance: each photo has 11 relevant among the 71 others, so a random top 10 scores 11/71 = 0.155
    # and a random ranking's mAP is about the same. Broken weights, preprocessing or sort order fall far below.
    assert figures["chance_p_at_10"] == pytest.approx(11 / 71)
    assert figures["map"] > 0.6 and figures["p_at_10"] > 0.7 and figures["p_at_1"] > 0.8, figures
    assert 0 < figures["recall_at_10"] <= 10 / 11
    assert abs(figures["map"] - figures["exact"]["map"]) < 0.01  # the index loses next to nothing here

    assert store.stats([]).images == 5  # the user's Image nodes: only their own photos, linked among themselves
    assert store.count_links(MODELS["efficientnet-lite0"].space) == 5 * 4
    assert ImageStore(store.driver, label=EVALUATION_LABEL).stats([]).images == 72
    query = labelled_set / "images" / "accordion" / sorted(p.name for p in (labelled_set / "images" / "accordion").iterdir())[0]
    search = run_cli("search", str(query), "-k", "20", env=cli_env)
    assert search.returncode == 0 and str(labelled_set) not in search.stdout and str(users) in search.stdout
    assert store.latest_evaluation()["index_map"] == pytest.approx(figures["map"])

    worst = tmp_path / "worst.png"
    again = run_cli("evaluate", str(labelled_set), "--quick", "--plain", "--worst", str(worst), env=cli_env)
    assert again.returncode == 0, again.stderr
    assert "0 new, 0 updated, 72 unchanged" in again.stderr
    assert "plain cosine, on " in again.stdout and "72 images, 12 queries, leave-one-out" in again.stdout
    with Image.open(worst) as sheet:  # ten rows: each query and its first six results
        assert sheet.size == (7 * TILE, 10 * (TILE + CAPTION))
    assert again.stdout.splitlines()[1].split() == ["mAP", "P@1", "P@10", "R@1", "R@5", "R@10"]


def test_evaluate_without_labels_says_what_a_labelled_set_needs(cli_env, tmp_path):
    run = run_cli("evaluate", str(tmp_path), env=cli_env)
    assert run.returncode == 1
    assert f"error: {tmp_path}/labels.csv is missing: a labelled set needs a labels.csv with the header path,label." in run.stderr


def test_evaluate_of_a_set_of_one_photo_says_leave_one_out_needs_two(cli_env, tmp_path):
    shutil.copy(DEMO_IMAGES / "car_ferrari_red_01.jpg", tmp_path / "only.jpg")
    (tmp_path / "labels.csv").write_text("path,label\nonly.jpg,car\n")
    run = run_cli("evaluate", str(tmp_path), env=cli_env)
    assert run.returncode == 1
    assert run.stderr.strip().endswith(
        "lists 1 photos: leave-one-out scores each photo against the others, so a labelled set needs at least 2."
    )
    assert "Traceback" not in run.stderr
