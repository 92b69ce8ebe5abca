"""Where the tests' real parts are: the project, its demo photos and app, the labelled bench photos."""

from __future__ import annotations

import shutil
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
DEMO_IMAGES = PROJECT / "images"
APP = str(PROJECT / "streamlit_app.py")
BENCH = PROJECT.parent / "shared" / "bench" / "caltech101"


def copy_bench_photos(folder: Path, count: int | None = None) -> None:
    """The first `count` bench photos (all by default) copied into a new `folder`, each named
    class_file, so that photos of different classes with the same file name do not collide."""
    folder.mkdir()
    for source in sorted((BENCH / "images").rglob("*.jpg"))[:count]:
        shutil.copy(source, folder / f"{source.parent.name}_{source.name}")


def copy_class_photos(folder: Path, count: int, label: str = "dalmatian") -> list[Path]:
    """The first `count` bench photos of one class (`label`) copied into `folder` (made if need be), in order."""
    folder.mkdir(parents=True, exist_ok=True)
    copies = []
    for source in sorted((BENCH / "images" / label).glob("*.jpg"))[:count]:
        copies.append(folder / source.name)
        shutil.copy(source, copies[-1])
    return copies


def demo_folders(parent: Path, sizes: dict[str, int]) -> dict[str, Path]:
    """Folders of demo photos below `parent`, in turn: {"first": 5, "more": 20} copies the first 5
    (in name order) into first/ and the next 20 into more/."""
    demo = iter(sorted(DEMO_IMAGES.glob("*.jpg")))
    folders = {}
    for name, size in sizes.items():
        folders[name] = parent / name
        folders[name].mkdir()
        for _ in range(size):
            shutil.copy(next(demo), folders[name])
    return folders
