"""The files a run looks at: image files below a folder, by name, and every entry so named that is not
to be read, with its reason, before anything is opened."""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from retrieval.core.errors import UnreadableImage
from retrieval.core.files import DEFAULT_RULES, FileRules, entry_kind, is_utf8, may_read, normalized_folder, shown
from retrieval.vision.decode import IMAGE_EXTENSIONS


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


GONE = "gone since the folder was listed (deleted, moved, or a link to nothing)"
OUTSIDE = "a link to a file outside the folders that may be indexed"


def find_images(
    folder: Path, roots: tuple[Path, ...] | None = None, rules: FileRules = DEFAULT_RULES
) -> tuple[list[Path], list[Skipped], int]:
    """Image files below `folder` by extension, sorted, and every other entry so named, and every
    folder that cannot be read, with the reason it is not indexed, and how many image files and
    folders `rules` left out (a folder left out is not listed). Nothing is opened: a FIFO or a
    device named like an image is reported from its metadata. With `roots` (resolved), a file whose
    real path leaves them (a link pointing elsewhere) is reported, not read."""
    if not folder.is_dir():
        raise UnreadableImage(str(folder), "not a folder")
    folder = normalized_folder(folder)
    found, skipped = [], []
    left_out = 0

    def unreadable(error: OSError) -> None:
        skipped.append(Skipped(shown(error.filename), f"cannot read the folder ({error.strerror or error})"))

    for parent, folders, files in os.walk(folder, onerror=unreadable):  # links to folders are listed, not followed
        below = os.path.relpath(parent, folder).replace(os.sep, "/")
        relative = partial(posixpath.join, "" if below == "." else below)
        kept = [name for name in folders if not rules.leaves_out(relative(name))]
        left_out += len(folders) - len(kept)
        folders[:] = kept  # os.walk lists only the folders kept
        for name in sorted(kept + files):
            if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                if rules.leaves_out(relative(name)):
                    left_out += 1
                    continue
                path = Path(parent, name)
                if (reason := _not_an_image_file(path, roots)) is None:
                    found.append(path)
                else:
                    skipped.append(Skipped(shown(path), reason))
    return sorted(found), skipped, left_out


def _not_an_image_file(path: Path, roots: tuple[Path, ...] | None) -> str | None:
    """Why `path`, named like an image, is not to be read (None: it is a file to read)."""
    if not is_utf8(str(path)):
        return "the name is not valid UTF-8, so it cannot be stored (rename the file)"
    try:
        kind = entry_kind(path.stat().st_mode)
    except FileNotFoundError:
        return "broken symbolic link"
    except OSError as e:
        return f"cannot look at it ({e.strerror or e})"
    if kind != "file":
        return f"a {kind}, not a file"
    return outside(path, roots)


def outside(path: Path, roots: tuple[Path, ...] | None) -> str | None:
    """Why `path` may not be read under `roots` (None: it may)."""
    return None if may_read(path, roots) else OUTSIDE


def below(folder: Path, path: str) -> str:
    """`path` relative to `folder` (normalised as indexing stores it), with "/" between names, as FileRules reads it."""
    return os.path.relpath(path, normalized_folder(folder)).replace(os.sep, "/")
