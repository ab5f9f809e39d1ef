"""Write the cutout off the UI thread, through the editor's pipeline (atomic, never over an
original)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject

from bgeraser_gui.core.pipeline import Pipeline
from bgeraser_gui.core.progress import CancelToken, ProgressFn
from bgeraser_gui.services.worker import JobRunner


class ExportService(QObject):
    """`export()` writes atomically on a worker; `runner.finished` carries the written path
    (or None when the existing-file policy skipped it)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = JobRunner(self, "export")

    def export(
        self,
        pipeline: Pipeline,
        image: object,
        alpha: np.ndarray,
        out_path: Path,
        options: object,
        foreground: np.ndarray | None = None,
        objects: list | None = None,
    ) -> int:
        """`alpha` is uint8 0..255 or float 0..1 (converted on the worker). It is copied now,
        since the user may keep painting while the file is written; `foreground` is only read
        (the document replaces it, never edits it). `objects` (core.objects) become the layers
        of an ORA/PSD export (None: split from the alpha on the worker)."""
        alpha = np.array(alpha, copy=True)

        def job(progress: ProgressFn, cancel: CancelToken) -> Path | None:
            progress(0.0, f"Exporting {Path(out_path).name}…")
            cancel.check()
            written = pipeline.export(image, alpha, out_path, foreground, options, objects)
            progress(1.0, "Exported")
            return written

        return self.runner.submit(job)

    def shutdown(self) -> None:
        self.runner.shutdown()
