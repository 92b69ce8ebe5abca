"""The user's catalogue on real photos: images attached to the user's own Product nodes from a CSV or
by the file-stem rule, without touching anything else of their graph, and search restricted to a
part of the catalogue returning only matching images, best first, as exact filtered search would."""

from __future__ import annotations

import shutil
from datetime import datetime

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from retrieval.catalogue import attach, owner_values, owners, read_attachments, stem_attachments
from retrieval.core.errors import RetrievalError
from retrieval.examples import Example
from retrieval.indexing import index_folder
from retrieval.neo4j.catalogue import CatalogueFilter
from retrieval.search import search_indexed
from tests.support.app import shown
from tests.support.cli import run_cli
from tests.support.paths import APP, BENCH, DEMO_IMAGES

CLASSES = ["accordion", "bonsai", "cup", "dalmatian", "lamp", "llama"]
PER_CLASS = 8
PRODUCTS = """
UNWIND range(0, $n - 1) AS n
CREATE (:Product {sku: 1000 + n, category: CASE n % 3 WHEN 0 THEN 'shoes' WHEN 1 THEN 'bags' ELSE 'hats' END,
                  title: 'Product ' + toString(n)})
"""
SHOE_IMAGES = "MATCH (:Product {category: 'shoes'})-[:HAS_IMAGE]->(i:Image) RETURN i.path AS path"


@pytest.fixture
def shop(store, lite, tmp_path):
    """48 bench photos named by SKU (1000.jpg ...), indexed, and one Product node per photo whose
    category is unrelated to what the photo shows (every third product is 'shoes')."""
    folder = tmp_path / "shop"
    folder.mkdir()
    photos = [p for label in CLASSES for p in sorted((BENCH / "images" / label).glob("*.jpg"))[:PER_CLASS]]
    for n, photo in enumerate(photos):
        shutil.copy(photo, folder / f"{1000 + n}.jpg")
    index_folder(store, lite, folder)
    store.driver.execute_query(PRODUCTS, n=len(photos))
    return folder


def graph_state(store) -> tuple[int, list[dict]]:
    nodes = store.driver.execute_query("MATCH (n) RETURN count(n) AS n").records[0]["n"]
    products = store.driver.execute_query("MATCH (p:Product) RETURN properties(p) AS p ORDER BY p.sku").records
    return nodes, [r["p"] for r in products]


def test_csv_attaches_images_to_existing_nodes_only_and_a_rerun_creates_nothing(store, shop, tmp_path):
    before = graph_state(store)
    table = tmp_path / "catalogue.csv"
    table.write_text(
        "image,label,key,value\n"
        "shop/1000.jpg,Product,sku,1000\n"  # sku is an integer in the graph, text in the CSV
        "shop/1001.jpg,Product,sku,1001\n"
        "shop/1001.jpg,Product,sku,1002\n"  # one image, two products
        "shop/1003.jpg,Product,sku,99999\n"  # no such product
        "shop/missing.jpg,Product,sku,1004\n"  # no such image
    )
    report = attach(store, read_attachments(table))
    assert (report.attached, report.created) == (3, 3)
    assert [a.line for a in report.no_owner] == [5] and [a.line for a in report.no_image] == [6]
    assert graph_state(store) == before  # no node created, no property changed

    again = attach(store, read_attachments(table))
    assert (again.attached, again.created) == (3, 0)
    found = owners(store, [str(shop / "1001.jpg")])[str(shop / "1001.jpg")]
    assert sorted(o.properties["sku"] for o in found) == [1001, 1002]
    assert found[0].labels == ("Product",)


def test_stem_rule_attaches_every_photo_to_the_product_named_by_its_file(store, shop):
    report = attach(store, stem_attachments(store, "Product", "sku", shop))
    assert (report.attached, report.created, report.no_owner, report.no_image) == (48, 48, [], [])
    assert owners(store, [str(shop / "1005.jpg")])[str(shop / "1005.jpg")][0].properties["sku"] == 1005


def test_labels_and_keys_from_the_user_are_refused_unless_plain_identifiers(store, tmp_path):
    with pytest.raises(RetrievalError, match="not a safe Neo4j identifier"):
        CatalogueFilter("Product`) DETACH DELETE (x", "category", "shoes")
    with pytest.raises(RetrievalError, match="not a safe Neo4j identifier"):
        stem_attachments(store, "Product", "sku} RETURN 1 //")
    table = tmp_path / "bad.csv"
    table.write_text("image,label,key,value\na.jpg,Product,sku,1\nb.jpg,Pro duct,sku,2\n")
    with pytest.raises(RetrievalError, match="line 3"):
        read_attachments(table)
    with pytest.raises(RetrievalError, match=r"Label\.property=value"):
        CatalogueFilter.parse("category=shoes")


@pytest.mark.parametrize("plain", [True, False], ids=["plain", "default"])
def test_filtered_search_returns_only_matching_products_images_best_first(store, lite, shop, plain):
    attach(store, stem_attachments(store, "Product", "sku"))
    shoes = CatalogueFilter.parse("Product.category=shoes")
    space = lite.spec.space
    query = str(shop / "1004.jpg")
    # Exact filtered search by hand: every shoe image's stored vector against the query's.
    shoe_paths = [str(shop / f"{1000 + n}.jpg") for n in range(0, 48, 3)]
    vectors, q = store.vectors_of(space, shoe_paths), store.vector_of(space, query)
    cosine = {p: float(v @ q / np.linalg.norm(v) / np.linalg.norm(q)) for p, v in vectors.items()}
    exact = sorted(shoe_paths, key=lambda p: -cosine[p])[:10]

    for exact_limit in (2000, 0):  # few matches are ranked exactly; 0 forces the index with over-fetch
        hits = store.nearest(space, q, 10, within=shoes, exact_limit=exact_limit)
        assert [h.path for h in hits] == exact
        assert [h.score for h in hits] == pytest.approx([cosine[p] for p in exact], abs=1e-5)

    found = search_indexed(store, lite.spec, query, 12, plain=plain, within=shoes)
    assert len(found) == 12 and {h.path for h in found} <= set(shoe_paths)
    assert all(o.properties["category"] == "shoes" for h in found for o in owners(store, [h.path])[h.path])
    assert search_indexed(store, lite.spec, query, 5, plain=plain, within=CatalogueFilter("Product", "category", "cars")) == []


def test_cli_attaches_by_stem_and_searches_within_a_category(store, shop, cli_env):
    attached = run_cli("attach", "--stem", "Product.sku", env=cli_env)
    assert attached.returncode == 0, attached.stderr
    assert attached.stdout.startswith("48 images attached (48 new HAS_IMAGE relationships)")

    found = run_cli("search", str(shop / "1001.jpg"), "-k", "5", "--where", "Product.category=bags", env=cli_env)
    assert found.returncode == 0, found.stderr
    rows = found.stdout.splitlines()[1:]
    assert rows[0].split()[2] == str(shop / "1001.jpg")  # product 1001 is a bag, so its own photo comes first
    assert sum("of Product (category bags," in row for row in rows) == 5
    assert "shoes" not in found.stdout


BIG = "12345678901234567890"  # 20 digits: beyond a 64-bit integer


@pytest.fixture
def big_numbered_shop(store, lite, tmp_path):
    """A photo named by a 20-digit SKU and another by a small one, indexed, and their Products (the
    20-digit SKU can only be text in Neo4j)."""
    folder = tmp_path / "big"
    folder.mkdir()
    for name, photo in zip([BIG, "1001"], sorted((BENCH / "images" / "cup").glob("*.jpg")), strict=False):
        shutil.copy(photo, folder / f"{name}.jpg")
    index_folder(store, lite, folder)
    store.driver.execute_query("CREATE (:Product {sku: $big, category: $big}), (:Product {sku: 1001, category: 'cups'})", big=BIG)
    return folder


def test_numbers_too_large_for_64_bits_are_matched_as_text_from_every_entry_point(store, lite, big_numbered_shop, cli_env):
    folder = big_numbered_shop
    table = folder / "catalogue.csv"
    table.write_text(f"image,label,key,value\n{BIG}.jpg,Product,sku,{BIG}\n1001.jpg,Product,sku,99999999999999999999\n")
    report = attach(store, read_attachments(table))
    assert (report.attached, [a.line for a in report.no_owner]) == (1, [3])

    by_stem = run_cli("attach", "--stem", "Product.sku", env=cli_env)
    assert by_stem.returncode == 0, by_stem.stderr
    assert by_stem.stdout.startswith("2 images attached (1 new HAS_IMAGE relationships)")

    for where in (f"Product.sku={BIG}", f"Product.category={BIG}"):
        found = run_cli("search", str(folder / "1001.jpg"), "-k", "2", "--where", where, env=cli_env)
        assert found.returncode == 0, found.stderr
        assert [row.split()[2] for row in found.stdout.splitlines()[1:] if row.split()[0] == "1"] == [str(folder / f"{BIG}.jpg")]

    # The app's filter: a value picked from those shown, searched within the catalogue.
    [value] = [v for v in owner_values(store, "Product", "category") if v != "cups"]
    query = store.vector_of(lite.spec.space, str(folder / "1001.jpg"))
    hits = store.nearest(lite.spec.space, query, 2, within=CatalogueFilter("Product", "category", value))
    assert [h.path for h in hits] == [str(folder / f"{BIG}.jpg")]


def test_the_app_offers_the_filter_once_images_are_attached_and_shows_each_results_product(store, shop, app_env):
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not [t for t in at.toggle if t.key == "filter_on"]  # nothing attached yet: no filter offered

    attach(store, stem_attachments(store, "Product", "sku"))
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.toggle(key="filter_on").set_value(True).run()
    assert at.selectbox(key="filter_label").options == ["Product"]
    at.selectbox(key="filter_key").set_value("category").run()
    assert at.selectbox(key="filter_value").options == ["bags", "hats", "shoes"]
    at.selectbox(key="filter_value").set_value("hats").run()
    assert any(shown(m.value).startswith("**16 images in the catalogue** of Product.category") for m in at.markdown)
    assert len([b for b in at.button if b.key.startswith("search:")]) == 16  # the grid follows the filter
    at.session_state["examples"] = [Example.indexed(str(shop / "1002.jpg"))]
    at.run()
    assert not at.exception
    results = [shown(c.value) for c in at.caption if "similarity" in c.value]
    assert len(results) == 12 and all("of Product (category hats," in c for c in results)
    assert results[0].startswith("**1002.jpg**")  # product 1002 is a hat: its own photo first


def walk(store, space, limit, within=None) -> list:
    """Every page of the catalogue newest first, each from where the one before ended."""
    listed, after = [], None
    while True:
        page = store.newest(space, limit, after, within)
        listed += page.images
        if not page.more:
            return listed
        after = page.last


def test_the_catalogue_lists_newest_first_page_after_page_and_follows_the_filter(store, lite, shop, tmp_path):
    later = tmp_path / "later"
    later.mkdir()
    for photo in sorted(DEMO_IMAGES.glob("*.jpg"))[:3]:
        shutil.copy(photo, later / photo.name)
    index_folder(store, lite, later)
    space = lite.spec.space

    listed = walk(store, space, limit=7)
    assert [i.path for i in listed[:3]] == sorted(str(p) for p in later.glob("*.jpg"))
    assert len({i.path for i in listed}) == len(listed) == store.count_listed(space) == 51
    assert listed == sorted(listed, key=lambda i: (-datetime.fromisoformat(i.at).timestamp(), i.path))

    attach(store, stem_attachments(store, "Product", "sku", shop))
    shoes = CatalogueFilter.parse("Product.category=shoes")
    expected = {r["path"] for r in store.driver.execute_query(SHOE_IMAGES).records}
    assert {i.path for i in walk(store, space, 5, shoes)} == expected and store.count_listed(space, shoes) == len(expected) == 16
