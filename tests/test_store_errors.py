"""One error root: whatever the Neo4j driver raises reaches a caller of the store, or of a public
function, as a `RetrievalError` kind saying which server and what to do, never as a driver exception.
A store made on a driver pointed at a closed port meets a server that is down; a wrong password meets
the test server; the other kinds go through the one translator."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import neo4j
import numpy as np
import pytest
from neo4j import Driver, GraphDatabase
from neo4j.exceptions import (
    AuthError,
    ClientError,
    DatabaseError,
    Forbidden,
    Neo4jError,
    ResultConsumedError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

import retrieval
from retrieval.core.errors import ConnectionLost, DriverFailed, Neo4jUnavailable, QueryFailed
from retrieval.neo4j.catalogue import CatalogueFilter
from retrieval.neo4j.connection import neo4j_settings
from retrieval.neo4j.errors import DriverServer, driver_errors, translated
from retrieval.neo4j.images import ImageRecord
from retrieval.neo4j.links import NeighbourList
from retrieval.neo4j.listing import Listed
from retrieval.neo4j.store import ImageStore
from retrieval.vision.models import MODELS
from tests.support.server import free_port, server_env

SPEC = MODELS["efficientnet-lite0"]
SPACE = SPEC.space
VECTOR = np.ones(SPACE.dimensions, dtype=np.float32) / np.sqrt(SPACE.dimensions)
RECORD = ImageRecord("/p/a.jpg", "a.jpg", 1, 1, "0" * 64, 8, 8, VECTOR)
FACTS = retrieval.PhotoFilter.of(taken="2021-01-01..2021-12-31", camera="NIKON D750")
WITHIN = CatalogueFilter("Product", "category", "shoes")
LISTED = Listed("/p/a.jpg", "a.jpg", "2026-01-01T00:00:00Z")

# Each public method of the store, called as its callers do. A method added to the store without a
# line here fails `test_every_public_store_method_is_called_below`.
CALLS: dict[str, Callable[[ImageStore], object]] = {
    "are_aside": lambda s: s.are_aside(["/p/a.jpg"]),
    "aside_below": lambda s: s.aside_below("/p"),
    "distinct_sets": lambda s: s.distinct_sets(),
    "drop_nodes": lambda s: s.drop_nodes(["/p/a.jpg"]),
    "ensure_resolution_schema": lambda s: s.ensure_resolution_schema(),
    "mark_distinct": lambda s: s.mark_distinct(["/p/a.jpg", "/p/b.jpg"]),
    "resolution": lambda s: s.resolution("r1"),
    "resolutions": lambda s: s.resolutions(),
    "restore": lambda s: s.restore(["/p/a.jpg"]),
    "set_aside": lambda s: s.set_aside("r1", ["/p/a.jpg", "/p/b.jpg"], ["/p/b.jpg"]),
    "set_resolution_state": lambda s: s.set_resolution_state("r1", "done"),
    "start_resolution": lambda s: s.start_resolution("r1", None, "resolution", ["/p/b.jpg"]),
    "unmark_distinct": lambda s: s.unmark_distinct(["/p/a.jpg", "/p/b.jpg"]),
    "attach_rows": lambda s: s.attach_rows("Product", "sku", [{"key": "1", "path": "/p/a.jpg"}]),
    "attachment_count": lambda s: s.attachment_count(),
    "claim_space": lambda s: s.claim_space(SPACE, "fingerprint"),
    "count_links": lambda s: s.count_links(SPACE),
    "count_listed": lambda s: s.count_listed(SPACE, WITHIN, FACTS),
    "count_unlisted": lambda s: s.count_unlisted(SPACE),
    "count_vectors": lambda s: s.count_vectors(SPACE, FACTS),
    "dialect": lambda s: s.dialect,
    "ensure_schema": lambda s: s.ensure_schema(SPACE),
    "fact_values": lambda s: s.fact_values("camera"),
    "facts_of": lambda s: s.facts_of(["/p/a.jpg"]),
    "filters_in_index": lambda s: s.filters_in_index(SPACE),
    "fingerprint": lambda s: s.fingerprint(SPACE),
    "has_catalogue": lambda s: s.has_catalogue(),
    "index_ranking": lambda s: s.index_ranking(SPACE, VECTOR, 5),
    "latest_evaluation": lambda s: s.latest_evaluation(),
    "mark_former_short_lists": lambda s: s.mark_former_short_lists(SPACE),
    "linking_to": lambda s: s.linking_to(SPACE, ["/p/a.jpg"]),
    "links_among": lambda s: s.links_among(SPACE, ["/p/a.jpg"]),
    "member_facts": lambda s: s.member_facts(["/p/a.jpg"]),
    "nearest": lambda s: s.nearest(SPACE, VECTOR, 5, facts=FACTS, within=WITHIN),
    "neighbour_lists": lambda s: s.neighbour_lists(SPACE, ["/p/a.jpg"], 10, -1.0),
    "neighbourhood": lambda s: s.neighbourhood(SPACE, VECTOR, 11),
    "newest": lambda s: s.newest(SPACE, 10, LISTED),
    "owner_keys": lambda s: s.owner_keys("Product"),
    "owner_labels": lambda s: s.owner_labels(),
    "owner_rows": lambda s: s.owner_rows(["/p/a.jpg"]),
    "owner_values": lambda s: s.owner_values("Product", "category", 10),
    "paths": lambda s: s.paths(),
    "precision_counts": lambda s: s.precision_counts(SPACE),
    "paths_with_vectors": lambda s: s.paths_with_vectors(SPACE),
    "refingerprint": lambda s: s.refingerprint(SPACE, "fingerprint", {"former": "f32"}),
    "remove": lambda s: s.remove(["/p/a.jpg"]),
    "save_evaluation": lambda s: s.save_evaluation({"map": 0.5}),
    "set_facts": lambda s: s.set_facts([("/p/a.jpg", {"taken": datetime(2021, 1, 1, tzinfo=UTC), "camera": "NIKON D750"})]),
    "short_lists": lambda s: s.short_lists(SPACE),
    "similar_pairs": lambda s: s.similar_pairs(SPACE, 0.9),
    "stats": lambda s: s.stats([SPACE]),
    "stored_files": lambda s: s.stored_files(SPACE, ["/p/a.jpg"]),
    "touch": lambda s: s.touch(SPACE, [("/p/a.jpg", 1, 1, "0" * 64)]),
    "unlisted": lambda s: s.unlisted(SPACE),
    "upgrade": lambda s: s.upgrade(SPACE),
    "upsert": lambda s: s.upsert(SPACE, [RECORD]),
    "vector_of": lambda s: s.vector_of(SPACE, "/p/a.jpg"),
    "vectors": lambda s: s.vectors(SPACE),
    "vectors_of": lambda s: s.vectors_of(SPACE, ["/p/a.jpg"]),
    "vectors_up_to": lambda s: s.vectors_up_to(SPACE, 11),
    "write_lists": lambda s: s.write_lists(SPACE, {"/p/a.jpg": NeighbourList("0" * 64, [])}),
}
PURE = {"index_name"}  # names a schema object; never talks to the server

# The public functions that take a store, called on it as a program would.
FUNCTIONS: dict[str, Callable[[ImageStore], object]] = {
    "search_indexed": lambda s: retrieval.search_indexed(s, SPEC, "/p/a.jpg"),
    "duplicate_page": lambda s: retrieval.duplicate_page(s, SPEC),
    "update_links": lambda s: retrieval.update_links(s, SPEC),
}


@pytest.fixture(scope="module")
def down_store() -> Iterator[ImageStore]:
    """A store on a driver pointed at a port where no server listens (no retries: the answer is the same)."""
    with GraphDatabase.driver(
        f"bolt://127.0.0.1:{free_port()}", auth=("neo4j", "x"), max_transaction_retry_time=0, connection_timeout=5
    ) as driver:
        yield ImageStore(driver)


def test_every_public_store_method_is_called_below():
    public = {name for name, _ in inspect.getmembers(ImageStore) if not name.startswith("_")}
    assert public - PURE == set(CALLS)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_each_store_method_on_a_server_that_is_down_raises_a_retrieval_error_naming_it(down_store, name):
    with pytest.raises(Neo4jUnavailable) as raised:
        CALLS[name](down_store)
    assert f"Cannot use Neo4j at {down_store.server.uri}: " in str(raised.value)
    assert "Check that this server is running and reachable" in str(raised.value)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_the_public_functions_on_a_server_that_is_down_raise_a_retrieval_error(down_store, name):
    with pytest.raises(Neo4jUnavailable):
        FUNCTIONS[name](down_store)


def test_a_wrong_password_on_the_test_server_is_said_as_credentials_rejected(neo4j_server):
    with (
        GraphDatabase.driver(neo4j_server.uri, auth=("neo4j", "not-the-password")) as driver,
        pytest.raises(Neo4jUnavailable, match="the username or password was rejected"),
    ):
        ImageStore(driver).paths()


def test_a_store_opened_from_settings_names_the_local_server_and_how_to_start_it(neo4j_server, tmp_path):
    settings = retrieval.load_settings(server_env(neo4j_server), tmp_path)
    with retrieval.open_store(settings) as store:
        assert store.server == neo4j_settings(settings)
        assert store.server.hint() == "Start the local Neo4j with `python -m retrieval db start`."


@pytest.mark.parametrize(("seconds", "retried"), [("0", False), ("0.5", True)])
def test_neo4j_retry_seconds_is_how_long_the_driver_retries_a_transaction_that_failed_for_a_passing_reason(
    neo4j_server, tmp_path, monkeypatch, seconds, retried
):
    pauses: list[float] = []  # the driver's pauses between retries, not waited out
    monkeypatch.setattr(neo4j._sync.work.session, "sleep", pauses.append)
    settings = retrieval.load_settings(server_env(neo4j_server) | {"NEO4J_RETRY_SECONDS": seconds}, tmp_path)

    def lost(tx: object) -> None:
        raise ServiceUnavailable("the connection was lost")

    with retrieval.open_store(settings) as store, store.driver.session() as session, pytest.raises(ServiceUnavailable):
        session.execute_write(lost)
    assert bool(pauses) == retried


@pytest.fixture
def server() -> DriverServer:
    return DriverServer("bolt://example:7687")


@pytest.mark.parametrize(
    ("error", "kind", "says"),
    [
        (ServiceUnavailable("gone"), ConnectionLost, "Cannot use Neo4j at bolt://example:7687: the connection was lost."),
        (SessionExpired("gone"), ConnectionLost, "the connection was lost. Work finished before this is kept."),
        (AuthError("no"), Neo4jUnavailable, "the username or password was rejected"),
        (ResultConsumedError(None, "out of scope"), DriverFailed, "Neo4j failed doing it (ResultConsumedError: out of scope)"),
    ],
)
def test_the_translator_gives_each_kind_of_driver_error_its_retrieval_error(server, error, kind, says):
    with pytest.raises(kind) as raised, driver_errors(server, "doing it"):
        raise error
    assert says in str(raised.value)
    assert raised.value.__cause__ is error


def server_error(code: str, message: str) -> Neo4jError:
    """A server's error as the driver makes it from the server's FAILURE message (its kind from the code)."""
    return Neo4jError._hydrate_neo4j(code=code, message=message)


@pytest.mark.parametrize(
    ("kind", "code", "advice"),
    [
        (TransientError, "Neo.TransientError.Transaction.DeadlockDetected", "The server was busy; try again in a moment."),
        (ClientError, "Neo.ClientError.Statement.SyntaxError", "See the Neo4j server's log for details."),
        (Forbidden, "Neo.ClientError.Security.Forbidden", "Your Neo4j user lacks the rights for this"),
        (DatabaseError, "Neo.DatabaseError.General.OutOfMemoryError", "The server ran out of memory"),
    ],
)
def test_the_translator_gives_a_query_the_server_refused_its_code_and_what_to_do(server, kind, code, advice):
    error = server_error(code, "what the server said")
    assert isinstance(error, kind)
    failure = translated(error, server, "reading")
    assert isinstance(failure, QueryFailed) and failure.code == code
    assert str(failure).startswith(f"Neo4j could not run a query ({code}: what the server said). {advice}")


def test_connecting_to_a_server_that_refuses_says_it_is_not_reachable(server):
    assert str(translated(ServiceUnavailable("refused"), server, "connecting", connecting=True)) == (
        "Cannot use Neo4j at bolt://example:7687: the server is not reachable. " + server.hint()
    )
    assert isinstance(translated(OSError("no route"), server, "connecting", connecting=True), Neo4jUnavailable)


def test_a_driver_the_caller_made_itself_is_named_by_its_address(driver: Driver):
    assert ImageStore(driver).server.uri.startswith("127.0.0.1:")


@pytest.mark.parametrize("k", [0, 1001])
def test_a_number_of_results_out_of_range_is_one_bad_argument_from_the_store_and_the_search_before_any_query(down_store, k):
    message = f"The number of results must be between 1 and 1000, not {k}."
    with pytest.raises(retrieval.BadArgument, match=message):
        down_store.nearest(SPACE, VECTOR, k)
    with pytest.raises(retrieval.BadArgument, match=message):
        retrieval.search_indexed(down_store, SPEC, "/p/a.jpg", k)
