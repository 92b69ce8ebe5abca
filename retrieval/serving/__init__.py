"""What a served front end needs beyond `retrieval` (the Streamlit app imports these two and no other
module of the library): who may change the index and which folders it may read (access), the
process's one indexing run (jobs), a search's neighbourhood as a graph of thumbnails
(thumbnail_graph), the thumbnails themselves, the choices a catalogue filter offers, and the Neo4j
driver's errors turned into messages on a page. Plain Python, no Streamlit: any front end can use it.
The modules below this one are its inside: their names may change."""

from retrieval.catalogue import OWNER_VALUES_SHOWN, owner_keys, owner_labels, owner_values
from retrieval.core.settings import PASSWORD_KEY
from retrieval.neo4j.errors import driver_errors
from retrieval.serving.access import (
    AccessPolicy,
    Attempt,
    LoginThrottle,
    Proxies,
    catalogued,
    folder_under_roots,
    from_this_machine,
    load_policy,
    visitor_address,
)
from retrieval.serving.jobs import IndexJob, IndexRun, unreachable
from retrieval.serving.thumbnail_graph import (
    MAX_NODES,
    QUERY_NODE,
    GraphEdge,
    GraphNode,
    ThumbnailGraph,
    query_node,
    small_jpeg,
    thumbnail_graph,
)
from retrieval.vision.thumbnails import THUMBNAIL_PIXELS, thumbnail

__all__ = [
    "MAX_NODES",
    "OWNER_VALUES_SHOWN",
    "PASSWORD_KEY",
    "QUERY_NODE",
    "THUMBNAIL_PIXELS",
    "AccessPolicy",
    "Attempt",
    "GraphEdge",
    "GraphNode",
    "IndexJob",
    "IndexRun",
    "LoginThrottle",
    "Proxies",
    "ThumbnailGraph",
    "catalogued",
    "driver_errors",
    "folder_under_roots",
    "from_this_machine",
    "load_policy",
    "owner_keys",
    "owner_labels",
    "owner_values",
    "query_node",
    "small_jpeg",
    "thumbnail",
    "thumbnail_graph",
    "unreachable",
    "visitor_address",
]
