"""The schema of a label's images: the path constraint, the similarity links' score index, each vector
space's vector index (declared here once; the benches use it too) and its VectorSpace node, which
records the fingerprint of the model that made its vectors."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from retrieval.core.errors import QueryFailed, RetrievalError
from retrieval.core.facts import FACTS
from retrieval.core.spaces import VectorSpace
from retrieval.neo4j.base import Row
from retrieval.neo4j.filters import FILTER_PROPERTIES
from retrieval.neo4j.listing import CREATE_NEWEST_INDEX
from retrieval.neo4j.resolutions import aside_label
from retrieval.neo4j.upgrade import Refingerprinted, Upgraded, Upgrades

CREATE_CONSTRAINT = "CREATE CONSTRAINT `{constraint}` IF NOT EXISTS FOR (i:`{label}`) REQUIRE i.path IS UNIQUE"

# Duplicate groups read the links at or above a tier's cosine: this index finds them among millions
# of links without reading every one (docs/BENCHMARKS.md, "Duplicate groups, a page at a time").
# A photo filter that the vector index cannot evaluate (5.26, or an older index) counts and ranks the
# images passing it first: these find them without reading every image (the path is the constraint's).
CREATE_FACT_INDEX = "CREATE RANGE INDEX `{name}` IF NOT EXISTS FOR (i:`{label}`) ON (i.`{fact}`)"
INDEXED_FACTS = tuple(fact.filtered for fact in FACTS if fact.indexed)  # declared in core/facts.py

CREATE_LINK_INDEX = "CREATE INDEX similar_to_score IF NOT EXISTS FOR ()-[r:SIMILAR_TO]-() ON (r.model, r.score)"

# The lists marked short (links.py), which every run's end reads again: found through this index, so
# that costs their number, not the catalogue's size. An image with a full list has no entry in it.
CREATE_SHORT_INDEX = "CREATE RANGE INDEX `{name}` IF NOT EXISTS FOR (i:`{label}`) ON (i.`{short}`)"

INDEX_NAMED = "SHOW INDEXES YIELD name WHERE name = $name RETURN name"

# The index's options are written out, not left to the server: a 2026.08+ server's default is
# binary quantization, which keeps half the true neighbours of our vectors (docs/NEO4J.md has the
# recall of each choice). `$config` is the dialect's spelling of the same choice.
# Where the index can filter (2026.01+), it is made with the properties PhotoFilter compares, so a
# filtered search runs inside it (see `Nearest.filters_in_index` for an index made without them).
CREATE_VECTOR_INDEX = "CREATE VECTOR INDEX `{index}` IF NOT EXISTS FOR (i:`{label}`) ON i.`{prop}` OPTIONS {indexConfig: $config}"

CREATE_FILTERED_VECTOR_INDEX = CREATE_VECTOR_INDEX.replace(
    " OPTIONS", " WITH [" + ", ".join(f"i.{name}" for name in FILTER_PROPERTIES) + "] OPTIONS"
)

QUANTIZED = True  # int8 (scalar) quantization: chosen by measured recall@10 on real embeddings (docs/NEO4J.md)

INDEX_STATE = (
    "SHOW VECTOR INDEXES YIELD name, state, populationPercent, options "
    "WHERE name = $index RETURN state, populationPercent AS population, "
    "options.indexConfig.`vector.dimensions` AS dimensions"
)

SPACE_CONSTRAINT = "CREATE CONSTRAINT vector_space_index_unique IF NOT EXISTS FOR (s:VectorSpace) REQUIRE s.index IS UNIQUE"

CLAIM_SPACE = """
MERGE (s:VectorSpace {index: $index})
SET s.model = $model, s.dimensions = $dimensions, s.fingerprint = coalesce(s.fingerprint, $fingerprint)
RETURN s.fingerprint AS fingerprint
"""

SPACE_FINGERPRINT = "MATCH (s:VectorSpace {index: $index}) RETURN s.fingerprint AS fingerprint"

# Forget a space's vectors (its model changed): they cannot be compared with new ones.
FORGET_SPACE = """
MATCH (i:`{label}`) WHERE i.`{prop}` IS NOT NULL
CALL (i) { MATCH (i)-[r:SIMILAR_TO {model: $model}]->() DELETE r }
REMOVE i.`{prop}`, i.`{made_from}`, i.`{compact}`, i.`{linked}`, i.`{listed_at}`, i.`{short}`, i.`{precision}`
"""

SET_FINGERPRINT = "MATCH (s:VectorSpace {index: $index}) SET s.fingerprint = $fingerprint REMOVE s.precision_before"


class Schema(Upgrades):
    """The constraint, vector index and VectorSpace node of a label's spaces."""

    def ensure_schema(self, space: VectorSpace, timeout: float = 300.0) -> Upgraded | None:
        """Create the path constraint and the model's cosine vector index if missing, wait until it is
        ONLINE, and upgrade a database of the previous release (what was done, or None). Only indexing
        and linking do this: searches never write."""
        self._create(CREATE_CONSTRAINT)
        self._create(SPACE_CONSTRAINT)
        self._create(CREATE_NEWEST_INDEX, {"newest": f"{self.label.lower()}_newest"})
        self._create(CREATE_LINK_INDEX)
        for fact in INDEXED_FACTS:
            self._create(CREATE_FACT_INDEX, {"name": f"{self.label.lower()}_{fact}", "fact": fact})
        mark = self._link_names(space)["short"]
        short = {"name": f"{self.label.lower()}_{mark}", "short": mark}
        marked_before = bool(self._query(INDEX_NAMED, name=short["name"]))
        self._create(CREATE_SHORT_INDEX, short)
        self._ensure_vector_index(space, timeout)
        upgraded = self.upgrade(space)
        if not marked_before:
            self.mark_former_short_lists(space)
        return upgraded

    def _create(self, template: str, names: Mapping[str, str] | None = None, **params: Any) -> None:
        """A CREATE ... IF NOT EXISTS of the schema; another run creating the same at the same moment is success."""
        try:
            self._write(template, names, **params)
        except QueryFailed as e:
            if not e.code.endswith("AlreadyExists"):
                raise

    def _ensure_vector_index(self, space: VectorSpace, timeout: float) -> None:
        index = self.index_name(space)
        *typed, flagged = self.dialect.index_configs(space.dimensions, QUANTIZED)
        names = {"index": index, "prop": space.vector_property}
        template = CREATE_FILTERED_VECTOR_INDEX if self.dialect.search_filter else CREATE_VECTOR_INDEX
        try:
            self._create(template, names, config=typed[0] if typed else flagged)
        except QueryFailed as e:
            if not (typed and e.code.endswith("InvalidArguments")):
                raise
            self._create(template, names, config=flagged)  # a server from before the quantization type
        deadline = time.monotonic() + timeout
        while (state := self._index_row(space)) and state["state"] != "ONLINE":
            if state["state"] == "FAILED" or time.monotonic() > deadline:
                raise RetrievalError(f"Vector index {index} is {state['state']} ({state['population']:.0f}% populated).")
            time.sleep(0.2)
        if state and state["dimensions"] != space.dimensions:
            raise RetrievalError(
                f"Vector index {index} has {state['dimensions']} dimensions but {space.model} makes {space.dimensions}; "
                f"drop the index (DROP INDEX {index}) and index again."
            )

    def _index_row(self, space: VectorSpace) -> Row | None:
        rows = self._query(INDEX_STATE, index=self.index_name(space))
        return rows[0] if rows else None

    def claim_space(
        self, space: VectorSpace, fingerprint: str, *, replace: bool = False, former: Mapping[str, str] | None = None
    ) -> Refingerprinted | None:
        """Record which model made this space's vectors (its fingerprint: weights and preprocessing),
        or check it: vectors of another fingerprint must not be mixed with these. A space fingerprinted
        by the previous release for the same weights (`former`: its fingerprints, each with the
        precision it named) is renamed first, nothing re-embedded (what was done, or None). With
        `replace`, the old vectors and links are forgotten and the new fingerprint kept."""
        index = self.index_name(space)
        renamed = self.refingerprint(space, fingerprint, former or {})
        row = self._write(CLAIM_SPACE, index=index, model=space.model, dimensions=space.dimensions, fingerprint=fingerprint)[0][0]
        if row["fingerprint"] == fingerprint:
            return renamed
        if not replace:
            raise RetrievalError(
                f"The vectors in {index} were made by another version of {space.model} (its weights or preprocessing "
                f"differ: fingerprint {row['fingerprint']} in the database, {fingerprint} here), and the two "
                "cannot be compared. Re-embed every image: `python -m retrieval index FOLDER --reembed`, then index "
                "your other folders again."
            )
        forget = {**self._link_names(space), "precision": space.precision_property}
        self._write(FORGET_SPACE, forget, model=space.model)
        # Copies set aside (resolutions.py) lose theirs too: put back, they are embedded anew.
        self._write(FORGET_SPACE, {**forget, "label": aside_label(self.label)}, model=space.model)
        self._write(SET_FINGERPRINT, index=index, fingerprint=fingerprint)
        return None

    def fingerprint(self, space: VectorSpace) -> str | None:
        """The fingerprint of the model that made the stored vectors (None before the first index run)."""
        rows = self._query(SPACE_FINGERPRINT, index=self.index_name(space))
        return rows[0]["fingerprint"] if rows else None
