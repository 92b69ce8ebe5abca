"""Text put into the app's Markdown as it is: a file name, a path, a catalogue value or a URL's value
is hostile input, and must never draw a heading, a link or bold text.

Streamlit renders most text (st.markdown, st.caption, st.warning, st.error, st.success, st.info,
st.progress's text) as GitHub-flavoured Markdown, and adds emoji and icon shortcodes (`:smile:`,
`:material/home:`), colour directives (`:red[...]`), LaTeX (`$...$`) and typographic symbols
(`->`, `--`, `>=`). CommonMark lets any ASCII punctuation character be escaped with a backslash, which
stops every construct parsed from the text; the shortcodes and symbols are replaced in the parsed text
afterwards, so a zero-width space is put inside each of them, which shows nothing.

The graph component's node titles are another way in (`as_text_in_graph`).
"""

from __future__ import annotations

import re
import string

PUNCTUATION = re.compile(f"([{re.escape(string.punctuation)}])")
# Inside a typographic symbol (<-, ->, --, >=, <=, ~=) or at the start of a shortcode (":" then a letter, + or -).
REPLACED_PAIR = re.compile(r"(?<=:)(?=[\w+-])|(?<=[<>~-])(?=[<>=-])")
BREAKS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
ZERO_WIDTH_SPACE = "\u200b"


def literal(text: str) -> str:
    """Markdown that shows `text` as it is, on one line (line breaks and control characters become a space)."""
    one_line = BREAKS.sub(" ", text)
    return PUNCTUATION.sub(r"\\\1", REPLACED_PAIR.sub(ZERO_WIDTH_SPACE, one_line))


WORD_JOINER = "\u2060"  # invisible, and neither a space nor a character a URL scheme or a tag may start with


def as_text_in_graph(text: str) -> str:
    """`text` for a node title of streamlit-agraph, shown as it is in vis-network's tooltip. The
    component also parses each title as HTML (a detached div's innerHTML: a name with `<img onerror=...>`
    would run its script in the app's origin) and opens it as an address on a double click (a name
    starting `javascript:` would run too). An invisible word joiner after each "<" leaves no tag or
    comment to parse, and one before the text no scheme to open."""
    return WORD_JOINER + text.replace("<", "<" + WORD_JOINER)
