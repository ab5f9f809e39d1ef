"""Matte inside strokes (M): keep / remove strokes mark their area for the matting solver
instead of stamping alpha 1 / 0, and every stroke that leaves soft pixels (that, the refine
brush, a soft brush's ring) is matted at once in the stroke's box, on a worker.

A hard keep stroke over hair paints a solid bar with the background inside it; matted, the
strands stay and the background between them goes. Only the stroke's box (plus a margin of
context) is solved, so the result arrives in a fraction of a whole-image refinement; it is an
undoable "Matte stroke" step. A newer stroke supersedes a running one; a result whose photo
was edited meanwhile is dropped.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject

from bgeraser_gui.core.history import Rect
from bgeraser_gui.core.trimap import REFINE
from bgeraser_gui.services.worker import JobRunner

CONTEXT_PX = 32  # solved around the stroke's box: known subject and background to learn from


class StrokeMatting(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.runner = JobRunner(self, "stroke matting")
        self.runner.finished.connect(self._on_matted)
        self.runner.failed.connect(
            lambda _id, exc: window.reporter.report("Matting the stroke failed", exc)
        )
        self.enabled = False
        window.canvas.strokeFinished.connect(self._on_stroke)
        action = window.actions_.action("matte_strokes")
        action.toggled.connect(self.set_enabled)

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = bool(enabled)
        self.window.canvas.set_matte_strokes(self.enabled)
        self.window.statusBar().showMessage(
            "Strokes are matted inside (M)" if enabled else "Strokes stamp keep / remove (M)", 3000
        )

    def _on_stroke(self, _label: str) -> None:
        doc = self.window.session.document
        if not self.enabled or doc is None:
            return
        entry = doc.history.current_entry()
        box = None if entry is None else entry.bbox()
        if box is None or box.is_empty():
            return
        box = Rect(
            box.x0 - CONTEXT_PX, box.y0 - CONTEXT_PX, box.x1 + CONTEXT_PX, box.y1 + CONTEXT_PX
        )
        box = box.clipped(doc.width, doc.height)
        sl = box.slices()
        if not (doc.touchups[sl] == REFINE).any():
            return  # a hard stroke left nothing to solve
        rgb, mask, touchups = doc.refine_inputs()
        crop = (np.ascontiguousarray(rgb[sl]), mask[sl].copy(), touchups[sl].copy())
        pipeline = self.window.session.pipeline

        def job(progress, cancel):
            progress(0.0, "Matting the stroke…")
            return doc, entry, box, pipeline.refine(*crop, progress, cancel)

        self.runner.submit(job)

    def _on_matted(self, _job_id: int, payload: object) -> None:
        doc, entry, box, result = payload
        if doc is not self.window.session.document or doc.history.current_entry() is not entry:
            return  # edited (or another photo) meanwhile: the next stroke mattes again
        sl = box.slices()
        base = doc.refined_alpha if doc.refined_alpha is not None else doc.base_mask()
        alpha = np.zeros((doc.height, doc.width), np.float32) if base is None else base.copy()
        alpha[sl] = result.alpha
        foreground = None
        if result.foreground is not None:
            if doc.foreground is not None:
                foreground = doc.foreground.copy()
            else:
                foreground = doc.rgb.astype(np.float32) * (1.0 / 255.0)
            foreground[sl] = result.foreground
        doc.set_refined(alpha, foreground)
        self.window.statusBar().showMessage("Stroke matted", 2000)

    def shutdown(self) -> None:
        self.runner.shutdown()
