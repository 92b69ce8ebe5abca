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
from retrieval.core.files import FileRules
from retrieval.core.filters import PhotoFilter
from retrieval.core.settings import Settings, load_settings
from retrieval.duplicates import TIERS, DuplicatePage, Group, Tier, duplicate_page
from retrieval.evaluate import Evaluation, LabelledSet, evaluate, prepare, read_labelled_set
from retrieval.examples import search_examples
from retrieval.finding import Skipped
from retrieval.indexing import Embedding, IndexReport, index_folder
from retrieval.neighbours import LinkReport, update_links
from retrieval.neo4j.catalogue import CatalogueFilter
from retrieval.neo4j.connection import open_store
from retrieval.neo4j.images import Hit
from retrieval.neo4j.store import ImageStore
from retrieval.search import SearchOptions, search_file, search_image, search_indexed
from retrieval.vision.embed import Embedder, load_model
from retrieval.vision.models import MODELS, ModelChoice, ModelSpec, choose_model

__all__ = [
    "MODELS",
    "TIERS",
    "BadArgument",
    "CatalogueFilter",
    "ConnectionLost",
    "DuplicatePage",
    "Embedder",
    "Embedding",
    "Evaluation",
    "ExampleGone",
    "FileRules",
    "Group",
    "Hit",
    "ImageStore",
    "IndexReport",
    "LabelledSet",
    "LinkReport",
    "ModelChoice",
    "ModelSpec",
    "ModelUnavailable",
    "Neo4jUnavailable",
    "PhotoFilter",
    "QueryFailed",
    "RetrievalError",
    "SearchOptions",
    "Settings",
    "Skipped",
    "Tier",
    "UnreadableImage",
    "choose_model",
    "duplicate_page",
    "evaluate",
    "index_folder",
    "load_model",
    "load_settings",
    "open_store",
    "prepare",
    "read_labelled_set",
    "search_examples",
    "search_file",
    "search_image",
    "search_indexed",
    "update_links",
]
