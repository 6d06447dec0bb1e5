"""build_demo(): the Gradio layout and its event wiring, nothing else.

Handlers (app/callbacks) return {output name: value}; `_wire` maps the names
to this layout's components. Concurrency: the model run is limited to one at
a time (its own queue group); viewing and editing events are not held up by it.
"""
from __future__ import annotations

import functools
import inspect
import typing

import gradio as gr

from clipvis.vocab import list_vocabularies

from app.callbacks import edit, files, run, view
from app.config import browser_secret
from app.model_service import CUSTOM, DEFAULT
from app.render import TABLE_COLUMNS
from app.view_state import ViewState

CSS = """
.run-status progress { width: 100%; height: 14px; }
.run-status.error { color: #b42318; font-weight: 600; }
.run-status.ok { color: #05603a; }
#requery-callout { border-left: 4px solid #f79009; padding: 4px 10px; background: #fffaeb; }
#message { min-height: 1.6em; }
"""

VIEW_CONCURRENCY = 8  # viewing and editing events at once, over all users


def _wire(event, fn, inputs, outputs, c: dict, **kwargs):
    """event(fn) where fn returns {name: value}; only named outputs change."""
    comps = [c[name] for name in outputs]

    def to_components(result):
        return {c[name]: value for name, value in (result or {}).items() if name in outputs}

    if inspect.isgeneratorfunction(getattr(fn, "func", fn)):
        def handler(*args, **kw):
            for result in fn(*args, **kw):
                yield to_components(result)
    else:
        def handler(*args, **kw):
            return to_components(fn(*args, **kw))
    # Gradio reads the signature and type hints to pass gr.SelectData and
    # gr.Progress: give the wrapper the handler's own, resolved.
    handler.__signature__ = inspect.signature(fn)
    hints = typing.get_type_hints(getattr(fn, "func", fn))
    handler.__annotations__ = {k: v for k, v in hints.items() if k in handler.__signature__.parameters}
    handler.__name__ = getattr(getattr(fn, "func", fn), "__name__", "handler")
    return event(handler, inputs=inputs, outputs=comps, **kwargs)


def build_demo(studio) -> gr.Blocks:
    c: dict = {}
    with gr.Blocks(title="CLIP-VIS Studio") as demo:
        c["browser"] = gr.BrowserState(None, storage_key="clipvis_studio_browser",
                                       secret=browser_secret(studio.config.workdir))
        # This tab's view (selection, brush target, frame, its run); the session inside is shared.
        c["view"] = gr.State(ViewState())
        c["playing"] = gr.State(False)
        gr.Markdown("# CLIP-VIS Studio\nFind, track, correct and export every instance of the classes you type: "
                    "**load → ask → review → correct → export**. Every edit is saved at once.")
        c["message"] = gr.Markdown(elem_id="message")
        with gr.Row():
            with gr.Column(scale=1, min_width=330):
                _load_panel(c)
                _ask_panel(c, studio)
            with gr.Column(scale=3):
                _review_panel(c)
                _correct_panel(c)
                _export_panel(c)
        _events(demo, c, studio)
    return demo


def _load_panel(c):
    gr.Markdown("## 1 · Load")
    with gr.Tabs():
        with gr.Tab("Video or zip"):
            c["upload"] = gr.File(label="A video (mp4, webm, avi, mov, …) or a zip of frames", elem_id="upload")
        with gr.Tab("Folder of frames"):
            c["folder"] = gr.File(label="A folder of JPEG/PNG frames", file_count="directory")
        with gr.Tab("Example"):
            c["example"] = gr.Dropdown(files.examples(), label="Bundled example", value=None, elem_id="example")
    c["probe"] = gr.Markdown(elem_id="probe")
    with gr.Row():
        c["stride"] = gr.Number(1, label="Stride", precision=0, minimum=1, info="every n-th frame")
        c["max_frames"] = gr.Number(0, label="Max frames", precision=0, minimum=0, info="0: all")
    c["load_btn"] = gr.Button("Load video", variant="primary", elem_id="load")
    c["video_info"] = gr.Markdown(elem_id="video-info")
    with gr.Accordion("Sessions (resume your work)", open=True):
        c["sessions"] = gr.Dropdown(label="Saved sessions of this browser", choices=[], elem_id="sessions")
        with gr.Row():
            c["resume_btn"] = gr.Button("Resume", elem_id="resume")
            c["delete_session_btn"] = gr.Button("Delete session and its files", variant="stop",
                                                elem_id="delete-session")
    with gr.Accordion("Import YTVIS JSON (dataset or results form)", open=False):
        c["import_file"] = gr.File(label="YTVIS JSON for the loaded video", file_types=[".json"])
        c["import_btn"] = gr.Button("Import onto the loaded video")


def _ask_panel(c, studio):
    gr.Markdown("## 2 · Ask")
    c["vocab_text"] = gr.Textbox(label="Classes", lines=2, elem_id="vocab",
                                 placeholder="person, car, bike|bicycle   (commas or new lines; | joins synonyms)")
    c["vocab_std"] = gr.Dropdown([""] + list_vocabularies(), value=None, label="…and/or a standard vocabulary")
    c["model"] = gr.Dropdown(studio.service.choices(), value=DEFAULT, label="Model")
    c["custom"] = gr.Textbox(label="Checkpoint path on the server", visible=False)
    size = studio.service.config.min_size
    c["resolution"] = gr.Dropdown(sorted({360, 480, 640, 800, size}), value=size,
                                  label="Model input size (short side, pixels)")
    with gr.Row():
        c["run_btn"] = gr.Button("▶ Run", variant="primary", elem_id="run")
        c["cancel_btn"] = gr.Button("Cancel", variant="stop", elem_id="cancel")
    c["run_status"] = gr.HTML(elem_id="run-status")
    gr.Markdown("**⚡ Change the question without re-running.** After a run, edit the classes above and press "
                "*Re-label*: every track is re-classified in a moment from the CLIP features stored during the "
                "run. Labels you set by hand are kept.", elem_id="requery-callout")
    c["requery_btn"] = gr.Button("⚡ Re-label with these classes (no re-run)", elem_id="requery")


def _review_panel(c):
    gr.Markdown("## 3 · Review")
    gr.Markdown("Click an instance on the frame or in the table to select it.")
    c["viewer"] = gr.Image(show_label=False, interactive=False, format="jpeg", elem_id="viewer", height=480,
                           buttons=["download", "fullscreen"])
    c["frame"] = gr.Slider(0, 1, value=0, step=1, label="Frame", elem_id="frame")
    with gr.Row():
        c["prev"] = gr.Button("◀ Prev", size="sm", elem_id="prev")
        c["play"] = gr.Button("▶ Play", size="sm", elem_id="play")
        c["next"] = gr.Button("Next ▶", size="sm", elem_id="next")
        c["frame_info"] = gr.Markdown(elem_id="frame-info")
    c["timer"] = gr.Timer(0.2, active=False)
    c["threshold"] = gr.Slider(0, 1, value=0, step=0.01, label="Score threshold (hides weaker instances, deletes nothing)",
                               elem_id="threshold")
    with gr.Tabs():
        with gr.Tab("Instances"):
            c["table"] = gr.Dataframe(headers=TABLE_COLUMNS, interactive=False, elem_id="instances", max_height=320)
        with gr.Tab("Timeline"):
            c["timeline"] = gr.Plot(label="Tracks over frames (hover for scores)", elem_id="timeline")


def _correct_panel(c):
    gr.Markdown("## 4 · Correct")
    c["selected_info"] = gr.Markdown("No instance selected.", elem_id="selected-info")
    with gr.Row():
        with gr.Column():
            c["top5"] = gr.Radio([], label="Relabel in one click: the model's top classes", elem_id="top5")
            with gr.Row():
                c["relabel_text"] = gr.Textbox(label="…or type any class", scale=3, elem_id="relabel-text")
                c["relabel_btn"] = gr.Button("Relabel", scale=1, elem_id="relabel")
        c["class_chart"] = gr.Plot(label="Top classes of the selected instance")
    with gr.Row():
        c["delete_btn"] = gr.Button("Delete instance", variant="stop", size="sm", elem_id="delete")
        c["hide_btn"] = gr.Button("Hide / show", size="sm", elem_id="hide")
        c["split_btn"] = gr.Button("Split at this frame", size="sm", elem_id="split")
    with gr.Row():
        c["range_start"] = gr.Number(label="From frame", precision=0, minimum=0, elem_id="range-start")
        c["range_end"] = gr.Number(label="To frame", precision=0, minimum=0, elem_id="range-end")
        c["delete_range_btn"] = gr.Button("Delete from these frames", size="sm", elem_id="delete-range")
    with gr.Row():
        c["merge_with"] = gr.Dropdown([], label="Merge this instance into the selected one", elem_id="merge-with")
        c["merge_btn"] = gr.Button("Merge", size="sm", elem_id="merge")
    with gr.Accordion("Brush: edit the selected mask on this frame", open=False, elem_id="brush-panel"):
        c["edit_btn"] = gr.Button("Edit mask on this frame", size="sm", elem_id="edit-mask")
        c["editor"] = gr.ImageEditor(label="Paint to add, erase to remove", type="numpy", image_mode="RGBA",
                                     sources=(), transforms=(), layers=False, elem_id="editor",
                                     interactive=True, canvas_size=edit.EDITOR_CANVAS, fixed_canvas=True,
                                     brush=gr.Brush(colors=["#ff0000"], color_mode="fixed"), eraser=gr.Eraser())
        with gr.Row():
            c["apply_btn"] = gr.Button("Apply mask", variant="primary", size="sm", elem_id="apply-mask")
            c["copy_n"] = gr.Number(5, label="Copy this frame's mask to the next … frames", precision=0, minimum=1)
            c["copy_btn"] = gr.Button("Copy forward", size="sm")
    with gr.Accordion("Recover objects the model dropped", open=False):
        c["candidates_btn"] = gr.Button("Show dropped objects (low-score query tracks)", size="sm")
        c["candidates"] = gr.Dropdown([], label="Query tracks the engine kept")
        c["promote_btn"] = gr.Button("Promote to an instance", size="sm")
    with gr.Row():
        c["undo"] = gr.Button("↶ Undo", size="sm", interactive=False, elem_id="undo")
        c["redo"] = gr.Button("↷ Redo", size="sm", interactive=False, elem_id="redo")
        c["history"] = gr.Markdown(elem_id="history")


def _export_panel(c):
    gr.Markdown("## 5 · Export")
    with gr.Row():
        c["exp_dataset"] = gr.Button("YTVIS dataset JSON", size="sm", elem_id="export-dataset")
        c["exp_results"] = gr.Button("YTVIS results JSON", size="sm", elem_id="export-results")
        c["exp_davis"] = gr.Button("DAVIS PNGs (zip)", size="sm", elem_id="export-davis")
        c["exp_overlay"] = gr.Button("Overlay video (mp4)", size="sm", elem_id="export-overlay")
    c["export_file"] = gr.File(label="Download", interactive=False, elem_id="export-file", height=90)


def _events(demo, c, studio):
    V = c["view"]
    F = c["frame"]
    full = list(view.FULL_VIEW)
    loaded = [*full, "video_info", "vocab_text", "vocab_std", "resolution", "run_status"]
    fast = dict(show_progress="hidden", concurrency_limit=VIEW_CONCURRENCY)
    ed = dict(concurrency_limit=VIEW_CONCURRENCY)
    w = functools.partial(_wire, c=c)
    p = functools.partial

    # Page load: the browser's id, and its most recent session reopened.
    w(demo.load, p(files.init_browser, studio), [c["browser"]], ["browser", *loaded])
    w(c["upload"].upload, files.probe, [c["upload"]], ["probe"], **fast)
    w(c["load_btn"].click, p(files.load_video, studio),
      [c["browser"], c["upload"], c["folder"], c["example"], c["stride"], c["max_frames"], c["resolution"]],
      loaded, show_progress_on=[c["viewer"]], **ed)
    w(c["resume_btn"].click, p(files.resume, studio), [c["browser"], c["sessions"]], loaded, **ed)
    w(c["delete_session_btn"].click, p(files.delete_session, studio), [c["browser"], c["sessions"], V],
      ["view", "sessions", "message"], **ed)
    w(c["import_btn"].click, files.import_json, [V, c["import_file"], F], full, **ed)

    # Viewing: fast, never queued behind a run.
    w(F.input, view.frame_view, [V, F], ["view", "viewer", "frame_info"], trigger_mode="always_last", **fast)
    w(c["prev"].click, p(view.step, delta=-1), [V, F], ["view", "frame", "viewer", "frame_info"], **fast)
    w(c["next"].click, p(view.step, delta=1), [V, F], ["view", "frame", "viewer", "frame_info"], **fast)
    w(c["play"].click, view.toggle_play, [V, c["playing"]], ["timer", "play", "playing"], **fast)
    w(c["timer"].tick, view.play_tick, [V, F], ["view", "frame", "viewer", "frame_info", "timer", "play"], **fast)
    w(c["table"].select, view.select_from_table, [V, F], full, **fast)
    w(c["viewer"].select, view.select_from_image, [V, F], full, **fast)
    w(c["threshold"].release, edit.set_threshold, [V, F, c["threshold"]], full, **ed)

    # The model: one run at a time over all users; progress streams while the UI stays usable.
    w(c["model"].change, lambda m: {"custom": gr.update(visible=m == CUSTOM)}, [c["model"]], ["custom"], **fast)
    running = w(c["run_btn"].click, p(run.run, studio),
                [V, c["vocab_text"], c["vocab_std"], c["model"], c["custom"], c["resolution"]],
                ["view", "run_status", "message"], concurrency_limit=1, concurrency_id="inference",
                # "minimal" on the status only: a queued run shows its place in the queue there.
                show_progress="minimal", show_progress_on=[c["run_status"]])
    w(running.then, run.after_run, [V, F], full)
    w(c["cancel_btn"].click, run.cancel, [V], ["message"], **fast)
    w(c["requery_btn"].click, p(run.requery, studio), [V, c["vocab_text"], c["vocab_std"], F],
      full + ["run_status"], concurrency_limit=2, concurrency_id="classify")
    w(c["candidates_btn"].click, p(run.candidates, studio), [V], ["candidates", "message"],
      concurrency_limit=2, concurrency_id="classify")
    w(c["promote_btn"].click, p(run.promote, studio), [V, c["candidates"], F], full,
      concurrency_limit=2, concurrency_id="classify")

    # Corrections: each acts on this tab's selection, against the revision this tab's view shows.
    w(c["top5"].input, edit.relabel, [V, F, c["top5"]], full, **ed)
    w(c["relabel_btn"].click, edit.relabel, [V, F, c["relabel_text"]], full, **ed)
    w(c["relabel_text"].submit, edit.relabel, [V, F, c["relabel_text"]], full, **ed)
    w(c["delete_btn"].click, edit.delete, [V, F], full, **ed)
    w(c["hide_btn"].click, edit.toggle_hidden, [V, F], full, **ed)
    w(c["split_btn"].click, edit.split, [V, F], full, **ed)
    w(c["delete_range_btn"].click, edit.delete_range, [V, F, c["range_start"], c["range_end"]], full, **ed)
    w(c["merge_btn"].click, edit.merge, [V, F, c["merge_with"]], full, **ed)
    w(c["edit_btn"].click, edit.open_editor, [V, F], ["view", "editor", "message"], **ed)
    w(c["apply_btn"].click, edit.apply_editor, [V, F, c["editor"]], full, **ed)
    w(c["copy_btn"].click, edit.copy_forward, [V, F, c["copy_n"]], full, **ed)
    w(c["undo"].click, edit.undo, [V, F], full, **ed)
    w(c["redo"].click, edit.redo, [V, F], full, **ed)

    for kind in ("dataset", "results", "davis", "overlay"):
        w(c[f"exp_{kind}"].click, p(files.export, kind=kind), [V], ["export_file", "message"], **ed)


def launch(demo: gr.Blocks, *, host: str, port: int, share: bool = False, max_upload_mb: float = 1024,
           prevent_thread_lock: bool = False, quiet: bool = False):
    """Queue and serve the studio (the model run is limited per event, viewing is not)."""
    demo.queue(default_concurrency_limit=VIEW_CONCURRENCY)
    return demo.launch(server_name=host, server_port=port, share=share, max_file_size=f"{int(max_upload_mb)}mb",
                       prevent_thread_lock=prevent_thread_lock, quiet=quiet, css=CSS, footer_links=["api"])
