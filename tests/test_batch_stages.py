"""The thread batch engine as an assembly line: stages of different photos overlap, each stage
serves one photo (per worker) at a time, in arrival order, and a cancelled batch stops at the
next stage instead of starting it."""

from __future__ import annotations

import argparse
import dataclasses
import threading
import time

import numpy as np
import pytest
from batch_fakes import EllipseBackend, write_photo

from bgeraser_gui.assemble import PipelineSpec
from bgeraser_gui.core import pipeline as pipeline_module
from bgeraser_gui.core.batch_plan import collect_jobs
from bgeraser_gui.core.compose import ExportOptions
from bgeraser_gui.core.errors import Cancelled
from bgeraser_gui.core.progress import CancelToken
from bgeraser_gui.core.refine_types import MattingResult
from bgeraser_gui.core.review_score import ReviewScore
from bgeraser_gui.core.stage_gates import StageGate, StageGates
from bgeraser_gui.engines.local import LocalEngine

STAGE_S = 0.15  # each fake stage sleeps this long (the GIL is free meanwhile, as in numpy)


class Timeline:
    """(stage, photo width, start, end) of every fake stage run."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spans: list[tuple[str, int, float, float]] = []

    def run(self, stage: str, key: int) -> None:
        start = time.perf_counter()
        time.sleep(STAGE_S)
        with self.lock:
            self.spans.append((stage, key, start, time.perf_counter()))

    def of(self, stage: str) -> list[tuple[int, float, float]]:
        return [(k, s, e) for name, k, s, e in self.spans if name == stage]


class SleepyBackend(EllipseBackend):
    def __init__(self, timeline: Timeline) -> None:
        super().__init__()
        self.timeline = timeline

    def predict(self, rgb, progress=None, cancel=None):
        """The ellipse, fainter the narrower the photo: every photo its own review score."""
        width = rgb.shape[1]
        self.timeline.run("segment", width)
        return super().predict(rgb, progress, cancel) * (0.4 + 0.1 * (width - 40))


def _overlap(a: tuple[int, float, float], b: tuple[int, float, float]) -> bool:
    return a[1] < b[2] and b[1] < a[2]


@pytest.fixture
def staged_batch(tmp_path, monkeypatch):
    """Six photos (told apart by their widths) through a thread engine whose segment and
    refine stages each take STAGE_S."""
    timeline = Timeline()

    def fake_refine(rgb, mask, **kwargs):
        timeline.run("refine", rgb.shape[1])
        return MattingResult(alpha=mask, foreground=None, trimap=np.zeros(mask.shape, np.uint8))

    monkeypatch.setattr(pipeline_module, "refine", fake_refine)
    for i in range(6):
        write_photo(tmp_path / "in" / f"p{i}.jpg", (40 + i, 30), seed=i)
    jobs = collect_jobs([tmp_path / "in"], tmp_path / "out", recursive=False)
    spec = PipelineSpec(
        refine=True, export=ExportOptions(), backend_factory=lambda: SleepyBackend(timeline)
    )
    return timeline, jobs, spec


@pytest.mark.parametrize("workers", [1, 2])
def test_segment_of_one_photo_overlaps_refine_of_another(staged_batch, workers):
    timeline, jobs, spec = staged_batch
    records = list(LocalEngine(spec, workers=workers).run(jobs))
    assert [r.status for r in records] == ["ok"] * len(jobs)
    segments, refines = timeline.of("segment"), timeline.of("refine")
    assert len(segments) == len(refines) == len(jobs)
    # the assembly line: the network works on one photo while another is refined
    assert any(_overlap(s, r) for s in segments for r in refines if s[0] != r[0])
    # ... but each stage serves at most `workers` photos at a time
    for spans in (segments, refines):
        assert _most_at_once(spans) <= workers


def _most_at_once(spans: list[tuple[int, float, float]]) -> int:
    events = sorted([(s, 1) for _, s, _ in spans] + [(e, -1) for _, _, e in spans])
    running = most = 0
    for _, step in events:  # an end sorts before a start at the same instant
        running += step
        most = max(most, running)
    return most


def test_each_photo_keeps_its_own_review_score(staged_batch, monkeypatch):
    timeline, jobs, spec = staged_batch
    score = ReviewScore(0.0, 0.0, 0.0, 0.0, 0, False)
    monkeypatch.setattr(  # a score that tells every photo's alpha apart
        pipeline_module, "score_mask", lambda a: dataclasses.replace(score, score=float(a.mean()))
    )
    records = list(LocalEngine(spec, workers=1).run(jobs))
    assert len({r.review_score for r in records}) == len(jobs)
    for record in records:
        alone = list(
            LocalEngine(spec, workers=1).run([j for j in jobs if j.source == record.input])
        )
        assert record.review_score == alone[0].review_score


def test_gate_serves_in_arrival_order_and_at_most_capacity_at_once():
    gate = StageGate(capacity=1)
    order, inside, most = [], [0], [0]
    lock = threading.Lock()
    gate.acquire()  # held: everyone below queues up

    def visitor(index: int) -> None:
        gate.acquire()
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            order.append(index)
        time.sleep(0.01)
        with lock:
            inside[0] -= 1
        gate.release()

    threads = []
    for index in range(5):
        thread = threading.Thread(target=visitor, args=(index,))
        thread.start()
        threads.append(thread)
        while gate.waiting < index + 1:  # queued before the next one arrives
            time.sleep(0.001)
    gate.release()
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2, 3, 4]
    assert most[0] == 1


def test_a_photo_waiting_at_a_gate_stops_there_after_cancel():
    cancel = CancelToken()
    gates = StageGates(capacity=1, cancel=cancel)
    started, outcome = [], []

    def second() -> None:
        try:
            with gates.enter("refine"):
                started.append(True)
        except Cancelled:
            outcome.append("cancelled")

    with gates.enter("refine"):
        thread = threading.Thread(target=second)
        thread.start()
        while gates.waiting("refine") < 1:
            time.sleep(0.001)
        cancel.cancel()
    thread.join(5)
    assert outcome == ["cancelled"] and not started
    with pytest.raises(Cancelled), gates.enter("segment"):  # free, but the batch is cancelled
        pass
    assert gates.waiting("refine") == 0


@pytest.mark.parametrize("pool", ["thread", "process"])
def test_local_workers_share_the_cores_out_unless_told(tmp_path, monkeypatch, pool):
    from bgeraser_gui.backends import device
    from bgeraser_gui.commands import batch

    monkeypatch.setattr(device, "cpu_thread_count", lambda: 8)
    made = []

    class NoEngine:
        def run(self, jobs, cancel):
            return iter(())

    monkeypatch.setattr(batch, "make_engine", lambda args, spec: made.append(spec) or NoEngine())
    write_photo(tmp_path / "in" / "a.jpg")

    def threads(*flags: str) -> int | None:
        parser = argparse.ArgumentParser()
        batch.register(parser.add_subparsers(dest="command"))
        argv = ["batch", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-q", "--pool", pool]
        batch.run(parser.parse_args([*argv, *flags]), backend_factory=EllipseBackend)
        return made[-1].torch_threads

    assert threads("--workers", "2") == 4  # two workers, eight cores: four threads each
    assert threads("--workers", "3") == 2
    assert threads("--workers", "16") == 1
    assert threads("--workers", "2", "--threads-per-worker", "3") == 3
    assert threads() is None  # one worker: every core
