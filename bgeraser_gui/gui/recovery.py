"""Crash recovery in the editor: every open photo's edits are journaled (`core.autosave`) and,
at start, journals left by a session that did not close are offered back.

The journals live in `<user data dir>/bgeraser/recovery` (next to a portable/test settings
file: `<its folder>/recovery`). A clean close deletes them, and so does an export of a photo
that was not edited since; a crash or a kill leaves them for the next start.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from bgeraser_gui.core.autosave import AutosaveWriter
from bgeraser_gui.core.journal import (
    RecoverableJournal,
    default_recovery_dir,
    discard_journal,
    find_recoverable,
)

THUMB = QSize(96, 96)


def recovery_dir(settings) -> Path:
    """Where this settings profile's journals live."""
    return default_recovery_dir() if settings.path is None else settings.path.parent / "recovery"


def describe(journal: RecoverableJournal) -> str:
    edited = time.strftime("%Y-%m-%d %H:%M", time.localtime(journal.updated))
    text = f"{journal.source.name}\n{journal.source.parent}\nlast edit {edited}"
    return text + (f" — {journal.problem}" if journal.problem else "")


class RecoveryDialog(QDialog):
    """Lists the photos with unsaved edits of an unclosed session: Restore the ticked ones
    (the others are discarded), Discard all, or decide Later (kept for the next start)."""

    restoreRequested = Signal(list)  # [RecoverableJournal]

    def __init__(self, journals: list[RecoverableJournal], parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("recoveryDialog")
        self.setWindowTitle("Recover unsaved edits")
        self.journals = journals
        layout = QVBoxLayout(self)
        intro = QLabel(
            "bgeraser did not close properly last time. These photos have touch-ups that "
            "were not exported; restore them with their undo history?"
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.list = QListWidget(self)
        self.list.setIconSize(THUMB)
        for journal in journals:
            item = QListWidgetItem(describe(journal), self.list)
            if journal.thumbnail is not None:
                item.setIcon(QIcon(QPixmap(str(journal.thumbnail))))
            restorable = journal.problem is None
            item.setFlags(
                Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled
                if restorable
                else Qt.ItemFlag.NoItemFlags
            )
            item.setCheckState(Qt.CheckState.Checked if restorable else Qt.CheckState.Unchecked)
        layout.addWidget(self.list)
        buttons = QDialogButtonBox(self)
        self.restore_button = buttons.addButton("Restore", QDialogButtonBox.ButtonRole.AcceptRole)
        self.discard_button = QPushButton("Discard all")
        buttons.addButton(self.discard_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        buttons.addButton("Later", QDialogButtonBox.ButtonRole.RejectRole)
        self.restore_button.clicked.connect(self.restore)
        self.discard_button.clicked.connect(self.discard_all)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(560, 420)

    def chosen(self) -> list[RecoverableJournal]:
        return [
            journal
            for i, journal in enumerate(self.journals)
            if self.list.item(i).checkState() == Qt.CheckState.Checked
        ]

    def restore(self) -> None:
        chosen = self.chosen()
        for journal in self.journals:
            if journal not in chosen:
                discard_journal(journal.folder)
        self.accept()
        if chosen:
            self.restoreRequested.emit(chosen)

    def discard_all(self) -> None:
        for journal in self.journals:
            discard_journal(journal.folder)
        self.accept()


class AutosaveLink(QObject):
    """Gives the window's session an `AutosaveWriter` and offers recovery once at start."""

    failed = Signal(str)  # a journal write failed (emitted on the writer thread, queued)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.root = recovery_dir(window.settings)
        self.writer = AutosaveWriter(self.root)
        self.dialog: RecoveryDialog | None = None
        self._reported: str | None = None
        self.writer.on_error = self.failed.emit
        self.failed.connect(self._report)
        window.session.autosave = self.writer
        QTimer.singleShot(0, self.offer_recovery)

    def offer_recovery(self) -> RecoveryDialog | None:
        journals = find_recoverable(self.root)
        if not journals:
            return None
        self.dialog = RecoveryDialog(journals, self.window)
        self.dialog.restoreRequested.connect(self.window.session.restore)
        self.dialog.open()  # window-modal, does not block start-up
        return self.dialog

    def _report(self, text: str) -> None:
        if text != self._reported:  # once per kind of failure, not once per stroke
            self._reported = text
            self.window.statusBar().showMessage(f"Autosave failed: {text}", 10000)
