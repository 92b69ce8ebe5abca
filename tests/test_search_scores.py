"""The score beside a result means one thing everywhere: the plain cosine of the image's own vector to
the query's, on the duplicate tiers' scale, whichever search ranked it; the minimum score keeps what
reaches it. Real Neo4j, the demo photos and copies of one of them."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from retrieval.cli import main
from retrieval.duplicates import NEAR_DUPLICATE, SAME_PICTURE, tier_of
from retrieval.examples import Example, search_query
from retrieval.indexing import index_folder
from retrieval.search import expanded_query, reranked, search_file, search_vector
from tests.support.cli import run_cli
from tests.support.paths import APP, DEMO_IMAGES

PHOTO = DEMO_IMAGES / "car_ferrari_black_01.jpg"


@pytest.fixture
def copies(tmp_path: Path) -> list[Path]:
    """PHOTO re-saved at JPEG quality 40 and resized to 75 %: the same picture, not indexed."""
    photo = Image.open(PHOTO).convert("RGB")
    resaved, resized = tmp_path / "resaved.jpg", tmp_path / "resized.jpg"
    photo.save(resaved, quality=40)
    photo.resize((photo.width * 3 // 4, photo.height * 3 // 4), Image.Resampling.LANCZOS).save(resized, quality=90)
    return [resaved, resized]


def test_a_copy_scores_in_the_same_picture_tier_and_other_photos_of_its_kind_under_the_near_tier(store, lite, copies):
    index_folder(store, lite, DEMO_IMAGES)
    for copy in copies:
        for plain in (False, True):
            hits = search_file(store, lite, copy, k=12, plain=plain)
            assert hits[0].path == str(PHOTO) and hits[0].score >= SAME_PICTURE, (copy.name, plain, hits[0])
            assert tier_of(hits[0].score).name == "same"
            others = [h for h in hits[1:] if h.name.startswith("car_ferrari")]
            assert others and all(h.score < NEAR_DUPLICATE for h in others), (copy.name, plain, others)


def test_the_default_search_keeps_its_ranking_and_shows_each_results_plain_cosine(store, lite):
    index_folder(store, lite, DEMO_IMAGES)
    vectors = store.vectors(lite.spec.space)
    query = vectors[str(DEMO_IMAGES / "car_ferrari_red_03.jpg")]
    hits = search_vector(store, lite.spec, query, 12)
    order = [h.path for h in reranked(store, lite.spec, expanded_query(store, lite.spec, query), query)]
    assert [h.path for h in hits] == [hits[0].path, *(p for p in order if p != hits[0].path)][:12]  # the re-ranked order
    for hit in hits:
        assert hit.score == pytest.approx(float(vectors[hit.path] @ query), abs=2e-3)  # its own vector's cosine
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert max(h.score for h in hits[1:]) < 0.97  # not the crowded neighbourhood score (0.98-0.99 for every result)


def test_several_examples_score_each_result_against_their_combined_vector(store, lite):
    index_folder(store, lite, DEMO_IMAGES)
    vectors = store.vectors(lite.spec.space)
    red, yellow = str(DEMO_IMAGES / "car_ferrari_red_01.jpg"), str(DEMO_IMAGES / "car_ferrari_yellow_01.jpg")
    combined = vectors[red] + vectors[yellow]
    combined /= np.linalg.norm(combined)
    hits = search_query(store, lite, [Example.indexed(red), Example.indexed(yellow)], k=8)
    for hit in hits:
        assert hit.score == pytest.approx(float(vectors[hit.path] @ combined), abs=2e-3)


def test_search_min_score_keeps_the_results_reaching_it_and_json_names_their_tier(store, lite, cli_env, copies):
    index_folder(store, lite, DEMO_IMAGES)
    everything = run_cli("search", str(copies[0]), "-k", "12", "--json", env=cli_env)
    assert everything.returncode == 0, everything.stderr
    rows = json.loads(everything.stdout)
    assert [r["rank"] for r in rows] == list(range(1, 13))
    assert rows[0]["path"] == str(PHOTO) and rows[0]["tier"] == "same"
    assert all(r["tier"] == (t.name if (t := tier_of(r["score"])) else None) for r in rows)

    table = run_cli("search", str(copies[0]), "-k", "12", "--min-score", "0.94", env=cli_env)
    assert table.returncode == 0, table.stderr
    assert [row.split()[2] for row in table.stdout.splitlines()[1:]] == [str(PHOTO)]  # the copy's original alone

    kept = run_cli("search", str(copies[0]), "-k", "12", "--min-score", "0.7", "--plain", "--json", env=cli_env)
    assert kept.returncode == 0, kept.stderr
    scores = [r["score"] for r in json.loads(kept.stdout)]
    assert len(scores) > 1 and min(scores) >= 0.7 and scores == sorted(scores, reverse=True)

    none = run_cli("search", str(copies[0]), "--min-score", "0.999", env=cli_env)
    assert none.returncode == 1 and "None of the 10 results scores at least 0.999" in none.stderr


@pytest.mark.parametrize("value", ["1.5", "-2", "nan", "high"])
def test_search_refuses_a_min_score_outside_minus_1_to_1_before_any_query(value, monkeypatch, capsys):
    monkeypatch.setenv("NEO4J_URI", "bolt://127.0.0.1:9")  # nothing listens there: a query would fail otherwise
    with pytest.raises(SystemExit) as refused:
        main(["search", str(PHOTO), "--min-score", value])
    assert refused.value.code == 2
    (line,) = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert line.startswith("error: argument --min-score: must be a cosine between -1 and 1")


SCORE = re.compile(r"similarity \*\*(\d\.\d{3})\*\*( · (same picture|near-duplicate|similar))?")


def test_the_app_says_in_words_what_each_score_means_and_the_slider_keeps_those_reaching_it(store, lite, app_env):
    index_folder(store, lite, DEMO_IMAGES)
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.session_state["examples"] = [Example.indexed(str(PHOTO))]
    at.run()
    assert not at.exception
    cards = [m for c in at.caption if (m := SCORE.search(c.value))]
    assert len(cards) == 12
    for card in cards:  # the words beside each number are its duplicate tier's, nothing under the similar tier
        tier = tier_of(float(card[1]))
        assert card[3] == (tier.word if tier else None)
    assert cards[0][3] == "same picture" and "same picture" not in [c[3] for c in cards[1:]]

    scores = [float(c[1]) for c in cards]
    minimum = math.ceil(sorted(scores)[6] * 20) / 20  # a step of the slider that drops about half of them
    while minimum in scores:  # a score shown as the step itself may be a hair under it
        minimum = round(minimum + 0.05, 2)
    at.slider(key="min_score").set_value(minimum).run()
    kept = [float(m[1]) for c in at.caption if (m := SCORE.search(c.value))]
    assert kept == [s for s in scores if s >= minimum] and 1 <= len(kept) < 12
    assert any(m.value == f"{len(kept)} similar images" for m in at.subheader)
