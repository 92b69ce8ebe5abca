"""The files a run looks at: image files below a folder, by name, and every entry so named that is not
to be read, with its reason, before anything is opened."""

from __future__ import annotations

import os
import posixpath
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from retrieval.core.errors import UnreadableImage
from retrieval.core.files import DEFAULT_RULES, FileRules, entry_kind, is_utf8, may_read, normalized_folder, shown
from retrieval.vision.decode import IMAGE_EXTENSIONS
from retrieval.vision.raw import RAW_EXTENSIONS

# A RAW beside a file of the same name with one of these is the same photo, as its camera (or an editor) rendered it.
PICTURE_EXTENSIONS = IMAGE_EXTENSIONS - RAW_EXTENSIONS


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str

    @property
    def kind(self) -> str:
        """The reason without the details in its closing parentheses ("damaged or truncated image data"), to count
        files by; "a FIFO (named pipe), not a file" keeps its own."""
        depth = 0
        for at in range(len(self.reason) - 1, -1, -1) if self.reason.endswith(")") else ():
            depth += {")": 1, "(": -1}.get(self.reason[at], 0)
            if depth == 0:
                return self.reason[:at].rstrip()
        return self.reason


GONE = "gone since the folder was listed (deleted, moved, or a link to nothing)"
OUTSIDE = "a link to a file outside the folders that may be indexed"


@dataclass
class Listing:
    """What a folder holds for a run: the pictures to read, the entries named like pictures that are not
    to be read (with their reason), and what is counted but not read: entries the run's FileRules leave
    out, RAW files beside a picture of the same name (unless the rules keep them), and files that are not
    pictures (videos, sidecars, ...) by extension ("" for none)."""

    found: list[Path] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    left_out: int = 0
    raw_pairs: int = 0
    others: Counter[str] = field(default_factory=Counter)


def find_images(folder: Path, roots: tuple[Path, ...] | None = None, rules: FileRules = DEFAULT_RULES) -> Listing:
    """Image files below `folder` by extension, sorted, and every other entry so named, and every
    folder that cannot be read, with the reason it is not indexed; how many image files and folders
    `rules` left out (a folder left out is not listed), how many RAW files it left out beside a picture
    of the same name, and the other files by extension. Nothing is opened: a FIFO or a device named
    like an image is reported from its metadata. With `roots` (resolved), a file whose real path
    leaves them (a link pointing elsewhere) is reported, not read."""
    if not folder.is_dir():
        raise UnreadableImage(str(folder), "not a folder")
    folder = normalized_folder(folder)
    listing = Listing()

    def unreadable(error: OSError) -> None:
        listing.skipped.append(Skipped(shown(error.filename), f"cannot read the folder ({error.strerror or error})"))

    for parent, folders, files in os.walk(folder, onerror=unreadable):  # links to folders are listed, not followed
        below = os.path.relpath(parent, folder).replace(os.sep, "/")
        relative = partial(posixpath.join, "" if below == "." else below)
        kept = [name for name in folders if not rules.leaves_out(relative(name))]
        listing.left_out += len(folders) - len(kept)
        folders[:] = kept  # os.walk lists only the folders kept
        folder_names = set(kept)
        pictures = {os.path.splitext(name)[0] for name in files if _extension(name) in PICTURE_EXTENSIONS}
        for name in sorted(kept + files):
            if (extension := _extension(name)) not in IMAGE_EXTENSIONS:
                if name not in folder_names and not rules.leaves_out(relative(name)):
                    listing.others[extension] += 1
                continue
            if rules.leaves_out(relative(name)):
                listing.left_out += 1
                continue
            if extension in RAW_EXTENSIONS and not rules.raw_pairs and os.path.splitext(name)[0] in pictures:
                listing.raw_pairs += 1
                continue
            path = Path(parent, name)
            if (reason := _not_an_image_file(path, roots)) is None:
                listing.found.append(path)
            else:
                listing.skipped.append(Skipped(shown(path), reason))
    listing.found.sort()
    return listing


def _extension(name: str) -> str:
    return os.path.splitext(name)[1].lower()


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
