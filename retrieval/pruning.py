"""The nodes of images whose files are gone: found from the files' metadata, and removed."""

from __future__ import annotations

import os
from pathlib import Path

from retrieval.core.batches import chunks
from retrieval.core.files import entry_kind, normalized_folder
from retrieval.neo4j.store import ImageStore


def stored_paths_below(store: ImageStore, folder: Path | None = None) -> list[str]:
    """Paths of the stored images below `folder` (normalised as indexing stores them), or of all of them."""
    return store.paths(str(normalized_folder(folder)) + os.sep if folder is not None else "")


def remove_missing(store: ImageStore, folder: Path | None = None) -> list[str]:
    """Delete the nodes of images (below `folder`, or anywhere) whose files are gone; returns their paths."""
    gone = missing_files(store, folder)
    remove(store, gone)
    return gone


def missing_files(store: ImageStore, folder: Path | None = None) -> list[str]:
    """Paths of the stored images (below `folder`, or anywhere) whose files are gone. A file that
    cannot be looked at (in a folder this user may not read) is not known to be gone: kept."""
    return [path for path in stored_paths_below(store, folder) if _gone(path)]


def _gone(path: str) -> bool:
    """Whether no file is at `path` any more (nothing there, or a folder or a pipe in its place)."""
    try:
        return entry_kind(os.stat(path).st_mode) != "file"
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:  # permission denied, an I/O error: perhaps still there
        return False


def remove(store: ImageStore, paths: list[str]) -> None:
    for chunk in chunks(paths, 1000):
        store.remove(chunk)
