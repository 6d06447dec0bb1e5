"""CLIP-VIS Studio: the browser app (`python app.py`).

    config.py         flags and environment variables
    model_service.py  the predictor, loaded lazily, once per process
    session/          one video's shared document: tracks, edits with undo/redo, in SQLite
    view_state.py     what one browser tab looks at (selection, brush target, frame, its run)
    messages.py       what the user reads: no server paths, no ids, names shown literally
    viewer/           the frame viewer: its component, HTTP routes for frames and overlays, overlay rendering
    static/           the browser side: viewer.js (canvas, playback, brush, timeline), keyboard.js, studio.css
    run_job.py        model runs: the queue (one at a time, place shown, cancellable) and a run's progress
    exports.py        YTVIS / DAVIS / overlay-mp4 downloads
    callbacks/        plain handlers the UI calls (testable without a browser)
    ui.py             build_demo(): the Gradio layout and event wiring only

The studio knows the engine only through its public API (clipvis.load_predictor,
VideoPredictor.propagate/finish/classify, VideoResult, VideoAnalysis, Vocabulary)
and the data layer (clipvis.video, clipvis.formats, clipvis.vocab).
"""
