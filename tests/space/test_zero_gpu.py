"""The run on a ZeroGPU Space, simulated: the real `spaces` package is
installed (outside a Space its GPU decorator returns the function itself);
here SPACES_ZERO_GPU is set, as on ZeroGPU, and `spaces.GPU` is replaced by
what ZeroGPU does with a call: the arguments and the result cross a process
boundary pickled (spaces/zero/wrappers.py puts them on a multiprocessing
queue), the function must be importable by name, and the duration function
is called with the same arguments. The result must be the ordinary pass's."""
from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest
import spaces
import torch

from clipvis import load_vocabulary
from clipvis.commands.model_args import inference_config
from tests.conftest import moving_squares_video

from app import gpu
from app.config import parse_args
from app.model_service import ModelService, ModelSettings

PLAIN = (str, int, float, bool, bytes, type(None), np.ndarray, torch.Tensor)


def _plain(value) -> bool:
    if isinstance(value, (tuple, list)):
        return all(_plain(v) for v in value)
    return isinstance(value, PLAIN)


class SimulatedZeroGPU:
    """spaces.GPU as ZeroGPU applies it: records every grant."""

    def __init__(self):
        self.calls = []  # (frames in the chunk, seconds asked)
        self.threads = set()

    def GPU(self, task=None, *, duration=None, size=None):  # noqa: N802 - the name spaces uses
        assert callable(task)
        pickle.loads(pickle.dumps(task))  # by reference: a module-level function, as the worker needs

        def granted(*args, **kwargs):
            assert not kwargs and all(_plain(a) for a in args), [type(a) for a in args]
            seconds = duration(*args) if callable(duration) else duration
            self.calls.append((len(args[1]), seconds))
            self.threads.add(threading.get_ident())
            args = pickle.loads(pickle.dumps(args))  # to the worker
            return pickle.loads(pickle.dumps(task(*args)))  # and back
        return granted


@pytest.fixture
def zero_gpu(monkeypatch):
    sim = SimulatedZeroGPU()
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setattr(spaces, "GPU", sim.GPU)
    return sim


def _service(tmp_path, *flags) -> ModelService:
    args = parse_args(["--model", "demo", "--workdir", str(tmp_path), *flags])
    return ModelService(ModelSettings.from_args(args))


def _frames(n):
    return [f for f in moving_squares_video(n, h=120, w=160)]


def _same(a, b):
    for name in ("object_logits", "ious", "pooled", "pool_empty", "pos_sigmoid_sum", "pos_count"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert [c.__dict__ for c in a.mask_codes].__repr__() == [c.__dict__ for c in b.mask_codes].__repr__()


def test_the_gpu_function_is_module_level_and_picklable():
    assert pickle.loads(pickle.dumps(gpu.forward_chunk)) is gpu.forward_chunk
    assert spaces.GPU(gpu.forward_chunk, duration=gpu.chunk_duration) is gpu.forward_chunk  # off ZeroGPU: no-op


def test_chunked_pass_equals_the_ordinary_one(tmp_path, zero_gpu, monkeypatch):
    service = _service(tmp_path)
    n = 23  # windows of 10: 10, 10, 3
    monkeypatch.setattr(gpu, "chunk_frames", lambda window, min_size: 2 * window)  # 20 frames a grant
    progress = []
    chunked = service.analyse("demo", iter(_frames(n)), num_frames=n, min_size=96, cancel=threading.Event(),
                              on_progress=progress.append)
    assert [frames for frames, _ in zero_gpu.calls] == [20, 3]  # once per chunk, whole windows
    assert all(0 < seconds <= gpu.MAX_DURATION for _, seconds in zero_gpu.calls)
    assert [p.frames_done for p in progress] == [20, 23]

    monkeypatch.delenv("SPACES_ZERO_GPU")
    ordinary = service.get("demo").analyse(iter(_frames(n)), num_frames=n, min_size=96)
    _same(chunked, ordinary)
    vocab = load_vocabulary("person, square")
    a, b = service.classify("demo", chunked, vocab), service.classify("demo", ordinary, vocab)
    assert [(i.track_id, i.category_id, i.score) for i in a] == [(i.track_id, i.category_id, i.score) for i in b]


def test_duration_grows_with_the_chunk_and_stays_within_the_grant():
    one = gpu.chunk_duration("k", np.zeros((10, 480, 854, 3), np.uint8), (10,), "fp32")
    four = gpu.chunk_duration("k", np.zeros((40, 480, 854, 3), np.uint8), (10,) * 4, "fp32")
    assert gpu.SETUP_SECONDS < one < four <= gpu.MAX_DURATION
    assert gpu.chunk_frames(10, 480) % 10 == 0 and gpu.chunk_frames(10, 480) <= gpu.MAX_CHUNK_FRAMES
    # A chunk sized for an input size asks for no more than a grant, larger inputs get fewer frames.
    for size, (h, w) in ((480, (480, 854)), (800, (800, 1333)), (1600, (1600, 2844))):
        n = gpu.chunk_frames(10, size)
        assert n >= 10 and gpu.chunk_duration("k", np.zeros((n, h, w, 3), np.uint8), (10,), "fp32") <= gpu.MAX_DURATION
    assert gpu.chunk_frames(10, 1600) < gpu.chunk_frames(10, 480)


def test_cancel_between_chunks(tmp_path, zero_gpu, monkeypatch):
    from clipvis import Cancelled
    service = _service(tmp_path)
    monkeypatch.setattr(gpu, "chunk_frames", lambda window, min_size: window)
    cancel = threading.Event()
    with pytest.raises(Cancelled):
        service.analyse("demo", iter(_frames(30)), num_frames=30, min_size=64, cancel=cancel,
                        on_progress=lambda p: cancel.set())
    assert len(zero_gpu.calls) == 1


def test_config_default_is_kept(tmp_path):
    assert inference_config(parse_args(["--model", "demo"])).window == 10


def test_the_visitors_request_reaches_the_gpu_call(tmp_path, zero_gpu, monkeypatch):
    """The run works on the queue's thread; ZeroGPU reads the visitor's Gradio request
    (for their GPU quota) from a context variable, so the run carries the handler's context."""
    from gradio.context import LocalContext

    from clipvis.formats.overlay import write_overlay_video

    from app.run_job import RunJob, RunQueue
    from app.session import Session

    seen = []
    real = zero_gpu.GPU

    def GPU(task=None, **kw):  # noqa: N802
        granted = real(task, **kw)
        return lambda *args: (seen.append(LocalContext.request.get(None)), granted(*args))[1]
    monkeypatch.setattr(spaces, "GPU", GPU)
    video = write_overlay_video(tmp_path / "v.mp4", iter(moving_squares_video(12, h=72, w=96)), fps=5)
    session = Session.create(tmp_path / "work", "c" * 32, [video], "v.mp4")
    request = object()  # what Gradio sets for the handler that asked for the run
    token = LocalContext.request.set(request)
    try:
        job = RunJob(session=session, service=_service(tmp_path), spec="demo",
                     vocabulary=load_vocabulary("square"), min_size=64, queue=RunQueue()).start()
    finally:
        LocalContext.request.reset(token)
    assert job.done.wait(120) and job.error is None, job.error
    assert seen and all(r is request for r in seen)
