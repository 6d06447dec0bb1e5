"""What one browser tab looks at, as opposed to the document it looks at.

Each tab holds a ViewState in its own `gr.State` (kept on the server, never
sent to the browser). The Session inside is the shared document: two tabs that
open one session hold the same Session object, but each has its own
selection and frame, so one tab's Delete acts on that tab's selection.
`revision` is the document revision last shown to the tab: edits carry it,
and the Session refuses one that would act on a track changed since (in
another tab). The tab's viewer (app/viewer) owns the frame, the selection
and the brush in the browser and sends them with every event; handlers copy
them in first (app/callbacks/view.py `tab`). Brush strokes carry the track
and frame they were painted on.

ViewState is immutable: handlers return a changed copy (`with_`), so no tab can
change another's view through a shared object.
"""
from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ViewState:
    session: object = None  # app.session.Session, shared with the other tabs that show it
    browser: str | None = None  # the browser's id (never shown)
    frame: int = 0
    selected: int | None = None  # track id
    revision: int = 0

    def with_(self, **changes) -> "ViewState":
        return replace(self, **changes)

    @property
    def selected_track(self):
        """The selected Track, or None if nothing (or a track deleted since) is selected."""
        if self.session is None or self.selected is None:
            return None
        return self.session.state.tracks.get(self.selected)
