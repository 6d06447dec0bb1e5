"""Text for the page: user-supplied names shown exactly as typed.

Messages and the selection line are Markdown (for the bold of button
names), so any text that comes from a user or a file (a class name, an edit
label that contains one, an error that quotes one) goes through `md`: every
ASCII punctuation character is backslash-escaped, which CommonMark renders
as the character itself, and `<`/`>`/`&` become entities, so `<b>x</b>`,
`*x*` and `[x](y)` all show literally and nothing is interpreted as HTML.
"""
from __future__ import annotations

import html
import re

_PUNCT = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$=:;'\"/?@%^,])")


def md(text) -> str:
    """`text` as Markdown that renders to exactly `text`."""
    escaped = _PUNCT.sub(r"\\\1", str(text))
    return escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def problem(message) -> dict:
    """A refusal: the message says why, nothing else on the page changes."""
    return {"message": f"⚠️ {md(message)}"}


def html_text(text) -> str:
    """Text for an HTML component."""
    return html.escape(str(text), quote=True)
