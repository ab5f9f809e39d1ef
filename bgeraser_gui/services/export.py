"""Write the cutout (core.compose.export_cutout) off the UI thread."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject

from bgeraser_gui.core.progress import CancelToken, ProgressFn
from bgeraser_gui.services.worker import JobRunner

ExportFn = Callable[..., Path | None]


def default_export(image, alpha_u8, out_path, options, foreground):
    from bgeraser_gui.core.compose import export_cutout

    return export_cutout(image, alpha_u8, out_path, options, foreground=foreground)


class ExportService(QObject):
    """`export()` writes atomically on a worker; `runner.finished` carries the written path
    (or None when the existing-file policy skipped it)."""

    def __init__(self, parent: QObject | None = None, export_fn: ExportFn | None = None) -> None:
        super().__init__(parent)
        self._export = export_fn or default_export
        self.runner = JobRunner(self, "export")

    def export(
        self,
        image: object,
        alpha: np.ndarray,
        out_path: Path,
        options: object,
        foreground: np.ndarray | None = None,
    ) -> int:
        """`alpha` is uint8 0..255 or float 0..1 (converted on the worker, like
        `Document.alpha_u8`). It is copied now, since the user may keep painting while the
        file is written; `foreground` is only read (the document replaces it, never edits it)."""
        alpha = np.array(alpha, copy=True)

        def job(progress: ProgressFn, cancel: CancelToken) -> Path | None:
            progress(0.0, f"Exporting {Path(out_path).name}…")
            alpha_u8 = alpha if alpha.dtype == np.uint8 else np.rint(alpha * 255.0).astype(np.uint8)
            cancel.check()
            written = self._export(image, alpha_u8, Path(out_path), options, foreground)
            progress(1.0, "Exported")
            return written

        return self.runner.submit(job)

    def shutdown(self) -> None:
        self.runner.shutdown()
