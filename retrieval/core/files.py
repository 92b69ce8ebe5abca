"""What a file system entry is, told from its metadata alone, and paths as text that can be shown and stored.

Opening a FIFO waits for a writer and a device never ends, so a listing decides what to read from
`stat` without opening anything. File names are bytes on Linux: one that is not valid UTF-8 cannot
be a Neo4j string or be printed as it is, so it is shown with its odd bytes escaped.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from dataclasses import dataclass
from pathlib import Path


def entry_kind(mode: int) -> str:
    """ "file" (a regular one), "folder", or what else a `stat` mode says is there."""
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISFIFO(mode):
        return "FIFO (named pipe)"
    return "device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "socket"


def is_utf8(path: str) -> bool:
    """Whether the name decoded from the file system is real text (not bytes kept as surrogates)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(path: str | Path) -> str:
    """The path as text to print or keep: invalid UTF-8 bytes written as \\xff escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def within(real: Path, roots: tuple[Path, ...]) -> bool:
    """Whether a resolved path is one of the resolved `roots` or lies below one."""
    return any(real == root or root in real.parents for root in roots)


NOT_SHOWN = "not inside the folders the app may read, as it is now (a symbolic link leading elsewhere?)"


def may_read(path: Path, roots: tuple[Path, ...] | None) -> bool:
    """Whether the file at `path` may be read, indexed or shown, where `roots` (resolved) bound what is
    read: below one of them as it is now, links resolved, so a link put in a catalogued file's place
    leads nowhere. With no roots named (()), only a file reached through no symbolic link at all (its
    real path is the path itself). None: any file, as on the user's own machine, where indexing reads any."""
    if roots is None:
        return True
    real = Path(os.path.realpath(path))
    return within(real, roots) if roots else real == Path(os.path.abspath(path))


def normalized_folder(folder: Path) -> Path:
    """Absolute, without "." or ".." (symbolic links kept): paths are the nodes' keys, so `a/../b` must be `b`.
    A file's path, as a search's example, is normalised the same way to find its node."""
    return Path(os.path.abspath(folder))


@dataclass(frozen=True)
class FileRules:
    """What an index run leaves out below its folder: hidden files and folders (a name starting with a
    dot, as `.thumbnails/` or `.git/`) unless `include_hidden`, and paths matching an `exclude` glob,
    relative to the folder (`raw/*`, `*/thumbs/*`; `*` also crosses folders, as in fnmatch). A run that
    prunes removes the nodes of files left out only with `prune_left_out`: leaving a file out of one
    run is not deleting it. A camera RAW beside a picture of the same name in its folder (`IMG_1.CR2`
    and `IMG_1.JPG`) is left out unless `raw_pairs`: it is the same photo, and both would show twice in
    every search."""

    include_hidden: bool = False
    exclude: tuple[str, ...] = ()
    prune_left_out: bool = False
    raw_pairs: bool = False  # also index a camera RAW beside a picture of the same name (by default it is left out)

    def leaves_out(self, relative: str) -> bool:
        """Whether the entry at `relative` (to the folder, with "/" between names) is left out."""
        if not self.include_hidden and any(part.startswith(".") for part in relative.split("/")):
            return True
        return any(fnmatch.fnmatchcase(relative, pattern) for pattern in self.exclude)


DEFAULT_RULES = FileRules()  # hidden entries left out, nothing else
