"""The batch queue as a table: thumbnail + name, state (with the failure reason), review score.

Rows are addressed by item id; sorting by score ("needs review first") keeps that mapping.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from bgeraser_gui.core.project_store import FAILED, QueueEntry

COL_NAME, COL_STATE, COL_SCORE = range(3)
ICON_PX = 48
ID_ROLE = Qt.ItemDataRole.UserRole


class _ScoreItem(QTableWidgetItem):
    """Sorts by the numeric review score (unscored items count as -1: last when worst first)."""

    def __init__(self, score: float | None = None) -> None:
        super().__init__()
        self.set_score(score)

    def set_score(self, score: float | None) -> None:
        self.setData(ID_ROLE, -1.0 if score is None else float(score))
        self.setText("" if score is None else f"{score:.2f}")

    def __lt__(self, other: QTableWidgetItem) -> bool:
        return float(self.data(ID_ROLE) or -1.0) < float(other.data(ID_ROLE) or -1.0)


class BatchTable(QTableWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 3, parent)
        self._name_items: dict[str, QTableWidgetItem] = {}
        self.setHorizontalHeaderLabels(["Photo", "State", "Review"])
        self.setIconSize(QSize(ICON_PX, ICON_PX))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setWordWrap(False)  # long failure reasons are elided; the full text is a tooltip
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(ICON_PX + 6)
        self.horizontalHeader().setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        self.setToolTip("Double-click a ready item to open it in the editor")

    @contextmanager
    def _unsorted(self) -> Iterator[None]:
        """Sorting off while a row changes, so rows do not move under our feet."""
        sorting = self.isSortingEnabled()
        self.setSortingEnabled(False)
        try:
            yield
        finally:
            self.setSortingEnabled(sorting)

    def add_entry(self, entry: QueueEntry) -> None:
        with self._unsorted():
            row = self.rowCount()
            self.insertRow(row)
            name = QTableWidgetItem(entry.name)
            name.setData(ID_ROLE, entry.id)
            name.setToolTip(entry.source)
            self.setItem(row, COL_NAME, name)
            self.setItem(row, COL_STATE, QTableWidgetItem())
            self.setItem(row, COL_SCORE, _ScoreItem(entry.score))
            self._name_items[entry.id] = name
        self.show_state(entry)

    def remove_entry(self, item_id: str) -> None:
        item = self._name_items.pop(item_id, None)
        if item is not None:
            self.removeRow(item.row())

    def row_of(self, item_id: str) -> int:
        return self._name_items[item_id].row()

    def id_at(self, row: int) -> str:
        return self.item(row, COL_NAME).data(ID_ROLE)

    def show_state(self, entry: QueueEntry) -> None:
        reason = (entry.error or "").removeprefix(f"{entry.name}: ")
        state_item = self.item(self.row_of(entry.id), COL_STATE)
        state_item.setText(entry.state if entry.state != FAILED else f"failed: {reason}")
        tips = [entry.error] if entry.error else list(entry.reasons)
        if entry.output:
            tips.append(f"exported to {entry.output}")
        state_item.setToolTip("\n".join(t for t in tips if t))

    def show_score(self, item_id: str, score: float | None, reasons: list[str]) -> None:
        with self._unsorted():
            score_item = self.item(self.row_of(item_id), COL_SCORE)
            score_item.set_score(score)
            score_item.setToolTip("\n".join(reasons) or "looks clean")

    def show_thumbnail(self, item_id: str, path: str) -> None:
        item = self._name_items.get(item_id)
        pixmap = QPixmap(path)
        if item is not None and not pixmap.isNull():
            item.setIcon(QIcon(pixmap))

    def has_thumbnail(self, item_id: str) -> bool:
        return not self._name_items[item_id].icon().isNull()

    def sort_worst_first(self, enabled: bool) -> None:
        self.setSortingEnabled(enabled)
        if enabled:
            self.sortItems(COL_SCORE, Qt.SortOrder.DescendingOrder)

    def ordered_ids(self) -> list[str]:
        """Item ids in the order the table shows them."""
        return [self.id_at(row) for row in range(self.rowCount())]

    def selected_ids(self) -> list[str]:
        rows = sorted({index.row() for index in self.selectionModel().selectedRows()})
        return [self.id_at(row) for row in rows]
