"""Clicks answer from crops computed ahead of time: one network pass per crop, crops prefetched
while the pointer rests, a crop running in one thread is never run again by another."""

from __future__ import annotations

import contextlib
import threading

import numpy as np
from test_backend_segmenter import BrightnessSegmenter, _photo
from test_interactive import _scene

from bgeraser_gui.backends.segmenter import QualityOptions
from bgeraser_gui.core.click_proposals import CropSegmenter, model_segment
from bgeraser_gui.core.interactive import Click, ClickSession, prefetch_crops


def _salient(crop: np.ndarray) -> np.ndarray:
    """'The model': anything not green is salient."""
    return (np.abs(crop.astype(int) - (40, 120, 40)).sum(axis=2) > 90).astype(np.float32)


def test_crops_are_asked_with_one_network_pass_whatever_the_quality():
    rgb = _photo((20, 50, 90, 150))
    best = BrightnessSegmenter(QualityOptions(flip_tta=True, crop_pass=True, clean_regions=True))
    once = model_segment(best)(rgb)
    assert len(best.batches) == 1  # not 2 (flip) or more (crop pass)
    plain = BrightnessSegmenter(QualityOptions()).predict(rgb)
    np.testing.assert_array_equal(once, plain)


def test_prefetched_crops_make_the_click_local_work_with_the_same_result():
    img, disc, box, square = _scene()
    calls: list[tuple] = []

    def segment(crop):
        calls.append(crop.shape)
        return _salient(crop)

    for click in (Click(190, 100, True), Click(267, 175, True), Click(200, 100, False)):
        start = (disc | box).astype(np.float32) if not click.positive else disc.astype(np.float32)
        expected = ClickSession(img, start, _salient).add(click).copy()
        segmenter = CropSegmenter(img, segment)
        calls.clear()
        ran = prefetch_crops(segmenter, click)
        assert ran == len(calls) >= 1
        out = ClickSession(img, start, segmenter).add(click)
        assert len(calls) == ran  # the click itself ran no model
        np.testing.assert_array_equal(out, expected)
        assert prefetch_crops(segmenter, click) == 0  # cached


def test_big_photo_prefetch_asks_for_the_same_boxes_as_the_click():
    img, disc, box, _ = _scene()
    import cv2

    big = cv2.resize(img, (3000, 2000), interpolation=cv2.INTER_NEAREST)
    mask = cv2.resize(disc.astype(np.float32), (3000, 2000), interpolation=cv2.INTER_NEAREST)
    boxes: list[tuple] = []

    def segment(crop):
        boxes.append(crop.shape)
        return _salient(crop)

    segmenter = CropSegmenter(big, segment)
    click = Click(1901, 1003, True)  # the working copy's grid is coarser than the photo's
    prefetch_crops(segmenter, click)
    n = len(boxes)
    ClickSession(big, mask, segmenter).add(click)
    assert len(boxes) == n


def _two_threads_ask_for_one_crop(first_run_fails: bool) -> tuple[int, list]:
    """Thread 1 starts the model on a crop; thread 2 asks for the same crop while it runs.
    Returns (model runs, thread 2's answers)."""
    img, *_ = _scene()
    started, release = threading.Event(), threading.Event()
    calls = []

    def model(crop):
        calls.append(1)
        if len(calls) == 1:
            started.set()
            release.wait(5)
            if first_run_fails:
                raise RuntimeError("cancelled prefetch")
        return _salient(crop)

    segmenter = CropSegmenter(img, model)
    first = threading.Thread(target=lambda: _swallow(segmenter.proposal, 200, 100, 80))
    first.start()
    started.wait(5)
    answers = []
    second = threading.Thread(target=lambda: answers.append(segmenter.proposal(201, 101, 80)))
    second.start()
    release.set()
    first.join(5)
    second.join(5)
    return len(calls), answers


def test_a_crop_running_in_another_thread_is_waited_for_not_run_twice():
    runs, answers = _two_threads_ask_for_one_crop(first_run_fails=False)
    assert runs == 1 and len(answers) == 1
    assert answers[0].mask[40, 40] == 1.0


def test_a_failed_run_is_retried_by_the_waiting_thread():
    runs, answers = _two_threads_ask_for_one_crop(first_run_fails=True)
    assert runs == 2 and len(answers) == 1
    assert answers[0].mask[40, 40] == 1.0


def _swallow(fn, *args):
    with contextlib.suppress(RuntimeError):
        fn(*args)
