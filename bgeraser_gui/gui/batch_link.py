"""Connects the batch dock to the editor: open a ready item with its batch result, save the
user's touch-ups back to the batch (autosaved), and PgDn/PgUp through the queue's results.

A photo opened while the batch still has it queued waits for the batch's mask (one model run,
not two competing for the CPU); if the batch fails or stops first, the editor runs the model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer

from bgeraser_gui.core.document import PreparedMask
from bgeraser_gui.core.project_store import BUSY_STATES, FAILED, HAS_RESULT, QUEUED, item_id_for

SAVE_DELAY_MS = 500


class BatchLink(QObject):
    def __init__(self, panel, session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.panel = panel
        self.session = session
        self._doc = None
        self._baseline = 0  # history index right after the batch result was loaded
        self._save_timer = QTimer(self, singleShot=True, interval=SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self.save_edit)
        panel.openRequested.connect(lambda path: session.open_path(Path(path)))
        session.mask_provider = self.batch_alpha
        session.result_pending = self.result_pending
        panel.service.stateChanged.connect(self._on_item_state)
        panel.service.runningChanged.connect(self._on_batch_running)
        session.is_autosaved = lambda doc: self.is_batch_item(doc.path)
        session.documentChanged.connect(self._on_document)

    def is_batch_item(self, path: Path | None) -> bool:
        if path is None:
            return False
        entry = self.panel.entries.get(item_id_for(path))
        return entry is not None and entry.state in HAS_RESULT

    def result_pending(self, path: Path) -> bool:
        """True while the batch is (or is about to be) computing `path`'s mask."""
        entry = self.panel.entries.get(item_id_for(path))
        if entry is None:
            return False
        return entry.state in BUSY_STATES or (entry.state == QUEUED and self.panel.service.running)

    def _waiting_document(self, item_id: str | None = None):
        """The open document if it waits for a batch result (for item `item_id`), else None."""
        doc = self.session.document
        if doc is None or doc.path is None or doc.model_mask is not None:
            return None
        if item_id is not None and item_id_for(doc.path) != item_id:
            return None
        return None if self.session.inference.runner.busy else doc

    def _on_item_state(self, item_id: str, state: str, _detail: str) -> None:
        doc = self._waiting_document(item_id)
        if doc is None:
            return
        if state in HAS_RESULT:
            alpha = self.batch_alpha(doc.path)
            if alpha is not None:
                doc.set_model_mask(alpha, "batch result")
                self._on_document(doc)  # now a batch item: its touch-ups flow back
                self.session.message.emit(f"Batch result for {doc.path.name}")
        elif state == FAILED and self.session.auto_segment:
            self.session.segment()

    def _on_batch_running(self, running: bool) -> None:
        doc = None if running else self._waiting_document()
        if doc is not None and not self.result_pending(doc.path) and self.session.auto_segment:
            self.session.segment()  # the batch stopped before reaching this photo

    def batch_alpha(self, path: Path) -> PreparedMask | None:
        """The batch's (possibly edited) alpha for `path` as float32 0..1, or None."""
        if not self.is_batch_item(path):
            return None
        alpha = self.panel.result_alpha(path)
        if alpha is None:
            return None
        mask = alpha.astype(np.float32)  # one full-size copy on the UI thread, not three
        return PreparedMask(np.divide(mask, 255.0, out=mask))

    def _on_document(self, doc) -> None:
        self.save_edit()  # the previous photo's pending touch-ups first
        if self._doc is not None:
            self._doc.history.remove_listener(self._on_history)
        self._doc = doc if doc is not None and self.is_batch_item(doc.path) else None
        if self._doc is not None:
            self._baseline = self._doc.history.index
            self._doc.history.add_listener(self._on_history)

    def _on_history(self, history) -> None:
        if history.index != self._baseline:
            self._save_timer.start()

    def save_edit(self) -> None:
        self._save_timer.stop()
        doc = self._doc
        if doc is not None and doc.history.index != self._baseline:
            self.panel.mark_edited(doc.path, doc.alpha_u8())
            self._baseline = doc.history.index

    def neighbour(self, path: Path, step: int) -> str | None:
        """The batch item with a result `step` places from `path`, in the queue's order."""
        ids = [i for i in self.panel.ordered_ids() if self.panel.entries[i].state in HAS_RESULT]
        current = item_id_for(path)
        if current not in ids:
            return None
        index = ids.index(current) + step
        return self.panel.entries[ids[index]].source if 0 <= index < len(ids) else None


def create_batch_panel(window, refine_options=None) -> tuple[object, BatchLink] | None:
    """The batch dock's panel wired to `window`'s session (sharing its loaded model), or None
    when the batch panel is not installed. `refine_options` as for `BatchPanel`."""
    try:
        from bgeraser_gui.gui.batch_panel import BatchPanel
    except ImportError:
        return None
    from bgeraser_gui.core.project_store import ProjectStore, default_project_dir
    from bgeraser_gui.gui.settings import export_options_to_dict

    settings, session = window.settings, window.session
    # a portable/test settings file keeps its batch project next to it
    folder = default_project_dir() if settings.path is None else settings.path.parent / "batch"
    last_export = settings.last_export() or {}
    panel = BatchPanel(
        store=ProjectStore(folder),
        backend_factory=lambda: session.pipeline.load(),
        refine_options=refine_options,
        parent=window,
        export_dir=str(last_export.get("out_dir") or "") or None,
    )
    panel.exportChosen.connect(  # remembered like the editor's exports (Ctrl+Shift+E too)
        lambda options, out_dir: settings.set_last_export(export_options_to_dict(options), out_dir)
    )
    return panel, BatchLink(panel, session, window)
