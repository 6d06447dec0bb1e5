"""PromptTracker on a tiny random SAM 2: masks on every frame, both
directions, cancel, corrections, bounded memory, and equality with
transformers' own whole-video session."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from clipvis import Cancelled
from clipvis.prompt import FrameError, Prompt, PromptError, PromptTracker
from clipvis.prompt.frames import DecodedFrames

from tests.prompt.tiny_sam import squares_video, tiny_sam_processor

CLICK = Prompt.click(30, 30)  # on the red square of frame 20


def run(session, **kw):
    return list(session.propagate(**kw))


def test_click_gives_a_mask_on_every_frame(tracker, video):
    session = tracker.session(video)
    preview = session.prompt(20, CLICK)
    assert preview.frame == 20 and preview.mask.shape == (72, 96) and preview.mask.dtype == bool
    assert 0 < preview.mask.sum() < preview.mask.size
    steps = run(session)
    assert [s.frame for s in steps] == list(range(20, 40)) + list(range(19, -1, -1))
    assert all(s.mask.shape == (72, 96) and s.mask.dtype == bool for s in steps)
    assert [s.done for s in steps] == list(range(1, 41)) and {s.total for s in steps} == {40}
    assert np.array_equal(steps[0].mask, preview.mask)  # the prompted frame keeps its preview
    assert all(b.elapsed >= a.elapsed for a, b in zip(steps, steps[1:]))


def reference_masks(sam_model, video, prompts: dict, start: int) -> dict:
    """transformers' own session holding the whole video and every output: the
    prompts' masks, then forward from `start` and backward, as its docs do."""
    processor = tiny_sam_processor()
    session = processor.init_video_session(video=list(video), inference_device="cpu")
    for frame, given in prompts.items():
        if isinstance(given, np.ndarray):
            processor.add_inputs_to_inference_session(session, frame_idx=frame, obj_ids=1, input_masks=given)
        else:
            processor.add_inputs_to_inference_session(session, frame_idx=frame, obj_ids=1,
                                                      input_points=[[given[0]]], input_labels=[[given[1]]])
        sam_model(inference_session=session, frame_idx=frame)
    masks = {}
    for reverse in (False, True):
        for out in sam_model.propagate_in_video_iterator(session, start_frame_idx=start, reverse=reverse):
            masks[out.frame_idx] = processor.post_process_masks(
                [out.pred_masks.float()], original_sizes=[list(video.shape[1:3])])[0][0, 0].numpy()
    return masks


def test_equals_transformers_whole_video_session(tracker, sam_model, video):
    """The streamed session with pruned memory (and its previews without the
    memory encoder) gives, frame for frame, the masks of transformers' session."""
    reference = reference_masks(sam_model, video, {20: ([[30, 30]], [1])}, 20)
    session = tracker.session(video)
    session.prompt(20, CLICK)
    held = []
    mine = {}
    for step in session.propagate():
        mine[step.frame] = step.mask
        held.append(len(session.held_memory()["tracked"]))
    assert sorted(mine) == sorted(reference) == list(range(40))
    assert all(np.array_equal(mine[f], reference[f]) for f in range(40))
    # What is held stays within SAM 2's reach (15 frames each side), never the whole video.
    assert max(held) <= 2 * tracker.horizon + 1 < 40
    assert session.held_memory() == {"prompted": [20], "tracked": []}


def test_two_prompted_frames_equal_transformers(tracker, sam_model, video):
    reference = reference_masks(sam_model, video, {5: ([[30, 30]], [1]), 30: ([[60, 30], [10, 60]], [1, 0])}, 5)
    session = tracker.session(video)
    session.prompt(5, CLICK)
    session.prompt(30, Prompt(points=((60, 30), (10, 60)), labels=(1, 0)))
    mine = {s.frame: s.mask for s in run(session, start=5)}
    assert sorted(mine) == list(range(40)) and all(np.array_equal(mine[f], reference[f]) for f in range(40))


def test_a_mask_prompt_equals_transformers(tracker, sam_model, video):
    """A track's own mask on a frame, carried on from there by SAM 2."""
    mask = np.zeros(video.shape[1:3], bool)
    mask[20:40, 15:35] = True  # the red square on frame 10
    reference = reference_masks(sam_model, video, {10: mask}, 10)
    session = tracker.session(video)
    given = session.prompt(10, Prompt(mask=mask))
    assert given.mask.sum() > 0.8 * mask.sum()  # SAM 2 takes it as the mask (resized to 128 and back)
    mine = {s.frame: s.mask for s in run(session)}
    assert all(np.array_equal(mine[f], reference[f]) for f in range(40))


def test_one_direction(tracker, video):
    session = tracker.session(video)
    session.prompt(20, CLICK)
    both = {s.frame: s.mask for s in run(session)}
    forward = run(session, direction="forward")
    backward = run(session, direction="backward")
    assert [s.frame for s in forward] == list(range(20, 40)) and {s.total for s in forward} == {20}
    assert [s.frame for s in backward] == list(range(20, -1, -1)) and {s.total for s in backward} == {21}
    assert all(np.array_equal(s.mask, both[s.frame]) for s in forward)
    # Backward on its own lacks the forward frames' memory that "both" lets it read near the click.
    assert sum(not np.array_equal(s.mask, both[s.frame]) for s in backward) > 0


def test_cancel_stops_and_leaves_the_session_usable(tracker, video):
    session = tracker.session(video)
    session.prompt(20, CLICK)
    cancel = threading.Event()
    seen = []
    with pytest.raises(Cancelled):
        for step in session.propagate(cancel=cancel):
            seen.append(step.frame)
            if len(seen) == 5:
                cancel.set()
    assert seen == [20, 21, 22, 23, 24]
    assert session.held_memory() == {"prompted": [20], "tracked": []}
    again = tracker.session(video)
    again.prompt(20, CLICK)
    fresh = {s.frame: s.mask for s in run(again)}
    assert all(np.array_equal(s.mask, fresh[s.frame]) for s in run(session))


def test_correction_on_a_later_frame_repropagates_from_there(tracker, video):
    session = tracker.session(video)
    session.prompt(20, CLICK)
    first = {s.frame: s.mask for s in run(session)}
    fix = Prompt(points=((70, 30), (10, 60)), labels=(1, 0))
    corrected = session.prompt(30, fix)
    assert session.held_memory()["prompted"] == [20, 30]
    assert not np.array_equal(corrected.mask, first[30])
    # The same correction again gives the same mask: a frame's own earlier output is not its memory.
    assert np.array_equal(session.prompt(30, fix).mask, corrected.mask)
    after = run(session, start=30, direction="forward")
    assert [s.frame for s in after] == list(range(30, 40))
    assert np.array_equal(after[0].mask, corrected.mask)
    assert any(not np.array_equal(s.mask, first[s.frame]) for s in after[1:])
    # A whole new run from the first click keeps the correction on its frame.
    rerun = {s.frame: s.mask for s in run(session, start=20)}
    assert np.array_equal(rerun[30], corrected.mask)


def test_correction_before_the_click_reads_memory_backward(tracker, video):
    session = tracker.session(video)
    session.prompt(20, CLICK)
    run(session)
    fix = session.prompt(5, Prompt(points=((30, 30), (80, 10)), labels=(1, 0)))
    after = run(session, start=5, direction="backward")
    assert [s.frame for s in after] == [5, 4, 3, 2, 1, 0]
    assert np.array_equal(after[0].mask, fix.mask)


def test_a_new_prompt_replaces_the_frames_earlier_one(tracker, video):
    two_points = Prompt(points=((30, 30), (60, 50)), labels=(1, 0))
    session = tracker.session(video)
    session.prompt(20, CLICK)
    refined = session.prompt(20, two_points)
    fresh = tracker.session(video).prompt(20, two_points)
    assert np.array_equal(refined.mask, fresh.mask)
    box = tracker.session(video).prompt(20, Prompt(box=(5, 15, 50, 45)))
    assert box.mask.shape == (72, 96) and box.mask.any()


def test_prepare_then_click_equals_click(tracker, video):
    session = tracker.session(video)
    session.prepare(20)
    prepared = session.prompt(20, CLICK)
    assert np.array_equal(prepared.mask, tracker.session(video).prompt(20, CLICK).mask)


@pytest.mark.parametrize("prompt, words", [
    (Prompt(), "at least one point or a box"),
    (Prompt(points=((10, 10),), labels=()), "one label"),
    (Prompt(points=((10, 10),), labels=(2,)), "1 (on the object) or 0"),
    (Prompt(points=((10, 10),), labels=(0,)), "only negative points"),
    (Prompt(points=((500, 10),), labels=(1,)), "outside the 96x72 frame"),
    (Prompt(points=((float("nan"), 10),), labels=(1,)), "(x, y) in pixels"),
    (Prompt(box=(200, 200, 300, 300)), "covers no pixel"),
    (Prompt(points=((1, 1),) * 65, labels=(1,) * 65), "at most 64"),
    (Prompt(mask=np.ones((10, 10), bool)), "the mask is 10x10, the frame 96x72"),
    (Prompt(mask=np.zeros((72, 96), bool)), "the mask is empty"),
    (Prompt(points=((10, 10),), labels=(1,), mask=np.ones((72, 96), bool)), "a mask prompt stands alone"),
])
def test_bad_prompts_get_a_sentence(tracker, video, prompt, words):
    with pytest.raises(PromptError, match=None) as e:
        tracker.session(video).prompt(3, prompt)
    assert words in str(e.value)


def test_bad_frames_and_indices_get_a_sentence(tracker, video):
    session = tracker.session(video)
    with pytest.raises(PromptError, match="frames 0 to 39"):
        session.prompt(40, CLICK)
    with pytest.raises(PromptError, match="click on the object first"):
        list(session.propagate())
    session.prompt(3, CLICK)
    with pytest.raises(PromptError, match="frame 7 has no prompt"):
        list(session.propagate(start=7))
    with pytest.raises(FrameError, match="RGB uint8"):
        tracker.session(video.astype(np.float32))
    mixed = [video[0], video[1][:50]]
    with pytest.raises(FrameError, match="frame 1 is 96x50"):
        tracker.session(mixed).prompt(1, CLICK)
    with pytest.raises(FrameError, match="no frames"):
        tracker.session([])


def test_bf16_autocast_on_the_cpu_runs_the_same_path(sam_model, video):
    tracker = PromptTracker(sam_model, tiny_sam_processor(), device="cpu", precision="bf16")
    session = tracker.session(video[:12])
    assert session.prompt(5, CLICK).mask.shape == (72, 96)
    steps = run(session)
    assert sorted(s.frame for s in steps) == list(range(12))
    assert all(s.mask.shape == (72, 96) for s in steps)
    with pytest.raises(ValueError, match="fp16 autocast needs a CUDA device"):
        PromptTracker(sam_model, tiny_sam_processor(), device="cpu", precision="fp16")


def test_a_decoded_video_streams_and_gives_the_same_masks(tracker, tmp_path):
    """A clipvis.video source is decoded again for each run, backward in
    chunks; its masks equal those of the same frames held in memory."""
    from PIL import Image

    from clipvis.video import open_video

    frames = squares_video(30)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, f in enumerate(frames):
        Image.fromarray(f).save(folder / f"{i:03d}.png")
    decoded = DecodedFrames(open_video(folder), chunk=7)
    streamed = tracker.session(decoded)
    held = tracker.session(frames)
    for s in (streamed, held):
        s.prompt(17, CLICK)
    a = {s.frame: s.mask for s in run(streamed)}
    b = {s.frame: s.mask for s in run(held)}
    assert sorted(a) == list(range(30)) and all(np.array_equal(a[f], b[f]) for f in range(30))
    assert [i for i, _ in decoded.read(range(12, 2, -1))] == list(range(12, 2, -1))


def test_a_one_shot_iterable_is_read_once(tracker, video):
    session = tracker.session(f for f in video[:6])
    session.prompt(2, CLICK)
    assert [s.frame for s in run(session)] == [2, 3, 4, 5, 1, 0]


def test_a_failed_prompt_leaves_its_frame_unprompted(tracker, video, monkeypatch):
    session = tracker.session(video[:10])
    session.prompt(3, CLICK)
    session.prompt(6, CLICK)

    def out_of_memory(*args, **kwargs):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(tracker.model, "forward", out_of_memory)
    with pytest.raises(RuntimeError):
        session.prompt(6, Prompt.click(40, 30))
    monkeypatch.undo()
    assert sorted(session.prompts) == [3] and session.last_prompted == 3
    assert session.held_memory()["prompted"] == [3]
    assert [s.frame for s in run(session)] == [3, 4, 5, 6, 7, 8, 9, 2, 1, 0]
