"""Image similarity search on Neo4j, from your own code (a shop's backend, a notebook).

Read the settings once, load a model, open the store, then index and search::

    settings = load_settings(os.environ, Path.cwd())
    model = load_model(settings)
    with open_store(settings) as store:
        index_folder(store, model, Path("photos"))
        hits = search_file(store, model, Path("photos/cat.jpg"), k=5)

Every failure a user can meet is a `RetrievalError` (or one of its kinds below) whose message says
what to do. The modules below this one are the library's inside: their names may change.
"""

from retrieval.catalogue import (
    Attachment,
    AttachReport,
    Owner,
    attach,
    label_and_key,
    owners,
    read_attachments,
    stem_attachments,
)
from retrieval.closeness import nothing_close_line, reaching
from retrieval.core.errors import (
    BadArgument,
    ConnectionLost,
    ExampleGone,
    ModelUnavailable,
    Neo4jUnavailable,
    QueryFailed,
    RetrievalError,
    UnreadableImage,
)
from retrieval.core.facts import FACTS, Fact
from retrieval.core.files import FileRules, entry_kind, is_utf8, normalized_folder
from retrieval.core.filters import PhotoFilter
from retrieval.core.limits import MAX_RESULTS
from retrieval.core.progress import Count, Step
from retrieval.core.settings import Settings, load_settings
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
)
from retrieval.evaluate import EVALUATION_LABEL, Evaluation, LabelledSet, QueryResult, evaluate, prepare, read_labelled_set
from retrieval.examples import Example, check_count, distinct, search_examples, search_query
from retrieval.finding import Skipped
from retrieval.indexing import Embedding, IndexReport, index_folder
from retrieval.neighbours import NEIGHBOURS, LinkReport, update_links
from retrieval.neo4j.base import DEFAULT_LABEL
from retrieval.neo4j.catalogue import CatalogueFilter
from retrieval.neo4j.connection import open_store
from retrieval.neo4j.images import Hit
from retrieval.neo4j.store import ImageStore
from retrieval.region import Box
from retrieval.resolving import (
    DEFAULT_KEEP,
    KEEP_RULES,
    REVIEW_FOLDER,
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
from retrieval.vision.decode import load_image
from retrieval.vision.embed import Embedder, load_model
from retrieval.vision.models import MODELS, ModelChoice, ModelSpec, choose_model

__all__ = [
    "DEFAULT_KEEP",
    "DEFAULT_LABEL",
    "DEFAULT_TIER",
    "EVALUATION_LABEL",
    "FACTS",
    "KEEP_RULES",
    "MAX_RESULTS",
    "MODELS",
    "NEIGHBOURS",
    "PER_PAGE",
    "REVIEW_FOLDER",
    "TIERS",
    "AttachReport",
    "Attachment",
    "BadArgument",
    "Box",
    "CatalogueFilter",
    "ConnectionLost",
    "Count",
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
    "LabelledSet",
    "LinkReport",
    "Member",
    "ModelChoice",
    "ModelSpec",
    "ModelUnavailable",
    "Neo4jUnavailable",
    "Owner",
    "PhotoFilter",
    "Plan",
    "QueryFailed",
    "QueryResult",
    "Resolved",
    "RetrievalError",
    "SearchOptions",
    "Settings",
    "Skipped",
    "Step",
    "Tier",
    "Undone",
    "UnreadableImage",
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
    "normalized_folder",
    "nothing_close_line",
    "open_store",
    "owners",
    "plan_resolution",
    "prepare",
    "reaching",
    "read_attachments",
    "read_labelled_set",
    "resolve",
    "result_rows",
    "search_examples",
    "search_file",
    "search_image",
    "search_indexed",
    "search_query",
    "stem_attachments",
    "tier_named",
    "undo",
    "unmark_not_duplicates",
    "update_links",
    "why_kept",
]
