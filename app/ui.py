"""build_demo(): the Gradio layout and its event wiring, nothing else.

The page is viewer-first: Load and Ask fold into one line once a video is
open; the frame (with the timeline under it and the track list beside it)
is the largest thing on the page; the correction tools sit right of the
track list. Frames, overlays, playback, zoom, the brush and the keyboard
live in the browser (app/viewer, app/static).

Handlers (app/callbacks) return {output name: value}; `_wire` maps the names
to this layout's components, fills every output the handler left out with a
no-op, and turns an unexpected exception into a message, so no event ever
ends in Gradio's red "Error" badges.
"""
from __future__ import annotations

import functools
import inspect
import logging
import typing
from pathlib import Path

import gradio as gr

from clipvis.vocab import list_vocabularies

from app.callbacks import clicks, edit, files, run, view
from app.clicks.routes import prompt_routes
from app.config import browser_secret
from app.model_service import CUSTOM, DEFAULT
from app.view_state import ViewState
from app.viewer.component import StudioViewer
from app.widgets import clamped_slider
from app.viewer.routes import viewer_routes

CSS = (Path(__file__).resolve().parent / "static" / "studio.css").read_text(encoding="utf-8")
VIEW_CONCURRENCY = 8  # viewing and editing events at once, over all users
RUN_WAITERS = 32  # runs whose progress is being streamed at once (they wait in app.run_job's queue)
log = logging.getLogger("clipvis.studio")


def _complete(result, outputs: list[str], c: dict) -> dict:
    """Every output gets a value: what the handler returned, or a no-op."""
    result = result or {}
    if "export_note" in outputs and "message" in result:  # said again where the user is looking
        result = {"export_note": result["message"], **result}
    return {c[name]: result.get(name, gr.skip()) for name in outputs}


def _failed(fn, outputs, c) -> dict:
    log.exception("handler %s failed", getattr(fn, "__name__", fn))
    return _complete({"message": "⚠️ Something went wrong on the server; nothing was changed by it. "
                                 "The details are in the server's log."} if "message" in outputs else {}, outputs, c)


def _wire(event, fn, inputs, outputs, c: dict, **kwargs):
    """event(fn) where fn returns {name: value}; outputs not named stay as they are."""
    comps = [c[name] for name in outputs]
    base = getattr(fn, "func", fn)

    if inspect.isgeneratorfunction(base):
        def handler(*args, **kw):
            try:
                for result in fn(*args, **kw):
                    yield _complete(result, outputs, c)
            except Exception:
                yield _failed(base, outputs, c)
    else:
        def handler(*args, **kw):
            try:
                return _complete(fn(*args, **kw), outputs, c)
            except Exception:
                return _failed(base, outputs, c)
    # Gradio reads the signature and type hints to pass gr.EventData and
    # gr.Progress: give the wrapper the handler's own, resolved.
    handler.__signature__ = inspect.signature(fn)
    hints = typing.get_type_hints(base)
    handler.__annotations__ = {k: v for k, v in hints.items() if k in handler.__signature__.parameters}
    handler.__name__ = getattr(base, "__name__", "handler")
    return event(handler, inputs=inputs, outputs=comps, **kwargs)


def build_demo(studio) -> gr.Blocks:
    c: dict = {}
    with gr.Blocks(title="CLIP-VIS Studio") as demo:
        c["browser"] = gr.BrowserState(None, storage_key="clipvis_studio_browser",
                                       secret=browser_secret(studio.config.workdir))
        # This tab's view (selection, frame, its run); the session inside is shared with other tabs.
        c["view"] = gr.State(ViewState())
        c["delete_pending"] = gr.State(None)  # the session this tab asked to delete, awaiting the second press
        with gr.Row(elem_id="studio-head", equal_height=False):
            gr.Markdown("**CLIP-VIS Studio**<br>press **?** for the keys", elem_id="title")
            _load_panel(c, studio)
            _ask_panel(c, studio)
        with gr.Row(elem_id="status-row", equal_height=True):
            c["message"] = gr.Markdown(elem_id="message", latex_delimiters=[])
            c["run_status"] = gr.HTML(elem_id="run-status")
            c["cancel_btn"] = gr.Button("Cancel run", size="sm", elem_id="cancel", scale=0, min_width=110)
        with gr.Row(elem_id="work-row"):
            with gr.Column(scale=4, min_width=560):
                c["viewer"] = StudioViewer(elem_id="viewer")
            _tools_panel(c)
        _export_panel(c)
        _events(demo, c, studio)
    demo.viewer_routes = viewer_routes(studio.viewer) + prompt_routes(studio.viewer, studio.prompts)
    return demo


def _load_panel(c, studio):
    with gr.Accordion("1 · Load", open=True, elem_id="load-acc") as c["load_acc"]:
        gr.Markdown("Find, track, correct and export every instance of the classes you type: "
                    "**load → ask → review → correct → export**. Every edit is saved at once.")
        with gr.Tabs():
            with gr.Tab("Video or zip"):
                c["upload"] = gr.File(label="A video (mp4, webm, avi, mov, …) or a zip of frames", elem_id="upload",
                                      height=110)
            with gr.Tab("Folder of frames"):
                c["folder"] = gr.File(label="A folder of JPEG/PNG frames", file_count="directory", height=110)
            with gr.Tab("Example"):
                c["example"] = gr.Dropdown(files.examples(), label="Bundled example", value=None, elem_id="example")
        if files.limits_note(studio.config.limits):  # a shared deployment says its limits before the upload
            gr.Markdown(files.limits_note(studio.config.limits), elem_id="limits-note", latex_delimiters=[])
        c["probe"] = gr.Markdown(elem_id="probe", latex_delimiters=[])
        with gr.Row():
            c["stride"] = gr.Number(1, label="Stride", precision=0, info="every n-th frame")
            c["max_frames"] = gr.Number(0, label="Max frames", precision=0, info="0: all")
        c["load_btn"] = gr.Button("Load video", variant="primary", elem_id="load")
        c["video_info"] = gr.Markdown(elem_id="video-info", latex_delimiters=[])
        with gr.Accordion("Sessions (resume your work)", open=True):
            c["sessions"] = gr.Dropdown(label="Saved sessions of this browser", choices=[], elem_id="sessions")
            with gr.Row():
                c["resume_btn"] = gr.Button("Resume", elem_id="resume")
                c["delete_session_btn"] = gr.Button("Delete session and its files", variant="stop",
                                                    elem_id="delete-session")


def _ask_panel(c, studio):
    # Compact: open, it must leave the frame below it in view on a laptop screen.
    with gr.Accordion("2 · Ask", open=True, elem_id="ask-acc") as c["ask_acc"]:
        c["vocab_text"] = gr.Textbox(label="Classes", lines=1, max_lines=4, elem_id="vocab",
                                     placeholder="person, car, bike|bicycle   (commas or new lines; | joins synonyms)")
        with gr.Row(elem_classes="ask-row"):
            c["vocab_std"] = gr.Dropdown([""] + list_vocabularies(), value=None, label="…and/or a standard vocabulary",
                                         min_width=150, elem_id="vocab-std")
            c["model"] = gr.Dropdown(studio.service.choices(), value=DEFAULT, label="Model", elem_id="model",
                                     min_width=150)
            size = studio.service.config.min_size
            c["resolution"] = gr.Dropdown(sorted({360, 480, 640, 800, size}), value=size, min_width=110,
                                          label="Input size (short side)")
        c["custom"] = gr.Textbox(label="Checkpoint path on the server", visible=False, elem_id="custom-checkpoint")
        with gr.Row(elem_classes="ask-row"):
            c["run_btn"] = gr.Button("▶ Run", variant="primary", elem_id="run", min_width=120)
            c["requery_btn"] = gr.Button("⚡ Re-label (no re-run)", elem_id="requery", min_width=160)
        c["estimate"] = gr.Markdown(elem_id="run-estimate", latex_delimiters=[])
        gr.Markdown("**⚡ Change the question without re-running:** after a run, edit the classes and press "
                    "*Re-label*: every track is re-classified in a moment from the CLIP features stored during "
                    "the run. Labels you set by hand are kept.", elem_id="requery-callout")


def _tools_panel(c):
    with gr.Column(scale=1, min_width=300, elem_id="tools"):
        c["selected_info"] = gr.Markdown("No video loaded.", elem_id="selected-info", latex_delimiters=[])
        with gr.Row(elem_classes="tool-row"):
            c["delete_btn"] = gr.Button("Delete (Del)", variant="stop", size="sm", elem_id="delete")
            c["hide_btn"] = gr.Button("Hide (h)", size="sm", elem_id="hide")
            c["split_btn"] = gr.Button("Split here (s)", size="sm", elem_id="split")
        with gr.Row(elem_classes="tool-row"):
            c["merge_with"] = gr.Dropdown([], label="Merge into the selected one", elem_id="merge-with", scale=3)
            c["merge_btn"] = gr.Button("Merge (m)", size="sm", elem_id="merge", scale=1, min_width=80)
        with gr.Row(elem_classes="tool-row"):
            c["relabel_text"] = gr.Textbox(label="Relabel as (any class; 1–5: top classes)", scale=3,
                                           elem_id="relabel-text", max_lines=1)
            c["relabel_btn"] = gr.Button("Relabel", size="sm", scale=1, min_width=80, elem_id="relabel")
        with gr.Row(elem_classes="tool-row"):
            c["range_start"] = gr.Number(label="From frame", precision=0, elem_id="range-start",
                                         min_width=70)
            c["range_end"] = gr.Number(label="To frame", precision=0, elem_id="range-end", min_width=70)
            c["delete_range_btn"] = gr.Button("Delete these frames", size="sm", elem_id="delete-range",
                                              min_width=90)
        with gr.Row(elem_classes="tool-row"):
            c["copy_n"] = gr.Number(5, label="Copy this frame's mask to the next … frames", precision=0,
                                    scale=2, elem_id="copy-n")
            c["copy_btn"] = gr.Button("Copy forward", size="sm", scale=1, min_width=90, elem_id="copy-forward")
        with gr.Row(elem_classes="tool-row"):
            c["undo"] = gr.Button("↶ Undo (Ctrl+Z)", size="sm", interactive=False, elem_id="undo")
            c["redo"] = gr.Button("↷ Redo", size="sm", interactive=False, elem_id="redo")
        c["history"] = gr.Markdown(elem_id="history", latex_delimiters=[])
        c["threshold"] = clamped_slider(0, 1, value=0, step=0.01, elem_id="threshold",
                                       label="Score threshold (hides weaker instances; deletes nothing)")
        with gr.Accordion("Recover objects the model dropped", open=False):
            c["candidates_btn"] = gr.Button("Show dropped objects (low-score query tracks)", size="sm")
            c["candidates"] = gr.Dropdown([], label="Query tracks the engine kept")
            c["promote_btn"] = gr.Button("Promote to an instance", size="sm")


def _export_panel(c):
    with gr.Accordion("5 · Export (and import)", open=True, elem_id="export-acc"):
        with gr.Row():
            c["exp_dataset"] = gr.Button("YTVIS dataset JSON", size="sm", elem_id="export-dataset")
            c["exp_frames"] = gr.Button("YTVIS dataset + frames (zip)", size="sm", elem_id="export-frames")
            c["exp_results"] = gr.Button("YTVIS results JSON", size="sm", elem_id="export-results")
            c["exp_davis"] = gr.Button("DAVIS PNGs (zip)", size="sm", elem_id="export-davis")
            c["exp_overlay"] = gr.Button("Overlay video (mp4)", size="sm", elem_id="export-overlay")
            c["export_file"] = gr.File(label="Download", interactive=False, elem_id="export-file", height=60)
        # Export and import answer here too: the message line at the top is scrolled away by now.
        c["export_note"] = gr.Markdown(elem_id="export-note", latex_delimiters=[])
        with gr.Accordion("Import YTVIS JSON onto this video (dataset or results form)", open=False,
                          elem_id="import-acc"):
            with gr.Row():
                c["import_file"] = gr.File(label="YTVIS JSON for the loaded video", file_types=[".json"],
                                           elem_id="import-file", height=90)
                c["import_btn"] = gr.Button("Import onto the loaded video", elem_id="import", scale=0,
                                            min_width=200)


def _events(demo, c, studio):
    T, V = c["view"], c["viewer"]  # the tab's state on the server; what its viewer shows
    changed = list(view.CHANGED)
    loaded = [*changed, "video_info", "vocab_text", "vocab_std", "resolution", "threshold", "run_status",
              "load_acc", "ask_acc", "estimate"]
    fast = dict(show_progress="hidden", concurrency_limit=VIEW_CONCURRENCY)
    # Edits queue one after another, each answered in the order asked (an edit takes milliseconds; the
    # session's lock serialises them anyway): a quick second key press is kept, not dropped or overtaken.
    ed = dict(show_progress="hidden", concurrency_limit=1, concurrency_id="edit", trigger_mode="multiple")
    io = dict(show_progress="hidden", concurrency_limit=VIEW_CONCURRENCY)  # sessions and downloads
    w = functools.partial(_wire, c=c)
    p = functools.partial

    # Page load: the browser's id, and its most recent session reopened.
    w(demo.load, p(files.init_browser, studio), [c["browser"]], ["browser", *loaded])
    # What the upload is, whether this studio takes it, and how long a run of it would take: before Load.
    probe_in = [c["upload"], c["stride"], c["max_frames"], c["resolution"]]
    probe = lambda f, stride, n, size: files.probe(f, studio, stride, n, size)  # noqa: E731
    w(c["upload"].upload, probe, probe_in, ["probe"], **fast)
    w(c["example"].change, p(files.example_picked, studio), [c["example"]], ["probe"], **fast)
    for box in (c["stride"], c["max_frames"]):
        w(box.change, probe, probe_in, ["probe"], **{**fast, "trigger_mode": "always_last"})
    w(c["load_btn"].click, p(files.load_video, studio),
      [c["browser"], c["upload"], c["folder"], c["example"], c["stride"], c["max_frames"], c["resolution"]],
      loaded, show_progress_on=[c["load_btn"]], concurrency_limit=VIEW_CONCURRENCY)
    w(c["resume_btn"].click, p(files.resume, studio), [c["browser"], c["sessions"]], loaded, **io)
    w(c["delete_session_btn"].click, p(files.delete_session, studio),
      [c["browser"], c["sessions"], T, c["delete_pending"]],
      ["view", "viewer", "sessions", "message", "delete_pending", "delete_session_btn", "video_info", "load_acc",
       *view.TOOLS], **io)
    # Picking another session withdraws a pending delete (the button asks again).
    w(c["sessions"].change, files.withdraw_delete, [], ["delete_pending", "delete_session_btn"], **fast)
    w(c["import_btn"].click, p(files.import_json, studio), [T, V, c["import_file"]],
      changed + ["ask_acc", "export_note"], **ed)

    # The viewer's own events: a selection in the browser, a top class clicked (or 1-5), brush strokes.
    # One at a time (a millisecond each), so the tools always end on the last selection made.
    # One at a time (a millisecond each), so the tools always end on the last selection made.
    w(V.track, view.select_track, [T, V], ["view", *view.TOOLS], trigger_mode="always_last", show_progress="hidden",
      concurrency_limit=1, concurrency_id="select")
    w(V.relabel, p(edit.relabel_top, studio), [T, V], changed, **ed)
    w(V.paint, p(edit.paint, studio), [T, V], changed, **ed)
    # `input` fires while dragging and on every typed digit: what the slider shows is what applies.
    w(c["threshold"].input, p(edit.set_threshold, studio), [T, V, c["threshold"]], changed,
      **{**ed, "trigger_mode": "always_last"})

    # The model: runs wait in app.run_job's queue (their place shown, Cancel reaches them); the
    # handler only streams progress, and viewing and editing never wait behind it.
    w(c["model"].change, lambda m: {"custom": gr.update(visible=m == CUSTOM)}, [c["model"]], ["custom"], **fast)
    for box in (c["model"], c["resolution"]):  # the estimate under Run follows the model and input size
        w(box.change, p(run.estimate, studio), [T, c["model"], c["custom"], c["resolution"]], ["estimate"],
          **{**fast, "trigger_mode": "always_last"})
    w(c["run_btn"].click, p(run.run, studio),
      [T, c["vocab_text"], c["vocab_std"], c["model"], c["custom"], c["resolution"]],
      ["run_status", "ask_acc", "estimate", *changed], show_progress="hidden", concurrency_limit=RUN_WAITERS,
      concurrency_id="run-progress")
    w(c["cancel_btn"].click, run.cancel, [T], ["message"], **fast)
    # Click to track: the preview is a route (app/clicks/routes.py); Track is a job in the same queue.
    w(V.propagate, p(clicks.track, studio), [T, V, c["model"], c["custom"]], ["run_status", *changed],
      show_progress="hidden", concurrency_limit=RUN_WAITERS, concurrency_id="run-progress")
    w(c["requery_btn"].click, p(run.requery, studio), [T, V, c["vocab_text"], c["vocab_std"]],
      changed + ["run_status", "ask_acc"], concurrency_limit=2, concurrency_id="classify")
    w(c["candidates_btn"].click, p(run.candidates, studio), [T], ["candidates", "message"],
      concurrency_limit=2, concurrency_id="classify")
    w(c["promote_btn"].click, p(run.promote, studio), [T, V, c["candidates"]], changed,
      concurrency_limit=2, concurrency_id="classify")

    # Corrections: each acts on the track selected and the frame shown in this tab's viewer.
    w(c["relabel_btn"].click, p(edit.relabel, studio), [T, V, c["relabel_text"]], changed, **ed)
    w(c["relabel_text"].submit, p(edit.relabel, studio), [T, V, c["relabel_text"]], changed, **ed)
    w(c["delete_btn"].click, p(edit.delete, studio), [T, V], changed, **ed)
    w(c["hide_btn"].click, p(edit.toggle_hidden, studio), [T, V], changed, **ed)
    w(c["split_btn"].click, p(edit.split, studio), [T, V], changed, **ed)
    w(c["delete_range_btn"].click, p(edit.delete_range, studio), [T, V, c["range_start"], c["range_end"]],
      changed, **ed)
    w(c["merge_btn"].click, p(edit.merge, studio), [T, V, c["merge_with"]], changed, **ed)
    w(c["copy_btn"].click, p(edit.copy_forward, studio), [T, V, c["copy_n"]], changed, **ed)
    w(c["undo"].click, p(edit.undo, studio), [T, V], changed, **ed)
    w(c["redo"].click, p(edit.redo, studio), [T, V], changed, **ed)

    for kind in ("dataset", "frames", "results", "davis", "overlay"):
        w(c[f"exp_{kind}"].click, p(files.export, kind=kind), [T], ["export_file", "message", "export_note"], **io)


def launch(demo: gr.Blocks, *, host: str, port: int, share: bool = False, max_upload_mb: float = 1024,
           prevent_thread_lock: bool = False, quiet: bool = False):
    """Queue and serve the studio, with the viewer's routes on the same server."""
    demo.queue(default_concurrency_limit=VIEW_CONCURRENCY)
    return demo.launch(server_name=host, server_port=port, share=share, max_file_size=f"{int(max_upload_mb)}mb",
                       prevent_thread_lock=prevent_thread_lock, quiet=quiet, css=CSS, footer_links=["api"],
                       app_kwargs={"routes": list(getattr(demo, "viewer_routes", []))})
