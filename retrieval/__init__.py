"""Image similarity search on Neo4j, from your own code (a shop's backend, a notebook).

Read the settings once, load a model, open the store, then index and search::

    settings = load_settings(os.environ, Path.cwd())
    model = load_model(settings)
    with open_store(settings) as store:
        index_folder(store, model, Path("photos"))
        hits = search_file(store, model, Path("photos/cat.jpg"), k=5)

The store is handed to these functions; what a program asks of it itself is `Store`, twelve methods
(counts, a page of the catalogue, links and vectors, the evaluation), where `ImageStore` has about
sixty: the rest is what the functions here use. Every failure a user can meet is a `RetrievalError`
(or one of its kinds below) whose message says what to do. A served front end needs a little more,
in `retrieval.serving`. The modules below these two are the library's inside: their names may change.
"""

import sys

# The command line (`python -m retrieval`) never calls the Neo4j driver's `Result.to_df`, for which the
# driver imports pandas and pyarrow whenever they are installed (they come with Streamlit) at a good part
# of every command's start-up (docs/BENCHMARKS.md). Python imports this package before __main__, with
# sys.argv[0] "-m" until it has found the module: marked missing now, the driver does without them.
if sys.argv[:1] == ["-m"]:
    for _unused in ("pandas", "pyarrow"):
        sys.modules.setdefault(_unused, None)  # type: ignore[arg-type]

from retrieval.catalogue import Attachment, AttachReport, Owner, attach, label_and_key, owners, read_attachments, stem_attachments
from retrieval.closeness import nothing_close_line, reaching
from retrieval.core.errors import (
    BadArgument,
    ConnectionLost,
    DriverFailed,
    ExampleGone,
    ModelUnavailable,
    Neo4jUnavailable,
    QueryFailed,
    RetrievalError,
    UnreadableImage,
)
from retrieval.core.facts import FACTS, Fact, Moment, Tag
from retrieval.core.files import FileRules, entry_kind, is_utf8, normalized_folder
from retrieval.core.filters import PhotoFilter
from retrieval.core.limits import MAX_RESULTS
from retrieval.core.progress import Count, Step
from retrieval.core.settings import MODEL_ENV, RESNET50_WEIGHTS_ENV, Settings, load_settings
from retrieval.core.spaces import VectorSpace
from retrieval.duplicates import (
    DEFAULT_TIER,
    PER_PAGE,
    TIERS,
    DuplicatePage,
    Group,
    Member,
    Tier,
    duplicate_page,
    group_paths,
    tier_named,
    tier_of,
)
from retrieval.evaluate import (
    EVALUATION_LABEL,
    HEADLINE_FIGURES,
    Evaluation,
    LabelledSet,
    QueryResult,
    Scores,
    evaluate,
    prepare,
    read_labelled_set,
)
from retrieval.examples import MAX_EXAMPLES, Example, check_count, distinct, picture, search_examples, search_query
from retrieval.finding import Skipped
from retrieval.indexing import Embedding, IndexReport, index_folder
from retrieval.neighbours import NEIGHBOURS, LinkReport, update_links
from retrieval.neo4j.base import DEFAULT_LABEL
from retrieval.neo4j.catalogue import CatalogueFilter
from retrieval.neo4j.connection import Neo4jSettings, neo4j_settings, open_driver, open_store
from retrieval.neo4j.errors import Server
from retrieval.neo4j.images import Hit
from retrieval.neo4j.listing import CataloguePage, Listed
from retrieval.neo4j.server import LocalNeo4j, ServerStatus
from retrieval.neo4j.stats import IndexState, StoreStats
from retrieval.neo4j.store import ImageStore
from retrieval.neo4j.surface import Store
from retrieval.neo4j.upgrade import Refingerprinted, Upgraded
from retrieval.pruning import remove_missing
from retrieval.region import Box
from retrieval.resolving import (
    DEFAULT_KEEP,
    KEEP_RULES,
    REVIEW_FOLDER,
    Move,
    Plan,
    Resolved,
    Undone,
    keeper,
    mark_not_duplicates,
    plan_resolution,
    resolve,
    undo,
    unmark_not_duplicates,
    why_kept,
)
from retrieval.results import result_rows
from retrieval.search import SearchOptions, model_mismatch, search_file, search_image, search_indexed
from retrieval.vision.decode import IMAGE_EXTENSIONS, load_image
from retrieval.vision.embed import Embedder, load_model
from retrieval.vision.models import MODELS, Availability, ModelChoice, ModelSpec, choose_model
from retrieval.vision.runtime import Runtime

__all__ = [
    "DEFAULT_KEEP",
    "DEFAULT_LABEL",
    "DEFAULT_TIER",
    "EVALUATION_LABEL",
    "FACTS",
    "HEADLINE_FIGURES",
    "IMAGE_EXTENSIONS",
    "KEEP_RULES",
    "MAX_EXAMPLES",
    "MAX_RESULTS",
    "MODELS",
    "MODEL_ENV",
    "NEIGHBOURS",
    "PER_PAGE",
    "RESNET50_WEIGHTS_ENV",
    "REVIEW_FOLDER",
    "TIERS",
    "AttachReport",
    "Attachment",
    "Availability",
    "BadArgument",
    "Box",
    "CatalogueFilter",
    "CataloguePage",
    "ConnectionLost",
    "Count",
    "DriverFailed",
    "DuplicatePage",
    "Embedder",
    "Embedding",
    "Evaluation",
    "Example",
    "ExampleGone",
    "Fact",
    "FileRules",
    "Group",
    "Hit",
    "ImageStore",
    "IndexReport",
    "IndexState",
    "LabelledSet",
    "LinkReport",
    "Listed",
    "LocalNeo4j",
    "Member",
    "ModelChoice",
    "ModelSpec",
    "ModelUnavailable",
    "Moment",
    "Move",
    "Neo4jSettings",
    "Neo4jUnavailable",
    "Owner",
    "PhotoFilter",
    "Plan",
    "QueryFailed",
    "QueryResult",
    "Refingerprinted",
    "Resolved",
    "RetrievalError",
    "Runtime",
    "Scores",
    "SearchOptions",
    "Server",
    "ServerStatus",
    "Settings",
    "Skipped",
    "Step",
    "Store",
    "StoreStats",
    "Tag",
    "Tier",
    "Undone",
    "UnreadableImage",
    "Upgraded",
    "VectorSpace",
    "attach",
    "check_count",
    "choose_model",
    "distinct",
    "duplicate_page",
    "entry_kind",
    "evaluate",
    "group_paths",
    "index_folder",
    "is_utf8",
    "keeper",
    "label_and_key",
    "load_image",
    "load_model",
    "load_settings",
    "mark_not_duplicates",
    "model_mismatch",
    "neo4j_settings",
    "normalized_folder",
    "nothing_close_line",
    "open_driver",
    "open_store",
    "owners",
    "picture",
    "plan_resolution",
    "prepare",
    "reaching",
    "read_attachments",
    "read_labelled_set",
    "remove_missing",
    "resolve",
    "result_rows",
    "search_examples",
    "search_file",
    "search_image",
    "search_indexed",
    "search_query",
    "stem_attachments",
    "tier_named",
    "tier_of",
    "undo",
    "unmark_not_duplicates",
    "update_links",
    "why_kept",
]
