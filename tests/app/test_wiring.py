"""Every event of the page answers with a value for each of its outputs, on
any input, and a failing handler becomes a message: Gradio never has a
reason to show its red "Error" badges. Also the queue of model runs."""
from __future__ import annotations

import inspect
import threading
import types

import gradio as gr
import pytest

from app.config import Studio, StudioConfig, parse_args
from app.run_job import RunJob, RunQueue
from app.ui import build_demo
from app.view_state import ViewState
from tests.app.conftest import tab


@pytest.fixture
def demo(tmp_path):
    class NoModel:  # the layout asks the service for its choices and input size only
        config = types.SimpleNamespace(min_size=480)

        def choices(self):
            return [("configured", "default")]

        def spec(self, choice, custom_path=""):
            raise ValueError(f"no model {choice!r} here")

    args = parse_args(["--workdir", str(tmp_path / "work")])
    return build_demo(Studio(config=StudioConfig.from_args(args), service=NoModel()))


def garbage_inputs(fn, n: int, view):
    """Inputs a broken or hostile client could send (the tab's view is the server's own)."""
    values = [view, {"frame": "x", "selected": [1], "rev": "y"}, None, "", -1, float("nan")]
    args = [values[i % len(values)] for i in range(n)]
    if "evt" in inspect.signature(fn).parameters:
        args.append(types.SimpleNamespace(_data={"track": "nope", "png": 5, "frame": None}))
    return args


def outputs_of(result, block_fn):
    if inspect.isgenerator(result):
        result = list(result)
        assert result, "a generator handler yielded nothing"
        return result
    return [result]


@pytest.mark.parametrize("session_kind", ["none", "tracked"])
def test_every_handler_fills_every_output(demo, session_kind, request):
    session = ViewState() if session_kind == "none" else tab(request.getfixturevalue("tracked"))
    checked = 0
    for block_fn in demo.fns.values():
        fn = block_fn.fn
        if fn is None or not block_fn.outputs:
            continue
        n_inputs = len(block_fn.inputs)
        args = garbage_inputs(fn, n_inputs, session)
        for answer in outputs_of(fn(*args), block_fn):
            assert isinstance(answer, dict) and answer, fn.__name__
            assert set(answer) == set(block_fn.outputs), fn.__name__
        checked += 1
    assert checked >= 20


def test_a_handler_that_raises_becomes_a_message(demo, monkeypatch):
    from app.callbacks import edit
    delete = next(f for f in demo.fns.values() if getattr(f.fn, "__name__", "") == "delete")

    def broken(*a, **k):
        raise RuntimeError("boom")
    monkeypatch.setattr(edit, "run_edit", broken)
    answer = delete.fn(ViewState(), {"frame": 0})
    message = next(v for comp, v in answer.items() if getattr(comp, "elem_id", None) == "message")
    assert "Something went wrong" in message and "boom" not in message
    assert all(v == gr.skip() for comp, v in answer.items() if getattr(comp, "elem_id", None) != "message")


# ---- the queue of runs -----------------------------------------------------------------

class Gate:
    """A model pass that lasts until the test opens its gate."""

    def __init__(self):
        self.gate, self.started = threading.Event(), []

    def loaded(self, spec):
        return True

    def get(self, spec):
        return None

    def analyse(self, spec, frames, **kwargs):
        self.started.append(spec)
        self.gate.wait(60)
        from clipvis import Cancelled
        raise Cancelled("stop")


def test_runs_wait_their_turn_show_their_place_and_leave_when_cancelled(tracked):
    queue, service = RunQueue(), Gate()
    jobs = [RunJob(session=tracked, service=service, spec=f"run{k}", vocabulary=tracked.state.vocabulary,
                   min_size=64, queue=queue).start() for k in range(3)]
    for _ in range(100):
        if service.started:
            break
        threading.Event().wait(0.05)
    assert service.started == ["run0"]
    assert [j.ahead for j in jobs] == [0, 1, 2]
    assert "1 run ahead of yours (place 2 in the queue)" in jobs[1].status_html()
    assert "2 runs ahead" in jobs[2].status_html()
    assert "removed" in jobs[1].stop()  # waiting: out of the queue at once
    assert jobs[1].done.is_set() and jobs[1].cancelled and "before it started" in jobs[1].error
    assert jobs[2].ahead == 1
    assert "Cancelling" in jobs[0].stop()  # working: stopped between frames
    service.gate.set()
    for j in jobs:
        assert j.done.wait(30)
    assert service.started == ["run0", "run2"]  # the withdrawn run never reached the model


def test_numbers_out_of_range_reach_the_handler_not_gradios_error(demo):
    """Gradio raises (a red toast) on a value out of a component's bounds before any
    handler runs: the studio's number boxes have none (their handlers check and say
    what is wrong), and the threshold slider clamps what is typed to its range."""
    numbers = [b for b in demo.blocks.values() if isinstance(b, gr.Number)]
    assert numbers
    for number in numbers:
        assert number.preprocess(-5) == -5 and number.preprocess(10**6) == 10**6, number.label
    threshold = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "threshold")
    assert threshold.get_config()["buttons"] == []
    assert (threshold.preprocess(2), threshold.preprocess(-1), threshold.preprocess(0.285)) == (1, 0, 0.285)
