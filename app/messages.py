"""Messages the user reads: never a server path, never the browser's id.

The browser id is the only key to a browser's sessions, so it must not be
shown; server paths say nothing to a user and too much to a stranger. Errors
raised deep down (a decoder naming the file it opened) pass through `for_user`,
which puts the user's own file name where a path of theirs was, and a file's
name where any other path was.
"""
from __future__ import annotations

import html
import re

_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?(?:/[^\s/'\"<>:|]+)+/?")
_ID = re.compile(r"\b[0-9a-f]{32}\b")
_PUNCT = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$=:;'\"/?@%^,])")
_ERRNO = re.compile(r"\[Errno -?\d{4,}\]\s*")  # a decoder's raw error code means nothing to a user


def in_folder(folder, name: str) -> dict:
    """`names` for for_user: any path under a session folder is the user's file."""
    return {str(folder): name}


def for_user(text: str, names: dict | None = None) -> str:
    """`text` with the given server paths ({path: the user's name for it})
    replaced, other absolute paths reduced to their file name, and ids removed."""
    text = str(text)
    for path, name in sorted((names or {}).items(), key=lambda kv: -len(str(kv[0]))):
        # The path and whatever names a file under it (source.mp4, source_frames/00012.png, ...).
        text = re.sub(re.escape(str(path)) + r"(?:/[^\s'\"<>:|]*)?", lambda _: name, text)
    text = _PATH.sub(lambda m: m.group(0).rstrip("/").rsplit("/", 1)[-1] or "/", text)
    text = _ID.sub("…", text)
    return _ERRNO.sub("", text)


def md(text) -> str:
    """`text` as Markdown that renders to exactly `text`.

    Messages and the selection line are Markdown (for the bold of button
    names), so any text from a user or a file (a class name, an edit label
    that holds one, an error that quotes one) goes through here: every ASCII
    punctuation character is backslash-escaped, which CommonMark renders as
    the character itself, and `<`/`>`/`&` become entities, so `<b>x</b>`,
    `*x*` and `[x](y)` all show literally and nothing is read as HTML."""
    escaped = _PUNCT.sub(r"\\\1", str(text))
    return escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def html_text(text) -> str:
    """Text for an HTML component, shown literally."""
    return html.escape(str(text), quote=True)


def problem(message: str, **updates) -> dict:
    """A handler's answer when something is refused or failed: the message
    (no server path, shown literally), plus any other outputs to update (all
    else stays as it is). No toast: a toast would render the text as HTML."""
    return {**updates, "message": f"⚠️ {md(for_user(message))}"}
