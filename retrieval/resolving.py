"""Resolving duplicate groups without deleting: keep one copy by a stated rule, move the others into a
review folder (their paths kept below it) with a manifest, take their nodes out of the catalogue, and
undo all of it; and "not duplicates", said once for good.

Order, so that a node is in the catalogue only while its file is at its path (docs/RELIABILITY.md,
"Resolving duplicates"): a resolution writes each move into its manifest (fsync) before anything
moves, sets the group's copies aside in the graph (one transaction per group), then moves their files;
an undo moves the files back first, then puts the nodes back. A run killed between the two steps
leaves a file in place whose node is set aside: the next `index` of its folder (or an undo) puts the
node back (`recover`). A running resolution holds a lock on its manifest, so recovery leaves its
copies alone.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retrieval.core.errors import RetrievalError
from retrieval.core.files import within
from retrieval.duplicates import Group, Member
from retrieval.neo4j.resolutions import ResolutionRecord
from retrieval.neo4j.store import ImageStore

REVIEW_FOLDER = ".duplicates-set-aside"  # hidden: `index` leaves it out
KEEP_RULES = {
    "pixels": "most pixels, then largest file, then earliest date, then shortest path",
    "largest": "largest file, then most pixels, then earliest date, then shortest path",
    "oldest": "earliest date, then most pixels, then largest file, then shortest path",
    "newest": "latest date, then most pixels, then largest file, then shortest path",
}
DEFAULT_KEEP = "pixels"

_NO_DATE = datetime.max.replace(tzinfo=UTC)


def _pixels(m: Member) -> int:
    return (m.width or 0) * (m.height or 0)


def _when(m: Member) -> float:
    """A member's date as a number (an EXIF date, which has no zone, taken as UTC); no date: last."""
    if m.date is None:
        return _NO_DATE.timestamp()
    return (m.date if m.date.tzinfo else m.date.replace(tzinfo=UTC)).timestamp()


_ORDERS: dict[str, Callable[[Member], tuple[float, ...]]] = {
    "pixels": lambda m: (-_pixels(m), -(m.size or 0), _when(m), len(m.path)),
    "largest": lambda m: (-(m.size or 0), -_pixels(m), _when(m), len(m.path)),
    "oldest": lambda m: (_when(m), -_pixels(m), -(m.size or 0), len(m.path)),
    "newest": lambda m: (-_when(m) if m.date else float("inf"), -_pixels(m), -(m.size or 0), len(m.path)),
}


def keeper(group: Group, rule: str = DEFAULT_KEEP) -> Member:
    """The copy `rule` keeps (see KEEP_RULES); ties end on the path's length, then the path."""
    if rule not in _ORDERS:
        raise RetrievalError(f"No keep rule {rule!r}: choose one of {', '.join(KEEP_RULES)}.")
    return min(group.members, key=lambda m: (*_ORDERS[rule](m), m.path))


def why_kept(group: Group, kept: Member, rule: str = DEFAULT_KEEP) -> str:
    """Why `kept` is the one kept, in a few words: the fact of the rule that sets it apart from the
    copy most like it."""
    order = _ORDERS[rule]
    facts = {
        "pixels": f"most pixels ({kept.pixels})",
        "largest": f"largest file ({kept.size or 0:,} bytes)",
        "oldest": "earliest date",
        "newest": "latest date",
    }
    named = [facts[n] for n in _FACT_ORDER[rule]] + ["shortest path", "first path"]
    mine = (*order(kept), kept.path)
    others = [(*order(m), m.path) for m in group.members if m != kept]
    decisive = max((next(n for n, (a, b) in enumerate(zip(mine, o, strict=True)) if a != b) for o in others), default=0)
    return named[decisive] + (", after a tie" if decisive else "")


_FACT_ORDER = {
    "pixels": ["pixels", "largest", "oldest"],
    "largest": ["largest", "pixels", "oldest"],
    "oldest": ["oldest", "pixels", "largest"],
    "newest": ["newest", "pixels", "largest"],
}


@dataclass(frozen=True)
class Move:
    """One copy to set aside: where it is, where it goes, and the group it leaves."""

    source: str
    target: str
    group: int
    keeper: str
    members: tuple[str, ...]  # the whole group, keeper included


@dataclass(frozen=True)
class Plan:
    """What a resolution will do: its id, review folder and moves."""

    id: str
    review: Path
    rule: str
    moves: list[Move]

    @property
    def manifest(self) -> Path:
        return self.review / f"{self.id}.jsonl"

    def lines(self) -> list[str]:
        """What moves where, one line each (for --dry-run and the app's preview)."""
        return [f"group {m.group}: {m.source} -> {m.target} (keeping {m.keeper})" for m in self.moves]


def new_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def plan_resolution(
    groups: Sequence[Group],
    rule: str = DEFAULT_KEEP,
    move_to: Path | None = None,
    kept: dict[int, str] | None = None,
    roots: tuple[Path, ...] | None = None,
) -> Plan:
    """Keep one copy of each group (`kept[group number]` where a person chose, else by `rule`) and
    move the others below the review folder: `move_to`, or a hidden folder in the folder all the
    groups' files lie in. With `roots` (the app served to others), the review folder must lie under one."""
    files = [m.path for g in groups for m in g.members]
    if not files:
        return Plan(new_id(), move_to or Path(REVIEW_FOLDER), rule, [])
    base = Path(os.path.commonpath([os.path.dirname(p) for p in files]))
    review = Path(os.path.abspath(move_to)) if move_to is not None else base / REVIEW_FOLDER
    if move_to is None and base == Path(base.anchor):
        raise RetrievalError(f"The files lie in no common folder below {base}: name a review folder with --move-to.")
    if roots is not None and not within(Path(os.path.realpath(review)), roots):
        raise RetrievalError(f"{review} is not under a folder the app may write in; copies are set aside only there.")
    if Path(os.path.realpath(review)) in [Path(os.path.realpath(p)) for p in files]:
        raise RetrievalError(f"{review} is one of the files.")
    plan_id = new_id()
    moves = []
    for group in groups:
        chosen = (kept or {}).get(group.number) or keeper(group, rule).path
        if chosen not in group.paths:
            raise RetrievalError(f"{chosen} is not in group {group.number}.")
        members = tuple(group.paths)
        for path in group.paths:
            if path != chosen:
                target = review / plan_id / os.path.relpath(path, base)
                moves.append(Move(path, str(target), group.number, chosen, members))
    return Plan(plan_id, review, rule, moves)


@dataclass
class Resolved:
    """What a resolution did."""

    id: str
    manifest: Path
    moved: list[Move] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)

    def summary(self) -> str:
        groups = len({m.group for m in self.moved})
        text = f"Set aside {len(self.moved)} files of {groups} groups into {self.manifest.parent / self.id}"
        text += f"; manifest {self.manifest} (undo: `python -m retrieval duplicates --undo {self.manifest}`)"
        return text + (f"; {len(self.skipped)} left as they are" if self.skipped else "")


def resolve(store: ImageStore, plan: Plan) -> Resolved:
    """Carry out `plan`: manifest first, then per group its nodes set aside, then its files moved."""
    if not plan.moves:
        raise RetrievalError("Nothing to resolve: no group with a copy to set aside.")
    store.ensure_resolution_schema()
    done = Resolved(plan.id, plan.manifest)
    plan.review.mkdir(parents=True, exist_ok=True)
    with _locked_manifest(plan.manifest, create=True) as manifest:
        manifest.write({"resolution": plan.id, "keep": plan.rule, "review": str(plan.review), "at": _now()})
        entries = []
        for move in plan.moves:
            try:
                size, sha = _hashed(Path(move.source))
            except OSError as e:
                done.skipped.append((move.source, f"cannot read it ({e.strerror or e})"))
                continue
            entry: dict[str, Any] = {
                "from": move.source,
                "to": move.target,
                "size": size,
                "sha256": sha,
                "group": move.group,
                "keeper": move.keeper,
                "time": _now(),
            }
            manifest.write(entry)
            entries.append((move, entry))
        store.start_resolution(plan.id, str(plan.manifest), "resolution", [m.source for m, _ in entries])
        by_group: dict[int, list[tuple[Move, dict[str, Any]]]] = {}
        for move, entry in entries:
            by_group.setdefault(move.group, []).append((move, entry))
        for number, moving in by_group.items():
            members, keeper_path = moving[0][0].members, moving[0][0].keeper
            if not os.path.isfile(keeper_path):  # another resolution moved it: these stay, and the manifest says so
                gone = f"the copy to keep, {keeper_path}, is gone"
                for move, _ in moving:
                    manifest.write({"skipped": move.source, "why": gone})
                    done.skipped.append((move.source, gone))
                continue
            aside = set(store.set_aside(plan.id, members, [m.source for m, _ in moving]))
            moved_here = []
            for move, entry in moving:
                why = "" if move.source in aside else f"group {number} changed since it was listed"
                if not why:
                    try:
                        _move_file(Path(move.source), Path(move.target), entry["sha256"])
                    except (OSError, RetrievalError) as e:
                        why = str(e) if isinstance(e, RetrievalError) else e.strerror or str(e)
                        if os.path.lexists(move.source):
                            store.restore([move.source], plan.id)  # it stays in place: back in the catalogue
                if why:
                    manifest.write({"skipped": move.source, "why": why})
                    done.skipped.append((move.source, why))
                    continue
                done.moved.append(move)
                moved_here.append(move.source)
            # An index run that read a file before it moved may have written its node meanwhile.
            store.drop_nodes([p for p in moved_here if not os.path.lexists(p)])
        manifest.write({"done": _now(), "moved": len(done.moved)})
        store.set_resolution_state(plan.id, "done")
    return done


@dataclass
class Undone:
    """What an undo did."""

    id: str
    kind: str
    restored: list[str] = field(default_factory=list)
    left: list[tuple[str, str]] = field(default_factory=list)  # (path, why it stays set aside)

    def summary(self) -> str:
        if self.kind == "distinct":
            return f"Forgot the mark 'not duplicates' of {len(self.restored)} images ({self.id})."
        text = f"Put back {len(self.restored)} files and their nodes ({self.id})"
        return text + (f"; {len(self.left)} stay set aside:" if self.left else ".")


def undo(store: ImageStore, manifest: str | None = None) -> Undone:
    """Undo a resolution (by its manifest's path, or the last one, or the last mark): each file back
    at its path if its hash matches and nothing is there now, then its node back in the catalogue."""
    store.ensure_resolution_schema()
    if manifest:
        record = store.resolution(str(Path(os.path.abspath(manifest))))
        if record is None:
            return _undo_manifest_only(store, Path(manifest))
    else:
        open_ = store.resolutions(["done", "running"])
        if not open_:
            raise RetrievalError("Nothing to undo: no resolution or mark is in force.")
        record = open_[0]
    if record.state == "undone":
        raise RetrievalError(f"Resolution {record.id} was undone already.")
    if record.kind == "distinct":
        store.unmark_distinct(record.paths, record.id)
        store.set_resolution_state(record.id, "undone")
        return Undone(record.id, record.kind, restored=record.paths)
    assert record.manifest is not None
    return _undo_moves(store, record, Path(record.manifest))


def _undo_manifest_only(store: ImageStore, manifest: Path) -> Undone:
    """A manifest the graph does not know (another database, or a graph restored from a backup)."""
    if not manifest.is_file():
        raise RetrievalError(f"No manifest at {manifest}.")
    first = _lines(manifest)[:1] or [{}]
    rid = str(first[0].get("resolution", manifest.stem))
    return _undo_moves(store, ResolutionRecord(rid, str(manifest), "resolution", "done", datetime.now(UTC), []), manifest)


def _undo_moves(store: ImageStore, record: ResolutionRecord, manifest: Path) -> Undone:
    done = Undone(record.id, "resolution")
    try:
        locked = _locked_manifest(manifest, create=False)
        with locked as journal:
            back = []
            for entry in _entries(manifest):
                source, target = Path(entry["from"]), Path(entry["to"])
                why = _move_back(source, target, entry["sha256"])
                if why:
                    done.left.append((str(source), why))
                else:
                    back.append(str(source))
            store.restore(back, None)
            done.restored = back
            journal.write({"undone": _now(), "restored": len(back), "left": len(done.left)})
    except FileNotFoundError:
        raise RetrievalError(f"No manifest at {manifest}.") from None
    if store.resolution(record.id) is not None:
        store.set_resolution_state(record.id, "undone")
    return done


def _move_back(source: Path, target: Path, sha: str) -> str:
    """Put a copy back at `source` from `target`; "" when it is at `source`, else why not."""
    if os.path.lexists(source):
        if os.path.lexists(target) and os.path.samefile(source, target):
            os.unlink(target)  # a move stopped between its link and its unlink: one file, in place
        if _hashed(source)[1] == sha:
            return ""
        return f"another file is at {source} now; the copy stays at {target}"
    if not os.path.lexists(target):
        return f"the copy is no longer at {target}"
    if _hashed(target)[1] != sha:
        return f"{target} changed since it was set aside (its SHA-256 differs); left there"
    _move_file(target, source, sha)
    return ""


def mark_not_duplicates(store: ImageStore, paths: Sequence[str]) -> str:
    """Mark the images at `paths` as no duplicates of one another: no link between two of them joins a
    group again, in any tier, whatever is indexed or linked later. Returns the mark's id (for undo)."""
    unique = sorted(set(paths))
    if len(unique) < 2:
        raise RetrievalError("Name at least two different images that are not duplicates.")
    store.ensure_resolution_schema()
    if missing := [p for p in unique if p not in store.member_facts(unique)]:
        raise RetrievalError(f"Not in the catalogue: {', '.join(missing[:5])}.")
    mark = new_id()
    store.start_resolution(mark, None, "distinct", unique)
    store.mark_distinct(unique, mark)
    store.set_resolution_state(mark, "done")
    return mark


def unmark_not_duplicates(store: ImageStore, paths: Sequence[str]) -> int:
    """Forget every "not duplicates" mark holding all of `paths`; returns how many."""
    if len(set(paths)) < 2:
        raise RetrievalError("Name at least two images of a mark.")
    store.ensure_resolution_schema()
    return store.unmark_distinct(paths)


def recover(store: ImageStore, folder: Path | None = None) -> list[str]:
    """After a resolution or an undo was stopped (kill -9, power): put back in the catalogue the nodes
    set aside (below `folder`) whose files are at their paths again, unless a running resolution set
    them aside, and close the stopped resolutions. Returns the paths put back."""
    prefix = str(Path(os.path.abspath(folder))) + os.sep if folder is not None else ""
    aside = store.aside_below(prefix)
    if not aside:
        return []
    running = {r.id: r for r in store.resolutions(["running"])}
    live = {rid for rid, r in running.items() if r.manifest and _is_locked(Path(r.manifest))}
    back = [p for p, rid in aside.items() if rid not in live and os.path.lexists(p)]
    restored = store.restore(back)
    for rid in set(running) - live:
        store.set_resolution_state(rid, "done")
    return restored


class _Journal:
    """A manifest open for appending: every line reaches the disk before `write` returns."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, line: dict[str, Any]) -> None:
        os.write(self.fd, (json.dumps(line, ensure_ascii=False) + "\n").encode())
        os.fsync(self.fd)


@contextmanager
def _locked_manifest(path: Path, *, create: bool) -> Iterator[_Journal]:
    """The manifest, locked for this process (a lock the kernel drops if the process dies)."""
    flags = os.O_WRONLY | os.O_APPEND | (os.O_CREAT | os.O_EXCL if create else 0)
    fd = os.open(path, flags, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RetrievalError(f"{path} is in use by another resolution or undo; try again when it ends.") from None
        if create:
            _sync_folder(path.parent)
        yield _Journal(fd)
    finally:
        os.close(fd)


def _is_locked(path: Path) -> bool:
    """Whether a live process holds the manifest's lock (it is resolving now)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def _lines(manifest: Path) -> list[dict[str, Any]]:
    lines = []
    for text in manifest.read_text().splitlines():
        try:
            lines.append(json.loads(text))
        except json.JSONDecodeError:  # a line cut short by a crash: its move never started
            continue
    return lines


def _entries(manifest: Path) -> list[dict[str, Any]]:
    """The manifest's moves, less those it says were skipped (a run stopped before saying: all)."""
    lines = _lines(manifest)
    skipped = {line["skipped"] for line in lines if "skipped" in line}
    return [line for line in lines if {"from", "to", "sha256"} <= set(line) and line["from"] not in skipped]


def _hashed(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _move_file(source: Path, target: Path, sha: str) -> None:
    """Move a file without ever replacing one at `target`: a hard link then the unlink of the source
    (a copy, checked by its hash, across file systems), each folder synced."""
    if _hashed(source)[1] != sha:
        raise RetrievalError(f"{source} changed since it was listed; left in place")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except FileExistsError:
        raise RetrievalError(f"a file is at {target} already; {source} left in place") from None
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
        partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        shutil.copy2(source, partial)
        if _hashed(partial)[1] != sha:
            partial.unlink()
            raise RetrievalError(f"the copy of {source} differs from it; left in place") from None
        try:
            os.link(partial, target)
        finally:
            partial.unlink()
    _sync_folder(target.parent)
    os.unlink(source)
    _sync_folder(source.parent)


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
