"""Gradio components that answer bad values with the handler's sentence, not an error toast.

Gradio checks a Number's or Slider's bounds before the handler runs and, out
of bounds, shows its own red error ("Value 2 is greater than maximum value 1.")
and logs a traceback. The studio's numbers have no bounds on the Number
(handlers check them and say what is wrong), and its slider clamps what is
typed into its box to the slider's range, which is what the slider then shows.
"""
from __future__ import annotations

import types

import gradio as gr


def clamped_slider(minimum: float, maximum: float, **kwargs) -> gr.Slider:
    """A gr.Slider whose out-of-range input is clamped instead of refused.

    The instance's preprocess is replaced rather than subclassing: a Component
    subclass makes Gradio write a type stub next to this file at import."""
    slider = gr.Slider(minimum, maximum, buttons=[], **kwargs)  # no reset button: it did not fire `input`
    plain = slider.preprocess

    def preprocess(self, payload):
        try:
            payload = min(max(float(payload), self.minimum), self.maximum)
        except (TypeError, ValueError):
            payload = self.minimum
        return plain(payload)

    slider.preprocess = types.MethodType(preprocess, slider)
    return slider
