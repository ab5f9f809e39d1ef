"""Select-object clicks computed on a worker thread (`core.interactive`), never on the UI thread.

`click(doc, click)` queues the click and (re)starts the computation: a newer click cancels the
one still running, and the new job applies every click not yet in the document, so nothing the
user clicked is lost and only the newest request's result reaches the document. Each click
becomes its own undo step (`Document.set_clicks`). The engine's state (working copy, the
model's crop results) is kept for the current photo and model, so a click after an undo or a
model re-run costs only local work. `replay(doc)` re-applies a document's clicks to a new model
mask.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from bgeraser_gui.core.click_preview import outline_polygons
from bgeraser_gui.core.document import Document, PreparedMask, prepare_mask
from bgeraser_gui.core.history import Rect
from bgeraser_gui.core.interactive import Click, ClickSession, CropSegmenter, prefetch_crops
from bgeraser_gui.core.progress import CancelToken, ProgressFn
from bgeraser_gui.services.worker import JobRunner

# Called on the worker: the loaded model's predict (RGB crop -> soft mask), or None to click
# without the model (image edges and colours only).
SegmentProvider = Callable[[ProgressFn], Callable[..., np.ndarray] | None]


@dataclass
class ClickStep:
    clicks: tuple[Click, ...]  # all clicks after this step
    mask: PreparedMask
    changed_px: int  # pixels that changed side (selected / not selected)
    differs: Rect | None = None  # where the mask differs from the step before (None: anywhere)


@dataclass
class SelectResult:
    doc: Document
    base_clicks: tuple[Click, ...]  # the document's clicks the job started from
    model_mask: np.ndarray | None  # the model mask the job started from
    steps: list[ClickStep]
    seconds: float
    replay: bool = False


@dataclass
class ClickPreview:
    """What a click at `click` would change, computed while the pointer rested there."""

    doc: Document
    click: Click
    base_clicks: tuple[Click, ...]  # the document's clicks it was computed on
    model_mask: np.ndarray | None
    polygons: list[np.ndarray]  # outlines of the pixels the click would change, image pixels


@dataclass
class _EngineState:
    doc: Document
    segmenter: CropSegmenter | None
    base: np.ndarray | None
    session: ClickSession


@dataclass
class _CropModel:
    doc: Document
    segment: object  # the predict the segmenter was built with (None: no model)
    segmenter: CropSegmenter | None


class SelectService(QObject):
    applied = Signal(object)  # SelectResult, after it was written into its document
    previewed = Signal(object)  # ClickPreview, still valid for its document when emitted
    message = Signal(str)

    def __init__(self, segment_provider: SegmentProvider, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._provider = segment_provider
        self.runner = JobRunner(self, "select")
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.prefetcher = JobRunner(self, "select-prefetch")  # results stay in the crop cache
        self.prefetcher.finished.connect(self._on_prefetched)
        self._preview_cancel: CancelToken | None = None  # set while a preview holds the engine
        self._pending: list[Click] = []
        self._pending_doc: Document | None = None
        self._state: _EngineState | None = None
        self._lock = threading.Lock()  # one job at a time uses the engine state
        self._crop_lock = threading.Lock()
        self._crop_model: _CropModel | None = None
        self._job = threading.local()  # .cancel: the token of the job running on this thread

    @property
    def busy(self) -> bool:
        return self.runner.busy

    def click(self, doc: Document, click: Click) -> int:
        """Apply `click` to `doc` on the worker (results arrive via `applied`)."""
        if self._pending_doc is not doc:
            self._pending, self._pending_doc = [], doc
        previewing = self._preview_cancel
        if previewing is not None:  # the click needs the engine the preview holds
            previewing.cancel()
        self._pending.append(click)
        verb = "Adding" if click.positive else "Removing"
        self.message.emit(f"{verb} the object at {click.x}, {click.y}…")
        return self._submit(doc, tuple(self._pending), replay=False)

    def replay(self, doc: Document) -> int | None:
        """Re-apply `doc`'s clicks to its (new) model mask; None when it has no clicks."""
        if not doc.clicks:
            return None
        self._pending, self._pending_doc = [], doc
        self.message.emit(f"Applying {len(doc.clicks)} click(s) to the new mask…")
        return self._submit(doc, (), replay=True)

    def prefetch(self, doc: Document, click: Click) -> int | None:
        """Compute, on a worker, the crops `click` would need, then what it would change
        (`previewed`; the click itself then reuses it). A newer prefetch replaces an older
        one; a click in progress is not slowed down: then nothing starts."""
        if self.runner.busy:
            return None
        rgb, known, model_mask = doc.rgb, doc.clicks, doc.model_mask

        def job(progress: ProgressFn, cancel: CancelToken) -> ClickPreview | None:
            self._job.cancel = cancel
            segmenter = self._segmenter_for(doc, rgb, progress)
            if segmenter is None:
                return None
            prefetch_crops(segmenter, click, cancel)
            if not self._lock.acquire(blocking=False):
                return None  # a click is being computed: it changes what a preview would show
            try:
                self._preview_cancel = cancel
                session = self._session_for(doc, rgb, model_mask, known, progress)
                if session.clicks != known:
                    return None
                edit = session.preview(click, cancel)
            finally:
                self._preview_cancel = None
                self._lock.release()
            origin = (edit.rect.x0, edit.rect.y0)
            polygons = outline_polygons(edit.changed, session.scale, origin)
            return ClickPreview(doc, click, known, model_mask, polygons)

        return self.prefetcher.submit(job)

    def cancel(self) -> bool:
        self._pending = []
        self.prefetcher.cancel()
        return self.runner.cancel()

    def forget(self) -> None:
        """Drop the engine state (the photo was closed or the model changed)."""
        with self._lock:
            self._state = None
        with self._crop_lock:
            self._crop_model = None

    # -- worker --------------------------------------------------------------------------
    def _submit(self, doc: Document, new: tuple[Click, ...], replay: bool) -> int:
        known = doc.clicks  # what the document holds now (read on the UI thread)
        model_mask = doc.model_mask
        rgb = doc.rgb

        def job(progress: ProgressFn, cancel: CancelToken) -> SelectResult:
            start = time.perf_counter()
            with self._lock:
                self._job.cancel = cancel
                cancel.check()
                session = self._session_for(doc, rgb, model_mask, known, progress)
                steps = []
                for click in known[len(session.clicks) :]:
                    session.add(click, cancel)
                if replay:
                    mask = session.mask
                    steps.append(ClickStep(session.clicks, prepare_mask(mask), 0))
                for click in new:
                    before = session.mask.copy()
                    mask = session.add(click, cancel)
                    changed = int(np.count_nonzero((before >= 0.5) != (mask >= 0.5)))
                    differs = changed_box(before, mask)
                    steps.append(ClickStep(session.clicks, prepare_mask(mask), changed, differs))
            return SelectResult(doc, known, model_mask, steps, time.perf_counter() - start, replay)

        return self.runner.submit(job)

    def _session_for(self, doc, rgb, model_mask, wanted, progress: ProgressFn) -> ClickSession:
        """The engine state for `doc`, rewound to the longest prefix of clicks it can reuse."""
        segmenter = self._segmenter_for(doc, rgb, progress)
        state = self._state
        if state is None or state.doc is not doc or state.segmenter is not segmenter:
            session = ClickSession(rgb, model_mask, segmenter)
            state = self._state = _EngineState(doc, segmenter, model_mask, session)
        if state.base is not model_mask:
            state.base = model_mask
            state.session = ClickSession(rgb, model_mask, state.segmenter)
        session = state.session
        while session.clicks != wanted[: len(session.clicks)]:
            session.undo()
        return session

    def crop_segmenter(self, doc, progress: ProgressFn) -> CropSegmenter | None:
        """The crop model of `doc` and its cache, shared with clicks (e.g. for objects)."""
        return self._segmenter_for(doc, doc.rgb, progress)

    def _segmenter_for(self, doc, rgb, progress: ProgressFn) -> CropSegmenter | None:
        """The crop model (and its cache) of `doc` with the current model; None without one."""
        predict = self._provider(progress)
        with self._crop_lock:
            crop = self._crop_model
            if crop is None or crop.doc is not doc or crop.segment != predict:
                segmenter = None
                if predict is not None:
                    segmenter = CropSegmenter(rgb, self._cancellable(predict))
                crop = self._crop_model = _CropModel(doc, predict, segmenter)
            return crop.segmenter

    def _cancellable(
        self, predict: Callable[..., np.ndarray]
    ) -> Callable[[np.ndarray], np.ndarray]:
        def segment(crop: np.ndarray) -> np.ndarray:
            cancel = getattr(self._job, "cancel", None)
            try:
                return predict(crop, cancel=cancel)
            except TypeError:  # a predict without cancel support
                return predict(crop)

        return segment

    # -- UI thread -----------------------------------------------------------------------
    def _on_finished(self, _job_id: int, result: SelectResult) -> None:
        doc = result.doc
        if doc.model_mask is not result.model_mask or doc.clicks != result.base_clicks:
            self._pending = []
            self.message.emit("The photo changed while clicking: click again")
            return
        for step in result.steps:
            click = step.clicks[-1] if step.clicks else None
            if result.replay:
                label = "Clicks on the new mask"
            else:
                label = "Add object (click)" if click.positive else "Remove object (click)"
            doc.set_clicks(step.clicks, step.mask, label, step.differs)
        if not result.replay:
            done = len(result.steps)
            self._pending = self._pending[done:]
        self.applied.emit(result)
        self.message.emit(_describe(result))

    def _on_prefetched(self, _job_id: int, preview: ClickPreview | None) -> None:
        if preview is None or self._pending:
            return
        doc = preview.doc
        if doc.model_mask is preview.model_mask and doc.clicks == preview.base_clicks:
            self.previewed.emit(preview)

    def _on_failed(self, _job_id: int, exc: object) -> None:
        self._pending = []
        self.message.emit(f"Click failed: {exc}")


def changed_box(before: np.ndarray, after: np.ndarray) -> Rect:
    """The bounding box of the pixels where `after` differs from `before` (empty if none)."""
    diff = before != after
    rows, cols = np.flatnonzero(diff.any(axis=1)), np.flatnonzero(diff.any(axis=0))
    if rows.size == 0:
        return Rect(0, 0, 0, 0)
    return Rect(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def _describe(result: SelectResult) -> str:
    took = f"{result.seconds:.1f} s"
    if result.replay:
        return f"{len(result.steps[-1].clicks)} click(s) applied to the new mask ({took})"
    step = result.steps[-1]
    click = step.clicks[-1]
    if step.changed_px == 0:
        what = "nothing changed there (the click is kept as a seed)"
    else:
        verb = "added to" if click.positive else "removed from"
        what = f"{step.changed_px:,} px {verb} the selection"
    return f"Click {len(step.clicks)}: {what} ({took}; Ctrl+Z undoes it)"
