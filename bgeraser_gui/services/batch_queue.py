"""Process a batch queue in the background with one loaded model, and export finished items.

`BatchQueueService.process(entries)` appends items to the work queue; one worker thread
segments, refines and scores them one after another, saving every result to the
`ProjectStore` (so nothing is lost), and reports each state change through Qt signals
(delivered queued on the UI thread). `export(...)` writes finished items in another thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from PySide6.QtCore import QObject, Signal

from bgeraser_gui.assemble import PipelineSpec, build_pipeline
from bgeraser_gui.core.compose import ExportOptions, output_path_for
from bgeraser_gui.core.errors import (
    BgEraserError,
    Cancelled,
    ExportError,
    ImageLoadError,
    describe_error,
)
from bgeraser_gui.core.image_io import open_image
from bgeraser_gui.core.pipeline import Pipeline
from bgeraser_gui.core.progress import CancelToken
from bgeraser_gui.core.project_store import (
    EXPORTED,
    FAILED,
    QUEUED,
    READY,
    REFINING,
    SEGMENTING,
    ProjectStore,
    QueueEntry,
)

THUMB_SIZE = 96
CHECKER_GRAY = 160  # background shade of cutout thumbnails


def _thumbnail(rgb: np.ndarray, alpha_u8: np.ndarray | None) -> np.ndarray:
    image = Image.fromarray(rgb)
    if alpha_u8 is not None:  # the cutout on gray, so a bad mask is visible at a glance
        gray = Image.new("RGB", image.size, (CHECKER_GRAY,) * 3)
        image = Image.composite(image, gray, Image.fromarray(alpha_u8, "L"))
    image.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.BILINEAR)
    return np.asarray(image)


class BatchQueueService(QObject):
    stateChanged = Signal(str, str, str)  # item id, new state, detail (error, output path)
    scored = Signal(str, float, list)  # item id, review score, reasons
    thumbnailChanged = Signal(str, str)  # item id, thumbnail file
    progressChanged = Signal(int, int, float)  # finished, total, ETA seconds (-1 = unknown)
    runningChanged = Signal(bool)
    exportProgress = Signal(int, int, float)  # exported so far, total, ETA seconds
    exportFinished = Signal(int, int, int, list)  # written, skipped, failed, error lines

    def __init__(
        self,
        store: ProjectStore,
        backend_factory: Callable[[], object] | None = None,
        refine_options=None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self._spec = PipelineSpec(
            refine=refine_options if refine_options is not None else True,
            backend_factory=backend_factory,
        )
        self._pipeline = None  # built once in the worker thread: one loaded model
        self._queue: deque[QueueEntry] = deque()
        self._lock = threading.Lock()
        self._cancel = CancelToken()
        self._thread: threading.Thread | None = None
        self._export_thread: threading.Thread | None = None
        self._export_cancel = CancelToken()
        self._thumb_queue: deque[QueueEntry] = deque()
        self._thumb_thread: threading.Thread | None = None
        self._done = 0
        self._total = 0
        self._seconds: list[float] = []

    # -- processing ----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None  # cleared by the worker itself when it ends

    def process(self, entries: list[QueueEntry]) -> None:
        """Queue `entries` for segmentation; starts the worker if it is idle."""
        with self._lock:
            queued_ids = {e.id for e in self._queue}
            new = [e for e in entries if e.id not in queued_ids]
            self._queue.extend(new)
            self._total += len(new)
            start = not self.running
            if start:
                self._cancel = CancelToken()
                self._thread = threading.Thread(
                    target=self._work, name="bgeraser-batch-queue", daemon=True
                )
        if start:
            self.runningChanged.emit(True)
            self._thread.start()

    def discard(self, item_ids: set[str]) -> None:
        """Drop items from the work queue (an item already being processed still finishes)."""
        with self._lock:
            kept = [e for e in self._queue if e.id not in item_ids]
            self._total -= len(self._queue) - len(kept)
            self._queue = deque(kept)
            self._thumb_queue = deque(e for e in self._thumb_queue if e.id not in item_ids)

    def cancel(self) -> None:
        """Abandon the current item (it goes back to queued) and any running export."""
        with self._lock:
            self._queue.clear()
        self._cancel.cancel()
        self._export_cancel.cancel()

    # -- quick previews of queued photos -------------------------------------------------
    def make_previews(self, entries: list[QueueEntry]) -> None:
        """Quick thumbnails of photos that have none yet, in a background thread."""
        with self._lock:
            self._thumb_queue.extend(e for e in entries if self.store.thumbnail_path(e.id) is None)
            if self._thumb_thread is not None or not self._thumb_queue:
                return
            self._thumb_thread = threading.Thread(
                target=self._thumb_work, name="bgeraser-batch-thumbs", daemon=True
            )
        self._thumb_thread.start()

    def _thumb_work(self) -> None:
        while True:
            with self._lock:
                if not self._thumb_queue:
                    self._thumb_thread = None
                    return
                entry = self._thumb_queue.popleft()
            if self.store.thumbnail_path(entry.id) is not None:
                continue  # the worker was faster
            try:
                with open_image(entry.source, Path(entry.source).name) as im:
                    im.draft("RGB", (THUMB_SIZE * 2, THUMB_SIZE * 2))  # JPEG: decode small
                    im = ImageOps.exif_transpose(im).convert("RGB")
                    im.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.BILINEAR)
                    rgb = np.asarray(im)
            except (OSError, ValueError, ImageLoadError):
                continue  # the worker reports unreadable files
            path = self.store.save_thumbnail(entry.id, rgb, preview=True)
            if self.store.thumbnail_path(entry.id) == path:  # no cutout preview yet
                self.thumbnailChanged.emit(entry.id, str(path))

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the worker and any export finished (for shutdown and tests)."""
        for thread in (self._thread, self._export_thread, self._thumb_thread):
            if thread is not None:
                thread.join(timeout_s)
                if thread.is_alive():
                    return False
        return True

    def _pipeline_instance(self) -> Pipeline:
        if self._pipeline is None:
            self._pipeline = build_pipeline(self._spec)
        return self._pipeline

    def _next(self) -> QueueEntry | None:
        """The next entry, or None after marking the worker finished (under the same lock,
        so a `process()` call that races with the end always starts a fresh worker)."""
        with self._lock:
            if self._queue and not self._cancel.cancelled:
                return self._queue.popleft()
            self._finish_locked()
            return None

    def _finish_locked(self) -> None:
        if self._thread is threading.current_thread():
            self._thread = None
            self._done, self._total, self._seconds = 0, 0, []
            self.runningChanged.emit(False)

    def _work(self) -> None:
        try:
            while (entry := self._next()) is not None:
                started = time.perf_counter()
                self._process_one(entry)
                self._seconds.append(time.perf_counter() - started)
                self._done += 1
                mean = sum(self._seconds) / len(self._seconds)
                remaining = max(self._total - self._done, 0)
                self.progressChanged.emit(self._done, self._total, mean * remaining)
        finally:
            with self._lock:
                self._finish_locked()

    def _process_one(self, entry: QueueEntry) -> None:
        cancel = self._cancel
        try:
            self.stateChanged.emit(entry.id, SEGMENTING, "")
            pipeline = self._pipeline_instance()
            image = pipeline.load_image(entry.source)

            def on_stage(stage: str) -> None:
                if stage == "refine":
                    self.stateChanged.emit(entry.id, REFINING, "")

            result = pipeline.cutout(image, None, cancel, on_stage)
            alpha_u8 = result.alpha_u8
            self.store.save_result(entry.id, alpha_u8, result.foreground)
            thumb = self.store.save_thumbnail(entry.id, _thumbnail(image.rgb, alpha_u8))
            review = result.review
        except Cancelled:
            self.stateChanged.emit(entry.id, QUEUED, "")
            return
        except BaseException as exc:  # noqa: BLE001 - one bad file never stops the queue
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            self.stateChanged.emit(entry.id, FAILED, describe_error(exc))
            return
        self.thumbnailChanged.emit(entry.id, str(thumb))
        self.scored.emit(entry.id, float(review.score), review.reasons())
        self.stateChanged.emit(entry.id, READY, "")

    # -- export --------------------------------------------------------------------------
    def export(
        self, entries: list[QueueEntry], options: ExportOptions, out_dir: str | Path
    ) -> None:
        """Write every entry that has a result; reports through stateChanged/exportFinished."""
        if self._export_thread is not None and self._export_thread.is_alive():
            raise RuntimeError("an export is already running")
        todo = list(entries)
        self._export_cancel = CancelToken()
        self._export_thread = threading.Thread(
            target=self._export_all,
            args=(todo, options, Path(out_dir)),
            name="bgeraser-batch-export",
            daemon=True,
        )
        self._export_thread.start()

    def _export_all(self, entries: list[QueueEntry], options: ExportOptions, out_dir: Path) -> None:
        written = skipped = 0
        errors: list[str] = []
        cancel = self._export_cancel
        started = time.perf_counter()
        for done, entry in enumerate(entries, start=1):
            if cancel.cancelled:
                errors.append(f"export cancelled: {len(entries) - done + 1} not written")
                break
            try:
                path = self._export_one(entry, options, out_dir)
            except BaseException as exc:  # noqa: BLE001 - one failing file never stops the others
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                # the item keeps its result (and state); the failure goes to the summary
                errors.append(f"{entry.name}: {describe_error(exc)}")
                path = None
            else:
                if path is None:
                    skipped += 1
                else:
                    written += 1
                    self.stateChanged.emit(entry.id, EXPORTED, str(path))
            per_item = (time.perf_counter() - started) / done
            self.exportProgress.emit(done, len(entries), per_item * (len(entries) - done))
        failed = sum(1 for e in errors if not e.startswith("export cancelled"))
        self.exportFinished.emit(written, skipped, failed, errors)

    def _export_one(self, entry: QueueEntry, options: ExportOptions, out_dir: Path) -> Path | None:
        alpha = self.store.alpha(entry.id)
        if alpha is None:
            raise BgEraserError("not processed yet")
        pipeline = self._pipeline_instance()  # its model loads only when a photo is segmented
        image = pipeline.load_image(entry.source)
        if alpha.shape != image.rgb.shape[:2]:
            raise BgEraserError("the photo changed since it was processed: process it again")
        foreground = self.store.foreground(entry.id)
        fg = None if foreground is None else foreground.astype(np.float32) / 255.0
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ExportError(
                f"cannot create the folder {out_dir}: {exc.strerror or exc}"
            ) from None
        target = output_path_for(entry.source, out_dir, options)
        return pipeline.export(image, alpha, target, fg, options)
