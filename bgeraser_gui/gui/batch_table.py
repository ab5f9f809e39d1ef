"""The batch queue as a table: thumbnail + name, state (with the failure reason), review score.

Rows are addressed by item id, so sorting keeps that mapping. Every column header sorts
(click again to reverse); "Needs review first" sorts by the score, worst first; turning it off
brings back the queue order (a hidden column holds each row's position in the queue).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from bgeraser_gui.core.project_store import FAILED, QueueEntry

COL_NAME, COL_STATE, COL_SCORE, COL_ORDER = range(4)
ICON_PX = 48
ID_ROLE = Qt.ItemDataRole.UserRole
SCORE_TITLE = "Needs review"
SCORE_TIP = (
    "How much the cutout needs a look: 0.00 = looks clean, 1.00 = check it first.\n"
    "It rises with hesitant (semi-transparent) edges, detached specks or holes, and a subject\n"
    "touching the picture border. Hover a score for its reasons; click to sort."
)
HEADERS = (
    ("Photo", "The photo's file name (hover for its folder). Click to sort."),
    ("State", "Queued, working, ready, exported or failed (hover for details). Click to sort."),
    (SCORE_TITLE, SCORE_TIP),
    ("#", "Position in the queue"),
)


class _ScoreItem(QTableWidgetItem):
    """Sorts by the numeric review score (unscored items count as -1: last when worst first)."""

    def __init__(self, score: float | None = None) -> None:
        super().__init__()
        self.set_score(score)

    def set_score(self, score: float | None) -> None:
        self.setData(ID_ROLE, -1.0 if score is None else float(score))
        self.setText("" if score is None else f"{score:.2f}")

    def __lt__(self, other: QTableWidgetItem) -> bool:
        return _number(self) < _number(other)


def _number(item: QTableWidgetItem) -> float:
    value = item.data(ID_ROLE)  # a score of 0.0 ("looks clean") is not "unscored"
    return -1.0 if value is None else float(value)


class _OrderItem(_ScoreItem):
    """The queue position (numeric sort) in the hidden order column."""

    def set_score(self, score: float | None) -> None:
        self.setData(ID_ROLE, float(score or 0))


class BatchTable(QTableWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(HEADERS), parent)
        self._name_items: dict[str, QTableWidgetItem] = {}
        self._added = 0
        for column, (title, tip) in enumerate(HEADERS):
            header_item = QTableWidgetItem(title)
            header_item.setToolTip(tip)
            self.setHorizontalHeaderItem(column, header_item)
        self.setColumnHidden(COL_ORDER, True)
        self.horizontalHeader().setSortIndicatorShown(True)
        self.sortItems(COL_ORDER, Qt.SortOrder.AscendingOrder)
        self.setSortingEnabled(True)  # header clicks sort
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
            self._added += 1
            self.setItem(row, COL_ORDER, _OrderItem(self._added))
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
        """Highest review score first, or (off) the queue order."""
        if enabled:
            self.sortItems(COL_SCORE, Qt.SortOrder.DescendingOrder)
        else:
            self.sortItems(COL_ORDER, Qt.SortOrder.AscendingOrder)

    def worst_first_box(self) -> QCheckBox:
        """The "Needs review first" check box, kept in step with header clicks."""
        box = QCheckBox("Needs review first")
        box.setToolTip(SCORE_TIP)
        box.toggled.connect(self._worst_first_toggled)
        self.horizontalHeader().sortIndicatorChanged.connect(
            lambda *_: box.setChecked(self.sorted_worst_first())
        )
        return box

    def _worst_first_toggled(self, checked: bool) -> None:
        if checked != self.sorted_worst_first():  # not a header click that already sorted
            self.sort_worst_first(checked)

    def sorted_worst_first(self) -> bool:
        header = self.horizontalHeader()
        return (
            header.sortIndicatorSection() == COL_SCORE
            and header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
        )

    def ordered_ids(self) -> list[str]:
        """Item ids in the order the table shows them."""
        return [self.id_at(row) for row in range(self.rowCount())]

    def selected_ids(self) -> list[str]:
        rows = sorted({index.row() for index in self.selectionModel().selectedRows()})
        return [self.id_at(row) for row in rows]
