"""A PNG of an evaluation's worst queries: each row the query, then what came back, framed green
when it has the query's label and red when not. For looking at failures, not at averages: what
`evaluate --worst` writes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from retrieval import QueryResult, load_image

TILE = 150
CAPTION = 34
FRAME = 5
GREEN, RED, GREY = (46, 160, 67), (207, 34, 46), (90, 90, 90)


def save_contact_sheet(queries: Sequence[QueryResult], path: Path, results: int = 6) -> Path:
    """Write one row per query (the query, then its first `results` results) to `path` as PNG."""
    font = ImageFont.load_default(size=13)
    width, height = (results + 1) * TILE, len(queries) * (TILE + CAPTION)
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    for row, query in enumerate(queries):
        y = row * (TILE + CAPTION)
        tiles = [(query.path, f"{query.label}\nAP {query.average_precision:.2f}", GREY)]
        tiles += [(p, f"{label}\n{score:.3f}", GREEN if label == query.label else RED) for p, label, score in query.top[:results]]
        for column, (image_path, caption, colour) in enumerate(tiles):
            x = column * TILE
            draw.rectangle([x, y, x + TILE - 1, y + TILE - 1], fill=colour)
            picture = load_image(Path(image_path))
            picture.thumbnail((TILE - 2 * FRAME, TILE - 2 * FRAME))
            sheet.paste(picture, (x + (TILE - picture.width) // 2, y + (TILE - picture.height) // 2))
            draw.multiline_text((x + 4, y + TILE + 2), caption, fill="black", font=font, spacing=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.quantize(256, dither=Image.Dither.FLOYDSTEINBERG).save(path, "PNG", optimize=True)  # a quarter of the bytes
    return path
