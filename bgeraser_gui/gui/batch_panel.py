"""Batch panel: drop photos or folders, watch them process, review the worst first, export all.

Items are processed in the background by `services.batch_queue` (one loaded model), autosaved
to a project folder (reopening restores the queue and every manual edit). The main window docks
it, opens ready items on `openRequested(path)`, hands edited masks back with `mark_edited(path,
alpha)`. Standalone: `python -m bgeraser_gui.gui.batch_panel [FILES/FOLDERS...]`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from bgeraser_gui.core.compose import ExportOptions
from bgeraser_gui.core.image_io import collect_images
from bgeraser_gui.core.project_store import (
    EDITED,
    EXPORTED,
    FAILED,
    HAS_RESULT,
    QUEUED,
    ProjectStore,
    QueueEntry,
    default_project_dir,
    item_id_for,
)
from bgeraser_gui.gui.batch_table import BatchTable
from bgeraser_gui.gui.export_folder import default_export_dir
from bgeraser_gui.services.batch_queue import BatchQueueService

AUTOSAVE_DELAY_MS = 300


def _format_eta(seconds: float) -> str:
    if seconds < 0:
        return ""
    minutes, secs = divmod(int(round(seconds)), 60)
    return f" · about {minutes}:{secs:02d} left"


class BatchPanel(QWidget):
    openRequested = Signal(str)  # a ready item's source path, to open in the editor
    queueChanged = Signal()
    exportChosen = Signal(object, str)  # ExportOptions, folder picked in the export dialog

    def __init__(
        self,
        store: ProjectStore | None = None,
        backend_factory=None,
        refine_options=None,
        autostart: bool = True,
        parent: QWidget | None = None,
        export_dir: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.store = store or ProjectStore(default_project_dir())
        self.autostart = autostart
        self.service = BatchQueueService(self.store, backend_factory, refine_options, self)
        self.entries: dict[str, QueueEntry] = {}
        self._export_options = ExportOptions()
        self._export_dir = export_dir or default_export_dir()  # the last export folder, if known
        self._autosave = QTimer(self, singleShot=True, interval=AUTOSAVE_DELAY_MS)
        self._autosave.timeout.connect(self.save_now)
        self._build_ui()
        self.service.stateChanged.connect(self._on_state)
        self.service.scored.connect(self._on_scored)
        self.service.thumbnailChanged.connect(self._on_thumbnail)
        self.service.progressChanged.connect(self._on_progress)
        self.service.runningChanged.connect(self._on_running)
        self.service.exportProgress.connect(self._on_export_progress)
        self.service.exportFinished.connect(self._on_export_finished)
        self._restore()

    # -- UI ------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.table = BatchTable(self)
        self.table.cellDoubleClicked.connect(lambda row, _col: self._open_row(row))

        self.add_files_button = QPushButton("Add photos…")
        self.add_files_button.clicked.connect(self._browse_files)
        self.add_folder_button = QPushButton("Add folder…")
        self.add_folder_button.clicked.connect(self._browse_folder)
        self.start_button = QPushButton("Process")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        self.worst_first_check = self.table.worst_first_box()
        self.export_all_button = QPushButton("Export all…")
        self.export_all_button.clicked.connect(lambda: self._export_with_dialog(selected=False))
        self.export_selected_button = QPushButton("Export selected…")
        self.export_selected_button.clicked.connect(lambda: self._export_with_dialog(selected=True))
        self.remove_button = QPushButton("Remove selected")
        self.remove_button.setToolTip("Take the selected photos out of the batch (Delete)")
        self.remove_button.clicked.connect(lambda: self.remove_items(self.selected_ids()))
        delete = QShortcut(
            QKeySequence.StandardKey.Delete, self.table, self._remove_selected_shortcut
        )
        delete.setContext(Qt.ShortcutContext.WidgetShortcut)  # never steals the editor's Delete

        self.progress = QProgressBar(textVisible=True)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status_label = QLabel("Drop photos or folders here")
        self.failure_label = QLabel()
        self.failure_label.setWordWrap(True)
        self.failure_label.setStyleSheet("color: #d9534f")

        top = QHBoxLayout()
        for widget in (self.add_files_button, self.add_folder_button, self.start_button):
            top.addWidget(widget)
        top.addWidget(self.cancel_button)
        top.addStretch(1)
        top.addWidget(self.worst_first_check)
        bottom = QHBoxLayout()
        bottom.addWidget(self.export_all_button)
        bottom.addWidget(self.export_selected_button)
        bottom.addStretch(1)
        bottom.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        layout.addWidget(self.failure_label)
        layout.addLayout(bottom)

    # -- queue ---------------------------------------------------------------------------
    def add_paths(self, paths) -> int:
        """Add photos and folders (recursively); returns how many new items were queued."""
        added = []
        for path in collect_images(paths, recursive=True):
            item_id = item_id_for(path)
            if item_id in self.entries:
                continue
            entry = QueueEntry(str(path.resolve()), id=item_id)
            self.entries[item_id] = entry
            self.table.add_entry(entry)
            added.append(entry)
        if added:
            self._changed()
            self.service.make_previews(added)
            if self.autostart:
                self.service.process(added)
        return len(added)

    def start(self) -> None:
        """Process every queued (and failed) item."""
        todo = [e for e in self.entries.values() if e.state in (QUEUED, FAILED)]
        for entry in todo:
            if entry.state == FAILED:
                self._set_state(entry, QUEUED, "")
        if todo:
            self.service.process(todo)

    def remove_items(self, item_ids: list[str]) -> int:
        """Take items out of the batch and delete their saved masks and edits (not the photos)."""
        removed = [i for i in item_ids if i in self.entries]
        self.service.discard(set(removed))
        for item_id in removed:
            del self.entries[item_id]
            self.table.remove_entry(item_id)
            self.store.forget(item_id)
        if removed:
            self._update_failures()
            self.save_now()
            self.queueChanged.emit()
        return len(removed)

    def _remove_selected_shortcut(self) -> None:
        self.remove_items(self.selected_ids())

    def cancel(self) -> None:
        self.service.cancel()
        self.status_label.setText("Cancelling…")

    def _restore(self) -> None:
        for entry in self.store.load_queue():
            self.entries[entry.id] = entry
            self.table.add_entry(entry)
            thumb = self.store.thumbnail_path(entry.id)
            if thumb is not None:
                self._on_thumbnail(entry.id, str(thumb))
        self._update_failures()
        self.service.make_previews(list(self.entries.values()))
        queued = [e for e in self.entries.values() if e.state == QUEUED]
        if queued and self.autostart:
            self.service.process(queued)

    def _set_state(self, entry: QueueEntry, state: str, detail: str) -> None:
        entry.state = state
        entry.error = detail if state == FAILED else None
        if state == EXPORTED:
            entry.output = detail
        self.table.show_state(entry)
        self._changed()

    def _changed(self) -> None:
        self._autosave.start()
        self.queueChanged.emit()

    def save_now(self) -> None:
        self._autosave.stop()
        self.store.save_queue(list(self.entries.values()))

    # -- service signals -----------------------------------------------------------------
    def _on_state(self, item_id: str, state: str, detail: str) -> None:
        entry = self.entries.get(item_id)
        if entry is None:
            return
        if state == QUEUED and entry.state in HAS_RESULT:
            return
        self._set_state(entry, state, detail)
        self._update_failures()

    def _on_scored(self, item_id: str, score: float, reasons: list) -> None:
        entry = self.entries.get(item_id)
        if entry is None:
            return
        entry.score, entry.reasons = score, list(reasons)
        self.table.show_score(item_id, score, entry.reasons)  # re-sorts by the sorted column

    def _on_thumbnail(self, item_id: str, path: str) -> None:
        self.table.show_thumbnail(item_id, path)

    def _on_progress(self, done: int, total: int, eta: float) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.status_label.setText(f"Processed {done} / {total}{_format_eta(eta)}")

    def _on_running(self, running: bool) -> None:
        self.cancel_button.setEnabled(running)
        self.start_button.setEnabled(not running)
        if not running:
            counts = self.state_counts()
            ready = sum(counts.get(s, 0) for s in HAS_RESULT)
            self.status_label.setText(
                f"{ready} ready, {counts.get(QUEUED, 0)} queued, {counts.get(FAILED, 0)} failed"
            )
            self.save_now()

    def _on_export_progress(self, done: int, total: int, eta: float) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.status_label.setText(f"Exported {done} / {total}{_format_eta(eta)}")
        self.cancel_button.setEnabled(done < total)

    def _on_export_finished(self, written: int, skipped: int, failed: int, errors: list) -> None:
        self.status_label.setText(f"Exported {written}, skipped {skipped}, failed {failed}")
        self.cancel_button.setEnabled(self.service.running)
        self._update_failures(extra=errors)
        self.save_now()

    def _update_failures(self, extra: list | None = None) -> None:
        failed = [
            e.error if (e.error or "").startswith(e.name) else f"{e.name}: {e.error}"
            for e in self.entries.values()
            if e.state == FAILED
        ]
        lines = list(dict.fromkeys([*failed, *(extra or [])]))
        if not lines:
            self.failure_label.clear()
            return
        shown = "; ".join(lines[:3]) + (f"; … and {len(lines) - 3} more" if len(lines) > 3 else "")
        self.failure_label.setText(f"{len(lines)} failed: {shown}")
        self.failure_label.setToolTip("\n".join(lines))

    # -- sorting, opening, editing -------------------------------------------------------
    def ordered_ids(self) -> list[str]:
        """Item ids in the order the table shows them."""
        return self.table.ordered_ids()

    def state_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in self.entries.values():
            counts[entry.state] = counts.get(entry.state, 0) + 1
        return counts

    def _open_row(self, row: int) -> None:
        entry = self.entries[self.table.id_at(row)]
        if entry.state in HAS_RESULT:
            self.openRequested.emit(entry.source)

    def next_path(self, after: str | None = None) -> str | None:
        """The next item with a result after `after`, in table order (for PgDn in the editor)."""
        ids = [i for i in self.ordered_ids() if self.entries[i].state in HAS_RESULT]
        if not ids:
            return None
        if after is not None and (current := item_id_for(after)) in ids:
            index = ids.index(current) + 1
            return self.entries[ids[index]].source if index < len(ids) else None
        return self.entries[ids[0]].source

    def open_next(self, after: str | None = None) -> bool:
        path = self.next_path(after)
        if path is not None:
            self.openRequested.emit(path)
        return path is not None

    def result_alpha(self, path: str | Path) -> np.ndarray | None:
        """The item's current alpha (uint8; the edit if any), to load into the editor."""
        return self.store.alpha(item_id_for(path))

    def mark_edited(self, path: str | Path, alpha_u8: np.ndarray) -> None:
        """Save the user's touched-up alpha for a batch item (autosaved immediately)."""
        entry = self.entries.get(item_id_for(path))
        if entry is None:
            raise KeyError(f"{path} is not in the batch")
        self.store.save_edit(entry.id, alpha_u8)
        self._set_state(entry, EDITED, "")
        self.save_now()

    # -- export --------------------------------------------------------------------------
    def selected_ids(self) -> list[str]:
        return self.table.selected_ids()

    def export_items(
        self, item_ids: list[str] | None, options: ExportOptions, out_dir: str | Path
    ) -> int:
        """Export the given items (None = all with a result); returns how many were started."""
        ids = item_ids if item_ids is not None else self.ordered_ids()
        todo = [self.entries[i] for i in ids if self.entries[i].state in HAS_RESULT]
        if todo:
            self.status_label.setText(f"Exporting {len(todo)}…")
            self.cancel_button.setEnabled(True)
            self.service.export(todo, options, out_dir)
        return len(todo)

    def _export_with_dialog(self, selected: bool) -> None:
        from bgeraser_gui.gui.export_dialog import ExportDialog

        dialog = ExportDialog(self._export_options, self._export_dir, None, self)
        dialog.setWindowTitle("Export selected" if selected else "Export all")
        if not dialog.exec() or dialog.result_options() is None:
            return
        self._export_options, self._export_dir = dialog.result_options(), dialog.out_dir()
        self.exportChosen.emit(self._export_options, self._export_dir)
        ids = self.selected_ids() if selected else None
        self.export_items(ids, self._export_options, self._export_dir)

    # -- drag and drop, browsing, shutdown -----------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.add_paths(paths)
            event.acceptProposedAction()

    def _browse_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add photos", self._export_dir)
        self.add_paths(files)

    def _browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos", self._export_dir)
        if folder:
            self.add_paths([folder])

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Stop processing and save the queue (call when the window closes)."""
        self.service.cancel()
        self.service.wait(timeout_s)
        self.save_now()


def main(argv: list[str] | None = None) -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    panel = BatchPanel()
    panel.setWindowTitle("bgeraser batch")
    panel.resize(720, 520)
    panel.add_paths((argv if argv is not None else sys.argv[1:]) or [])
    panel.show()
    app.aboutToQuit.connect(panel.shutdown)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
