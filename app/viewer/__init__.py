"""The studio's viewer: the browser draws, the server renders pixels and answers.

    component.py  StudioViewer (a gr.HTML) and the value it exchanges with the handlers
    routes.py     the HTTP routes it fetches frames, overlays, masks and the track list from
    document.py   a consistent snapshot of a session, and the track list as JSON
    overlays.py   overlay and mask images from the RLE masks; what is under a click
    registry.py   the unguessable token of each open session; the bounded render cache

The browser side is app/static/viewer.js (canvas, prefetch, playback, zoom
and pan, brush, timeline, track list) and app/static/keyboard.js.
"""
