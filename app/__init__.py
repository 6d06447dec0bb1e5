"""CLIP-VIS Studio: the browser app (`python app.py`).

    config.py         flags and environment variables
    model_service.py  the predictor, loaded lazily, once per process
    session/          one video's shared document: tracks, edits with undo/redo, in SQLite
    view_state.py     what one browser tab looks at (selection, brush target, frame, its run)
    messages.py       what the user reads: no server paths, no ids
    render.py         overlays, colours, the plotly timeline and class chart
    exports.py        YTVIS / DAVIS / overlay-mp4 downloads
    callbacks/        plain handlers the UI calls (testable without a browser)
    ui.py             build_demo(): the Gradio layout and event wiring only

The studio knows the engine only through its public API (clipvis.load_predictor,
VideoPredictor.propagate/finish/classify, VideoResult, VideoAnalysis, Vocabulary)
and the data layer (clipvis.video, clipvis.formats, clipvis.vocab).
"""
