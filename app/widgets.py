"""Gradio components that answer bad values with the handler's sentence, not an error toast.

Gradio checks a Number's or Slider's bounds before the handler runs and, out
of bounds, shows its own red error ("Value 2 is greater than maximum value 1.")
and logs a traceback. The studio's numbers have no bounds on the Number
(handlers check them and say what is wrong), and its slider clamps what is
typed into its box to the slider's range, which is what the slider then shows.
"""
from __future__ import annotations

import gradio as gr


class ClampedSlider(gr.Slider):
    """A gr.Slider (same browser component) that clamps out-of-range input."""

    def get_block_name(self) -> str:
        return "slider"

    def preprocess(self, payload):
        try:
            payload = min(max(float(payload), self.minimum), self.maximum)
        except (TypeError, ValueError):
            payload = self.minimum
        return super().preprocess(payload)
