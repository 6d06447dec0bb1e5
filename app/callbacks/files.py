"""Handlers for what comes in and goes out: videos, sessions, imports, exports.

Sessions belong to a browser: a random id kept in the browser's local
storage (gr.BrowserState) names the folder its sessions live in, so one
browser never lists another's work.
"""
from __future__ import annotations

import json
import time
import uuid
import weakref
from pathlib import Path

import gradio as gr

from clipvis.formats import YTVISError
from clipvis.video import VideoDecodeError, open_video

from app import exports
from app.callbacks.text import md, problem
from app.callbacks.view import changed, folded_ask, where
from app.session import Session, UploadError, store
from app.session.frames import SAFE_ID
from app.session.imports import import_annotations

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "assets" / "examples"
USER_ERRORS = (ValueError, KeyError, OSError, UploadError, VideoDecodeError, YTVISError)

# One Session object per folder, shared by the tabs that show it, so two tabs
# cannot overwrite each other's edits with stale copies.
_OPEN: "weakref.WeakValueDictionary[Path, Session]" = weakref.WeakValueDictionary()


def examples() -> list[str]:
    return sorted(p.name for p in EXAMPLES_DIR.glob("*.mp4"))


def browser_id(value) -> str:
    """The browser's id, or a new one if it has none (or a malformed one)."""
    return value if isinstance(value, str) and SAFE_ID.match(value) else uuid.uuid4().hex


def session_choices(studio, browser) -> list[tuple[str, str]]:
    out = []
    for s in store.list_sessions(studio.config.workdir, browser):
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(s["updated"]))
        out.append((f"{s['name']} · {s['frames']} frames · {s['tracks']} tracks · {when}", s["id"]))
    return out


def init_browser(studio, browser) -> dict:
    """Page load: give the browser an id, and offer its sessions to resume."""
    browser = browser_id(browser)
    choices = session_choices(studio, browser)
    msg = (f"You have {len(choices)} saved session(s): pick one under *Sessions* and press **Resume**."
           if choices else "Load a video or pick an example to start.")
    return {"browser": browser, "sessions": gr.update(choices=choices, value=choices[0][1] if choices else None),
            "message": msg}


def _video_info(session) -> str:
    m = session.meta
    warn = f"\n\n⚠️ {session.warning}" if session.warning else ""
    return (f"**{m.original_name}** · {m.num_frames} frames (stride {m.stride}) · {m.width}×{m.height} · "
            f"{m.fps:g} fps · {m.num_frames / m.fps if m.fps else 0:.1f} s{warn}")


def _paths(files) -> list[Path]:
    """A gr.File value (one path, or a list for a folder) as paths."""
    if not files:
        return []
    return [Path(f) for f in ([files] if isinstance(files, (str, Path)) else files)]


def probe(files) -> dict:
    """Show a video's size, fps and length as soon as it is uploaded."""
    paths = _paths(files)
    if len(paths) != 1:
        return {"probe": f"{len(paths)} files (frames of a video)" if paths else ""}
    try:
        info = open_video(paths[0]).info
    except USER_ERRORS as e:
        return {"probe": f"⚠️ {e}"}
    return {"probe": f"{paths[0].name}: {info.width}×{info.height} · {info.fps:g} fps · {info.source_num_frames} "
                     f"frames · {info.duration:.1f} s. Set stride and maximum frames, then press **Load**."}


def _opened(session: Session) -> Session:
    _OPEN[session.folder] = session
    return session


def _loaded(studio, browser, session, message) -> dict:
    """A session is open in this tab: show it, and fold Load (and Ask, once there are tracks) away."""
    m = session.meta
    return {"session": session, **changed(studio, session, None, message, select=None, seek=0),
            "video_info": _video_info(session),
            "sessions": gr.update(choices=session_choices(studio, browser), value=m.id),
            "vocab_text": m.vocab_text, "vocab_std": m.vocab_std or None, "resolution": m.min_size,
            "threshold": m.threshold, "run_status": "",
            "load_acc": gr.update(open=False, label=f"1 · Load — {m.original_name} · {m.num_frames} frames"),
            "ask_acc": folded_ask(session) if session.state.tracks else gr.update(open=True, label="2 · Ask")}


def load_video(studio, browser, files, folder_files, example, stride, max_frames, min_size,
               progress=gr.Progress()) -> dict:
    """A new session from an upload, a folder of frames or a bundled example."""
    browser = browser_id(browser)
    if files:
        paths = _paths(files)
    elif folder_files:
        paths = _paths(folder_files)
    elif example:
        if example not in examples():  # a name from our list, never a path from the client
            return problem(f"no bundled example called {example!r}")
        paths = [EXAMPLES_DIR / example]
    else:
        return problem("upload a video (or a zip or folder of frames), or pick an example")
    name = paths[0].name if len(paths) == 1 else f"{paths[0].parent.name or 'frames'} ({len(paths)} frames)"
    try:
        stride = max(1, int(stride or 1))
        limit = int(max_frames) if max_frames else None
        session = Session.create(studio.config.workdir, browser, paths, name, stride=stride, max_frames=limit,
                                 min_size=int(min_size or 480), limits=studio.config.limits,
                                 progress=lambda d, n: progress((d, n), desc="decoding frames"))
    except USER_ERRORS as e:
        return problem(str(e))
    return _loaded(studio, browser, _opened(session),
                   f"Loaded {md(name)}. Now type what to look for and press **Run**.")


def resume(studio, browser, session_id) -> dict:
    browser = browser_id(browser)
    if not session_id:
        return problem("pick a session to resume")
    try:
        folder = store.session_dir(studio.config.workdir, browser, session_id)
        session = _OPEN.get(folder) or _opened(Session.open(studio.config.workdir, browser, session_id))
    except USER_ERRORS as e:
        return problem(f"cannot resume: {e}")
    n = len(session.state.tracks)
    return _loaded(studio, browser, session, f"Resumed **{md(session.meta.original_name)}**: {n} tracks, "
                   f"{len(session.history.undo_stack)} undoable edits.")


def import_json(studio, session, value, file) -> dict:
    """YTVIS JSON (dataset or results form) onto the loaded video, as one undoable step."""
    if session is None:
        return problem("load the video the annotations belong to first")
    if not file:
        return problem("choose a YTVIS JSON file to import")
    try:
        obj = json.loads(Path(file).read_text(encoding="utf-8"))
        proposal = import_annotations(session.state, session.meta, obj, source=Path(file).name)
        session.commit(proposal)
    except json.JSONDecodeError as e:
        return problem(f"{Path(file).name} is not valid JSON ({e})")
    except USER_ERRORS as e:
        return problem(str(e))
    return {**changed(studio, session, where(session, value).selected,
                      f"Imported: {md('; '.join(proposal.notes))}. Undo reverts the import.", select=None),
            "ask_acc": folded_ask(session)}


def export(session, kind: str) -> dict:
    if session is None:
        return problem("nothing to export: load a video first")
    try:
        path, msg = exports.export(session, kind)
    except USER_ERRORS as e:
        return problem(str(e))
    return {"export_file": str(path), "message": msg}
