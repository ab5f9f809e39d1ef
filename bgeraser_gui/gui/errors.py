"""Clear, non-blocking error reporting: one message box that never stops the event loop.

Expected failures (`BgEraserError`: corrupt photo, missing model, export refused) are shown as
their one-line message; anything else is shown as "unexpected" and its traceback goes to the
log, so the user keeps the window and their edits either way.
"""

from __future__ import annotations

import logging
import re
import traceback

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from bgeraser_gui.core.errors import BgEraserError, describe_error

log = logging.getLogger("bgeraser.gui")
MAX_LINES = 8
STATUS_CHARS = 110  # the status bar gets a short line; the message box has the whole text
IMPORT_IN_GUI = "Mask > Import model file… (Ctrl+Shift+I)"
_CLI_IMPORT = re.compile(r"(?:and )?run: bgeraser-cli models import PATH --name \S+")
_CLI_IMPORT_BARE = re.compile(r"bgeraser-cli models import PATH --name \S+")


def for_gui(text: str) -> str:
    """Replace command-line advice meant for terminal users with the menu that does the same."""
    text = _CLI_IMPORT.sub(f"and use {IMPORT_IN_GUI}", text)
    return _CLI_IMPORT_BARE.sub(IMPORT_IN_GUI, text)


def status_line(line: str) -> str:
    """A status-bar version of `line`: up to its first detail, then a pointer to the box."""
    cut = len(line)
    for marker in (" (", ". ", "; "):
        found = line.find(marker, line.find(": ") + 2)
        if found > 0:
            cut = min(cut, found)
    short = line[:cut]
    if len(short) > STATUS_CHARS:
        short = short[: STATUS_CHARS - 1].rstrip() + "…"
    return line if short == line else f"{short} — details in the message window"


def describe(exc: BaseException) -> str:
    """A user-facing one-liner for `exc` (core's message, worded for the GUI)."""
    text = describe_error(exc)
    if isinstance(exc, BgEraserError):
        return for_gui(text) or type(exc).__name__
    return text[:1].upper() + text[1:]


class ErrorReporter:
    """Shows problems in a single non-modal message box (and the status bar)."""

    def __init__(self, parent: QWidget, show_status=None) -> None:
        self._parent = parent
        self._show_status = show_status
        self._box: QMessageBox | None = None
        self._lines: list[str] = []
        self.history: list[str] = []  # every message shown this session

    @property
    def box(self) -> QMessageBox | None:
        return self._box

    def report(self, title: str, exc: BaseException | str) -> str:
        if isinstance(exc, BaseException):
            message = describe(exc)
            if not isinstance(exc, BgEraserError | OSError | MemoryError):
                log.error("%s\n%s", title, "".join(traceback.format_exception(exc)))
        else:
            message = for_gui(exc)
        line = f"{title}: {message}"
        self.history.append(line)
        if self._show_status is not None:
            self._show_status(status_line(line))
        box = self._ensure_box()
        if not box.isVisible():
            self._lines = []
        self._lines = [*self._lines, line][-MAX_LINES:]
        box.setText(title if len(self._lines) == 1 else "Some things went wrong")
        box.setInformativeText("\n".join(self._lines if len(self._lines) > 1 else [message]))
        box.show()
        box.raise_()
        return line

    def _ensure_box(self) -> QMessageBox:
        if self._box is None:
            box = QMessageBox(self._parent)
            box.setIcon(QMessageBox.Icon.Warning)
            box.setWindowTitle("bgeraser")
            box.setStandardButtons(QMessageBox.StandardButton.Ok)
            box.setWindowModality(Qt.WindowModality.NonModal)
            box.setModal(False)
            self._box = box
        return self._box
