"""Click to track: prompts on the viewer's frame, a mask preview, then SAM 2
propagation as a background job whose result is one undoable edit, labelled by
the open vocabulary. The studio side of issue 14; the model is
`clipvis.prompt` (docs/PROMPT.md), called and never reached into.

    service.py   the SAM 2 tracker, loaded once on first use; the prompts in progress (Click, ClickRegistry)
    routes.py    POST /clipvis/v/{token}/prompt: a prompt -> the mask preview (PNG), outside Gradio's queue
    job.py       TrackJob: propagate, pool and classify, commit; queued with the model runs, cancellable
    labels.py    a clicked track's CLIP vector -> its top classes; re-label from the stored vectors
"""
