"""The query photo above the results, or the region picker on it: a box dragged over the photo
searches only that part."""

from __future__ import annotations

import streamlit as st
from PIL import Image, ImageDraw
from streamlit_image_coordinates import streamlit_image_coordinates

from app.markdown import literal
from app.widgets import card
from retrieval import Box, Example
from retrieval.serving import THUMBNAIL_PIXELS


def query_photo(first: Example, photo: Image.Image | None) -> Box | None:
    """The query photo, or the region picker on it (with the box drawn) when the region toggle is on."""
    box = region(photo, first) if photo is not None and st.session_state.get("region_on") else None
    if box is None and photo is not None:
        preview = photo.copy()
        preview.thumbnail((THUMBNAIL_PIXELS, THUMBNAIL_PIXELS))  # encoding the full-size photo is slow on every rerun
        st.image(preview, width="stretch", output_format="JPEG")
        st.caption(f"Query: {literal(first.name)}")
    elif box is None and first.path:
        card(first.path, f"Query: {literal(first.name)}")
    st.toggle("Search a region of the photo", key="region_on", help="Drag a box on the photo: only that part is searched.")
    return box


def region(photo: Image.Image, first: Example) -> Box | None:
    """The box drawn on the query photo (streamlit-image-coordinates, dragged), shown on it; None
    until a box is drawn. The box is kept in photo pixels, so the shown size does not matter."""
    shown = photo.copy()
    shown.thumbnail((2 * THUMBNAIL_PIXELS, 2 * THUMBNAIL_PIXELS))
    scale = photo.width / shown.width
    box: Box | None = st.session_state.get("box")
    if box is not None:
        drawn = [box.left / scale, box.top / scale, (box.left + box.width) / scale, (box.top + box.height) / scale]
        ImageDraw.Draw(shown).rectangle(drawn, outline="#f08c00", width=3)
    st.caption("Drag a box over the part of the photo to search for.")
    drag = streamlit_image_coordinates(
        shown,
        key=f"region:{first.path or first.name}",
        click_and_drag=True,
        width="stretch",
        cursor="crosshair",
        image_format="JPEG",
    )
    if drag and "x1" in drag and drag["unix_time"] != st.session_state.get("box_time"):
        st.session_state.box_time = drag["unix_time"]
        corners = (drag["x1"], drag["y1"], drag["x2"], drag["y2"])
        box = Box.from_corners(corners, photo.width / drag["width"], photo.size)
        st.session_state.box = box
        st.rerun(scope="fragment")  # redraw the photo with the box on it
    if box is not None:
        st.caption(f"Region {box} (left, top, width, height) of {photo.width}x{photo.height}: {literal(first.name)}")
        st.button("Whole photo", key="whole_photo", on_click=st.session_state.pop, args=("box", None))
    return box
