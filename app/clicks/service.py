"""The SAM 2 tracker the studio clicks with, and the prompts in progress.

The tracker loads on the first click (never at start: the studio starts and
works without it) and is kept for the process, as the CLIP-VIS predictor is
(app/model_service.py). If it cannot load (no weights and no network, a
broken folder), the click says why, in SamModelUnavailable's words, and the
next click tries again (the owner may have put the files in place since).

A `Click` is one object being prompted in one session: the library's
PromptSession (it remembers the prompts of every frame clicked), the frame
clicked last and the track it made. A tab's viewer names its Click by a
random id it made; clicks are kept per session token, the most recent few
(each holds SAM 2's features of its prompted frames). After Track, the Click
stays attached to the track it made, so a correction click on a later frame
of that track reuses SAM 2's memory of the first prompts.

SAM 2 runs on the display frames (at most 1280x720; SAM 2 resizes to
1024x1024 anyway): random access, already decoded, cached.
"""
from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

KEEP_CLICKS = 12  # prompts in progress kept over all sessions (each a few MB of SAM 2 features)


class DisplayFrames:
    """A session's display frames as the random-access sequence the tracker reads."""

    def __init__(self, session):
        self._frames = session.frames

    def __len__(self) -> int:
        return len(self._frames)

    def __getitem__(self, t: int) -> np.ndarray:
        return self._frames.get(int(t))


class SamService:
    """The SAM 2 tracker, loaded once on first use. `name`: a Hub repository or
    a folder (--sam-model); None: $CLIPVIS_SAM_MODEL or the library's default."""

    def __init__(self, name: str | None = None, *, device: str = "auto"):
        self.name = name  # resolved on the first click: importing clipvis.prompt (transformers) costs seconds
        self.device = device
        self._tracker = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._tracker is not None

    def tracker(self):
        """The PromptTracker; SamModelUnavailable (its message says what to
        do) if it cannot load. The whole message goes to the server's log."""
        from clipvis.prompt import SamModelUnavailable, load_prompt_tracker, sam_model_name
        with self._lock:
            if self._tracker is None:
                name = sam_model_name(self.name)
                try:
                    self._tracker = load_prompt_tracker(name, device=self.device)
                except SamModelUnavailable as e:
                    print(f"clipvis studio: SAM 2 model {name!r} did not load: {e}", file=sys.stderr, flush=True)
                    raise
            return self._tracker


@dataclass(eq=False)
class Click:
    """One object being prompted in one session (see the module docstring)."""

    id: str
    prompt: object  # clipvis.prompt.PromptSession over the session's display frames
    display_wh: tuple[int, int]
    frame: int | None = None  # the frame clicked last
    track: int | None = None  # the track its last Track made or replaced
    points: int = 0  # prompts given, for the messages
    lock: threading.Lock = field(default_factory=threading.Lock)  # one user of the PromptSession at a time


class ClickRegistry:
    """Clicks by (session token, click id), the most recent KEEP_CLICKS, and by
    (token, track id) once they made a track."""

    def __init__(self, keep: int = KEEP_CLICKS):
        self.keep = keep
        self._clicks: OrderedDict = OrderedDict()
        self._by_track: dict = {}
        self._lock = threading.Lock()

    def get(self, token: str, click_id) -> Click | None:
        with self._lock:
            click = self._clicks.get((token, click_id))
            if click is not None:
                self._clicks.move_to_end((token, click_id))
            return click

    def for_track(self, token: str, track_id) -> Click | None:
        with self._lock:
            return self._by_track.get((token, track_id))

    def put(self, token: str, click: Click) -> Click:
        with self._lock:
            self._clicks[(token, click.id)] = click
            self._clicks.move_to_end((token, click.id))
            while len(self._clicks) > self.keep:
                _, old = self._clicks.popitem(last=False)
                self._by_track = {k: c for k, c in self._by_track.items() if c is not old}
            return click

    def attach(self, token: str, click: Click, track_id: int) -> None:
        """The click made (or corrected) this track: a later click on the track continues it."""
        with self._lock:
            click.track = int(track_id)
            self._by_track = {k: c for k, c in self._by_track.items() if c is not click}
            self._by_track[(token, int(track_id))] = click

    def drop(self, token: str, click_id) -> None:
        """Forget a click (Esc): SAM 2 cannot take a prompt back, so a later
        click on its track starts afresh (it replaces from that frame on)."""
        with self._lock:
            click = self._clicks.pop((token, click_id), None)
            if click is not None:  # a correction shares its track's PromptSession: both are forgotten
                self._by_track = {k: c for k, c in self._by_track.items() if c.prompt is not click.prompt}


@dataclass
class Prompts:
    """What the studio needs for clicking: the tracker and the prompts in progress."""

    sam: SamService
    clicks: ClickRegistry = field(default_factory=ClickRegistry)
