"""Handlers for what comes in and goes out: videos, sessions, imports, exports.

Sessions belong to a browser: a random id kept in the browser's local
storage (gr.BrowserState) names the folder its sessions live in, so one
browser never lists another's work. The id is never shown.
"""
from __future__ import annotations

import json
import threading
import uuid
import weakref
from pathlib import Path

import gradio as gr

from clipvis.formats import YTVISError
from clipvis.video import VideoDecodeError, open_video
from clipvis.video.frames import natural_key

from app import exports
from app.callbacks import view as view_
from app.callbacks.view import changed, folded_ask, tab, tools
from app.messages import for_user, md, problem
from app.model_service import DEFAULT
from app.session import SaveError, Session, StaleEdit, UploadError, store
from app.session.expiry import mark_used
from app.session.frames import SAFE_ID, Limits, check_header
from app.session.imports import import_annotations
from app.view_state import ViewState
from app.viewer.component import EMPTY

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "assets" / "examples"
USER_ERRORS = (ValueError, KeyError, OSError, UploadError, VideoDecodeError, YTVISError, SaveError)


class OpenSessions:
    """One Session object per session folder, shared by every tab that shows
    it: two tabs must edit one document, never two copies that overwrite
    each other. Held weakly: a session no tab shows is closed by the GC."""

    def __init__(self):
        self._open: "weakref.WeakValueDictionary[Path, Session]" = weakref.WeakValueDictionary()
        self._lock = threading.Lock()

    def get(self, root: Path, browser: str, session_id: str) -> Session:
        folder = store.session_dir(root, browser, session_id)
        with self._lock:  # two tabs resuming at once must not open it twice
            session = self._open.get(folder)
            if session is None or session.db.closed:
                session = self._open[folder] = Session.open(root, browser, session_id)
            return session

    def add(self, session: Session) -> Session:
        with self._lock:
            self._open[session.folder] = session
        return session

    def __contains__(self, folder) -> bool:
        with self._lock:
            session = self._open.get(Path(folder))
            return session is not None and not session.db.closed

    def forget(self, folder: Path) -> None:
        with self._lock:
            session = self._open.pop(Path(folder), None)
        if session is not None:
            session.close()


OPEN = OpenSessions()


def examples() -> list[str]:
    return sorted(p.name for p in EXAMPLES_DIR.glob("*.mp4"))


def browser_id(value) -> str:
    """The browser's id, or a new one if it has none (or a malformed one)."""
    return value if isinstance(value, str) and SAFE_ID.match(value) else uuid.uuid4().hex


def session_choices(studio, browser) -> list[tuple[str, str]]:
    return view_.session_choices(studio.config.workdir, browser)


def init_browser(studio, browser) -> dict:
    """Page load: give the browser an id and reopen its most recent session
    (the list offers the others)."""
    browser = browser_id(browser)
    view = ViewState(browser=browser)
    choices = session_choices(studio, browser)
    out = {"browser": browser, "view": view,
           "sessions": gr.update(choices=choices, value=choices[0][1] if choices else None),
           "message": "Load a video or pick an example to start."}
    if not choices:
        return out
    resumed = resume(studio, browser, choices[0][1])
    if "view" not in resumed:  # it could not be opened: say why, offer the list
        return {**out, "message": resumed["message"]}
    others = f" {len(choices) - 1} other session(s) are listed under *Sessions*." if len(choices) > 1 else ""
    return {**out, **resumed, "message": resumed["message"] + others}


def _video_info(session) -> str:
    m = session.meta
    note = f"\n\n{md(m.note)}" if m.note else ""
    return (f"**{md(m.original_name)}** · {m.num_frames} frames (stride {m.stride}) · {m.width}×{m.height} · "
            f"{m.fps:g} fps · {m.num_frames / m.fps if m.fps else 0:.1f} s{note}")


def _paths(files) -> list[Path]:
    """A gr.File value (one path, or a list for a folder) as paths."""
    if not files:
        return []
    return [Path(f) for f in ([files] if isinstance(files, (str, Path)) else files)]


def probe(files, studio=None, stride=1, max_frames=0, min_size=None) -> dict:
    """As soon as a video is uploaded: its size, fps and length, whether this
    studio takes it (from the container's header, before anything is
    decoded), and how long a run of it would take."""
    paths = _paths(files)
    if len(paths) != 1:
        return {"probe": f"{len(paths)} files (frames of a video)" if paths else ""}
    limits = studio.config.limits if studio is not None else Limits()
    stride, limit = max(1, int(stride or 1)), (int(max_frames) if max_frames else None)
    try:
        check_header(paths[0], stride, limit, limits)
        info = open_video(paths[0], stride=stride, max_frames=limit).info
        seconds = min(info.duration, info.num_frames * stride / info.fps) if info.fps else 0.0
        limits.check(info.num_frames, seconds, stride)
    except USER_ERRORS as e:
        return {"probe": f"⚠️ {md(for_user(str(e), {str(paths[0]): paths[0].name}))}"}
    kept = limits.max_side(info.width, info.height)
    stored = "" if kept is None else (f" Kept at {limits.max_resolution}p, this studio's resolution.")
    run = run_estimate(studio, info.num_frames, DEFAULT, min_size)
    return {"probe": f"{md(paths[0].name)}: {info.width}×{info.height} · {info.fps:g} fps · {info.source_num_frames} "
                     f"frames · {info.duration:.1f} s.{stored} {run} Set stride and maximum frames, then press "
                     "**Load**."}


def limits_note(limits: Limits) -> str:
    """'This studio takes videos of at most 10 s (300 frames), kept at 480p.', or '' where no such limit is set."""
    if not limits.max_seconds and not limits.max_resolution:
        return ""
    length = f"at most {limits.max_seconds:g} s ({limits.max_frames} frames)" if limits.max_seconds else \
        f"at most {limits.max_frames} frames"
    kept = f", kept at {limits.max_resolution}p" if limits.max_resolution else ""
    return f"This studio takes videos of {length}{kept}; longer ones are refused before they are decoded."


def run_estimate(studio, frames: int, spec: str, min_size) -> str:
    """'Estimated run time: about 25 s for 10 frames (…).' from the seconds per frame measured here."""
    service = getattr(studio, "service", None)
    if service is None or not frames:
        return ""
    size = int(min_size or service.config.min_size)
    return f"**Estimated run time:** {md(service.estimate(spec, frames, size))}."


def _loaded(studio, view: ViewState, message) -> dict:
    """A session is open in this tab: show it, and fold Load (and Ask, once there are tracks) away."""
    session = view.session
    m = session.meta
    return {**changed(studio, view, message, select=None, seek=view.frame), "video_info": _video_info(session),
            "vocab_text": m.vocab_text, "vocab_std": m.vocab_std or None, "resolution": m.min_size,
            "threshold": m.threshold, "run_status": "",
            "estimate": run_estimate(studio, m.num_frames, DEFAULT, m.min_size),
            "load_acc": gr.update(open=False, label=f"1 · Load — {m.original_name} · {m.num_frames} frames"),
            "ask_acc": folded_ask(session) if session.state.tracks else gr.update(open=True, label="2 · Ask")}


def human_size(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


def _check_quota(studio, browser: str, paths: list[Path]) -> None:
    """Refuse a load that would take this browser's sessions over the quota
    (the upload's own size is the least it will add)."""
    quota = studio.config.quota_bytes
    used = store.folder_bytes(store.browser_dir(studio.config.workdir, browser))
    upload = sum(p.stat().st_size for p in paths if p.is_file())
    if used + upload > quota:
        raise UploadError(f"this browser's sessions take {human_size(used)} of the {human_size(quota)} this studio "
                          f"allows, and the upload is {human_size(upload)}: delete a session under Sessions to "
                          "load another")


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
        if not max_frames and int(stride or 1) == 1:
            opened = _open_cached_example(studio, browser, example)
            if opened is not None:
                return opened
    else:
        return problem("upload a video (or a zip or folder of frames), or pick an example")
    name = paths[0].name if len(paths) == 1 else frames_name(paths)
    try:
        stride = max(1, int(stride or 1))
        limit = int(max_frames) if max_frames and max_frames > 0 else None  # 0 or less: all
        if len(paths) == 1:  # the length limits from the header: nothing copied or decoded beyond them
            check_header(paths[0], stride, limit, studio.config.limits)
        _check_quota(studio, browser, paths)
        session = Session.create(studio.config.workdir, browser, paths, name, stride=stride, max_frames=limit,
                                 min_size=int(min_size or studio.service.config.min_size), limits=studio.config.limits,
                                 progress=lambda d, n: progress((d, n), desc="decoding frames"),
                                 example=example if paths == [EXAMPLES_DIR / str(example)] else "")
    except USER_ERRORS as e:
        # The decoder names the file it opened: the user's copy in the session folder, or the upload.
        return problem(for_user(str(e), {str(p): p.name for p in paths}) if len(paths) == 1 else for_user(str(e)))
    view = ViewState(session=OPEN.add(session), browser=browser)
    return _loaded(studio, view, f"Loaded {md(name)}. Now type what to look for and press **Run**.")


def _open_cached_example(studio, browser: str, example: str) -> dict | None:
    """The example with the tracks of its kept run, in a new session of this browser; None if none is kept."""
    cache = getattr(studio, "examples", None)
    if cache is None or cache.cached(example) is None:
        return None
    try:
        _check_quota(studio, browser, [f for f in cache.cached(example).rglob("*") if f.is_file()])
        session = cache.open_copy(example, studio.config.workdir, browser)
    except USER_ERRORS as e:
        return problem(str(e))
    if session is None:
        return None
    view = ViewState(session=OPEN.add(session), browser=browser)
    return _loaded(studio, view, f"Opened {md(example)} with the {len(session.state.tracks)} tracks of an earlier "
                   "run (kept, so no run was needed). Review them, **Re-label** with your own classes, or **Run** "
                   "again.")


def example_picked(studio, example) -> dict:
    """Under the example list: whether it opens with tracks at once."""
    if not example or example not in examples():
        return {"probe": ""}
    cache = getattr(studio, "examples", None)
    if cache is not None and cache.cached(example) is not None:
        return {"probe": f"{md(example)}: a run is kept: **Load** opens it with its tracks at once, no run needed."}
    return probe(str(EXAMPLES_DIR / example), studio)


def resume(studio, browser, session_id) -> dict:
    browser = browser_id(browser)
    if not session_id:
        return problem("pick a session to resume")
    try:
        session = OPEN.get(studio.config.workdir, browser, session_id)
    except USER_ERRORS as e:
        return problem(f"cannot resume: {e}")
    mark_used(session.folder)  # for --session-ttl-days: opened is used
    notes = "".join(f" {n}" for n in session.notes)
    view = ViewState(session=session, browser=browser)
    return _loaded(studio, view, f"Resumed **{md(session.meta.original_name)}**: {len(session.state.tracks)} "
                   f"tracks, {len(session.undo_stack)} undoable edits.{md(notes)}")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def frames_name(paths) -> str:
    """A session's name for a folder of frames. The browser sends the files without
    their folder (each lands in an upload folder named by a hash, which is no name for
    a user), so the first and last file name it: `frames f00000–f00011`."""
    ordered = sorted((Path(p).stem for p in paths), key=natural_key)
    return f"frames {ordered[0]}–{ordered[-1]}"


DELETE_LABEL = "Delete session and its files"


def withdraw_delete() -> dict:
    return {"delete_pending": None, "delete_session_btn": gr.update(value=DELETE_LABEL)}


def delete_session(studio, browser, session_id, view: ViewState | None = None, pending=None) -> dict:
    """Remove a session and every file of it, on the second press (the first asks).
    A tab showing it is left with no session."""
    browser = browser_id(browser)
    if not session_id:
        return {**problem("pick the session to delete under Sessions"), **withdraw_delete()}
    folder = store.session_dir(studio.config.workdir, browser, session_id)
    if not folder.is_dir():
        return {**problem("that session no longer exists"), **withdraw_delete()}
    name = (store.summary(folder) or {}).get("name", "the session")
    if pending != session_id:
        return {"delete_pending": session_id,
                "delete_session_btn": gr.update(value=f"Press again to delete {name}"),
                "message": f"Delete **{md(name)}** with its edits and exports? This cannot be undone: press "
                           "the red button again to delete it, or pick another session to keep it."}
    OPEN.forget(folder)
    try:
        store.remove_folder(folder)
    except OSError as e:
        return {**problem(f"could not delete {name}: {e}"), **withdraw_delete()}
    choices = session_choices(studio, browser)
    # Nothing preselected: a second press must not delete another session.
    out = {"sessions": gr.update(choices=choices, value=None), **withdraw_delete(),
           "message": f"Deleted {md(name)} and all its files."}
    if view is not None and view.session is not None and view.session.folder == folder:
        out.update({"view": ViewState(browser=browser), "viewer": dict(EMPTY), **tools(None),
                    "video_info": "", "load_acc": gr.update(open=True, label="1 · Load")})
    return out


def import_json(studio, view: ViewState, value, file) -> dict:
    """YTVIS JSON (dataset or results form) onto the loaded video, as one undoable step."""
    if view is None or view.session is None:
        return problem("load the video the annotations belong to first")
    if not file:
        return problem("choose a YTVIS JSON file to import")
    view = tab(view, value)
    session = view.session
    name = Path(file).name
    try:
        obj = json.loads(Path(file).read_text(encoding="utf-8"))
        notes = []

        def make(state):
            proposal = import_annotations(state, session.meta, obj, source=name)
            notes.extend(proposal.notes)
            return proposal

        session.edit(make, base_revision=None)
    except json.JSONDecodeError as e:
        return problem(f"{name} is not valid JSON ({e})")
    except (StaleEdit, *USER_ERRORS) as e:
        return problem(str(e))
    return {**changed(studio, view, f"{_sentence(md('; '.join(notes)))}. Undo reverts the import.", select=None),
            "ask_acc": folded_ask(session)}


def export(view: ViewState, kind: str) -> dict:
    if view is None or view.session is None:
        return problem("nothing to export: load a video first")
    try:
        path, msg = exports.export(view.session, kind)
    except USER_ERRORS as e:
        return problem(str(e))
    return {"export_file": str(path), "message": msg}


def start_examples(studio, mode: str):
    """The bundled examples' cache (app/examples.py), made at start or on first use as `mode` says."""
    from app.deployment import has_gpu
    from app.examples import ExampleCache

    if mode == "off":
        return None
    studio.examples = ExampleCache(studio.config.workdir, studio.service, mode)
    return studio.examples.start(studio, examples(), EXAMPLES_DIR, on_gpu=has_gpu())
