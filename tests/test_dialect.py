"""What differs between the server lines is found once and said their way: the SEARCH clause where
the server has it, `queryNodes` elsewhere, the index options written out with one meaning, and no
query drawing a deprecation warning. Run on each line (./test.sh --neo4j VERSION [--cypher-default 25])."""

from __future__ import annotations

import re
import shutil
import warnings

import pytest
from neo4j import GraphDatabase
from neo4j.warnings import Neo4jWarning

from retrieval.catalogue import attach, owner_values, stem_attachments
from retrieval.core.errors import RetrievalError
from retrieval.duplicates import duplicate_page, tier_named
from retrieval.indexing import index_folder
from retrieval.neighbours import update_links
from retrieval.neo4j.catalogue import CatalogueFilter
from retrieval.neo4j.dialect import HNSW_EF_CONSTRUCTION, HNSW_M, dialect_of
from retrieval.neo4j.store import ImageStore
from retrieval.pruning import remove_missing
from retrieval.search import search_file
from retrieval.vision.models import MODELS
from tests.support.paths import DEMO_IMAGES


def test_the_candidate_step_is_the_search_clause_where_the_server_has_it(neo4j_server, driver):
    dialect = dialect_of(driver)
    assert dialect.search_clause == (not neo4j_server.version.startswith("5."))
    assert dialect_of(driver) is dialect  # asked once per driver


def test_templates_fill_their_names_once_keep_cyphers_braces_and_refuse_a_name_nothing_fills(store, lite):
    names = store._search_names(lite.spec.space)
    statement = store._cypher("MATCH (i:`{label}` {path: $path}) WITH i {candidates} RETURN {path: node.path}", names)
    assert "{label}" not in statement and "{candidates}" not in statement and "{prop}" not in statement
    assert "(i:`Image` {path: $path})" in statement and "RETURN {path: node.path}" in statement
    with pytest.raises(RetrievalError, match=re.escape("names {prop}, which nothing fills")):
        store._query("MATCH (i:`{label}`) RETURN i.`{prop}` AS v")
    with pytest.raises(RetrievalError, match="not a safe Neo4j identifier"):
        store._query("MATCH (i:`{label}`) RETURN i.`{prop}` AS v", {"prop": "x` RETURN 1 //"})


def test_vector_indexes_get_explicit_options_of_one_meaning(fresh_database, lite):
    store = fresh_database  # its indexes made here, as a new database's
    store.ensure_schema(lite.spec.space)
    shown = "SHOW VECTOR INDEXES YIELD name, options RETURN name, options.indexConfig AS config"
    rows = store.driver.execute_query(shown).records
    configs = {r["name"]: r["config"] for r in rows}
    assert [n for n in configs if n.startswith("image_")] == [store.index_name(lite.spec.space)]  # one index per model
    config = configs[store.index_name(lite.spec.space)]
    assert (config["vector.hnsw.m"], config["vector.hnsw.ef_construction"]) == (HNSW_M, HNSW_EF_CONSTRUCTION) == (32, 200)
    assert config["vector.similarity_function"].lower() == "cosine"
    # int8 (scalar) quantization on both lines: a flag on 5.26, a type on 2026.08+ (where the flag means binary)
    assert config.get("vector.quantization.type", "SCALAR") == "SCALAR"
    assert config.get("vector.quantization.enabled", True) is True


def test_no_query_we_send_draws_a_deprecation_warning(neo4j_server, lite, tmp_path):
    folder = tmp_path / "photos"
    shutil.copytree(DEMO_IMAGES, folder, ignore=shutil.ignore_patterns("*.md", "*.csv"))
    for number, photo in enumerate(sorted(folder.glob("*.jpg"))):
        photo.rename(folder / f"{1000 + number}.jpg")
    auth = ("neo4j", neo4j_server.password())
    with (
        GraphDatabase.driver(
            neo4j_server.uri, auth=auth, notifications_min_severity="WARNING", warn_notification_severity="WARNING"
        ) as driver,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always", Neo4jWarning)
        driver.execute_query("MATCH (n) DETACH DELETE n")
        store = ImageStore(driver)
        spec = lite.spec
        index_folder(store, lite, folder)
        driver.execute_query("UNWIND range(1000, 1029) AS sku CREATE (:Product {sku: sku, kind: sku % 2})")
        attach(store, stem_attachments(store, "Product", "sku", folder))
        photo = sorted(folder.glob("*.jpg"))[3]
        within = CatalogueFilter("Product", "kind", "1")
        for plain in (False, True):
            assert search_file(store, lite, photo, 12, plain=plain)[0].path == str(photo)
            assert search_file(store, lite, photo, 5, plain=plain, within=within)
        vector = store.vector_of(spec.space, str(photo))
        assert store.nearest(spec.space, vector, 5, within=within, exact_limit=0)[0].path == str(photo)  # the index, filtered
        assert store.index_ranking(spec.space, vector, 5)[0] == str(photo)
        store.neighbourhood(spec.space, vector, 300, rescored=False)
        update_links(store, spec)
        duplicate_page(store, spec, tier_named("similar", 0.5))
        store.stats(m.space for m in MODELS.values())
        owner_values(store, "Product", "kind")
        photo.unlink()
        remove_missing(store, folder)
    deprecations = [str(w.message) for w in caught if "deprecat" in str(w.message).lower()]
    assert deprecations == []


@pytest.mark.parametrize("language", ["5", "25"])
def test_our_queries_run_whatever_the_database_default_language(neo4j_server, driver, store, lite, language):
    if neo4j_server.version.startswith("5."):
        pytest.skip("5.26 has one language")
    show = "SHOW DATABASE neo4j YIELD defaultLanguage RETURN defaultLanguage"
    before = driver.execute_query(show, database_="system").records[0]["defaultLanguage"]
    driver.execute_query(f"ALTER DATABASE neo4j SET DEFAULT LANGUAGE CYPHER {language}", database_="system")
    try:
        index_folder(store, lite, DEMO_IMAGES)
        photo = sorted(DEMO_IMAGES.glob("*.jpg"))[2]
        assert search_file(store, lite, photo, 5)[0].path == str(photo)
    finally:
        driver.execute_query(f"ALTER DATABASE neo4j SET DEFAULT LANGUAGE {before}", database_="system")
