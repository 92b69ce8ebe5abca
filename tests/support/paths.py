"""Where the tests' real parts are: the project, its demo photos and app, the labelled bench photos."""

from __future__ import annotations

from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
DEMO_IMAGES = PROJECT / "images"
APP = str(PROJECT / "streamlit_app.py")
BENCH = PROJECT.parent / "shared" / "bench" / "caltech101"
