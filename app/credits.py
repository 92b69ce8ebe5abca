"""Credit lines for photos whose licence asks for one, read from a `sources.csv` beside them."""

from __future__ import annotations

import csv
from pathlib import Path

ATTRIBUTION_LICENCES = ("CC BY",)  # CC BY and CC BY-SA ask for a credit; the Unsplash License does not


def load_credits(folder: Path) -> dict[str, str]:
    """File name -> credit line ("Title" by Author, licence), for files whose licence requires it."""
    sources = folder / "sources.csv"
    if not sources.exists():
        return {}
    with sources.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {row["file"]: _credit(row) for row in rows if row["licence"].startswith(ATTRIBUTION_LICENCES)}


def _credit(row: dict[str, str]) -> str:
    author = row["author"].split(" (")[0]  # "Ed Callow (Flickr user ...)" -> "Ed Callow"
    work = f'"{row["title"]}" by {author}' if row["title"] else f"Photo by {author}"
    changed = ", changed" if row["modified"].startswith("derived") else ""  # CC BY asks to say so
    return f"{work}, {row['licence']}{changed}"
