"""Objects dock: the subjects of the cutout, each one switched on and off with a click.

"Find objects" splits the current mask into objects (`core.objects`) on a worker, optionally
also looking for things the model left out on crops (the click-to-select engine's crop model
and cache). Then every change is a document edit (`core.object_layers`): instant, undoable,
journaled, kept through a new model mask and a refinement.
Keys: Alt+1 … Alt+9 show/hide object n; Alt+0 shows all. In the list: Space toggles,
F2 renames, Delete deletes; double click = solo.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDockWidget,
    QGridLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from bgeraser_gui.core import object_layers as ol
from bgeraser_gui.core.objects import split_objects
from bgeraser_gui.services.worker import JobRunner

THUMB = 56  # thumbnail side, pixels
ID_ROLE = Qt.ItemDataRole.UserRole

# the panel's keys (fixed), listed in Help > Keyboard shortcuts: (what, where, keys)
OBJECT_KEYS = (
    ("Show or hide object 1 … 9", "Objects panel", "Alt+1 … Alt+9"),
    ("Show all objects", "Objects panel", "Alt+0"),
)
ORIGINS = {  # where a hidden object came from (core.objects)
    "crop": "found on a crop",
    "faint": "the model was unsure",
    "hidden": "left out by the model",
}


def thumbnails(rgb: np.ndarray, labels: np.ndarray) -> dict[int, QImage]:
    """One small picture per object id: its box of the photo, other pixels dimmed."""
    from scipy import ndimage

    out = {}
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        h, w = box[0].stop - box[0].start, box[1].stop - box[1].start
        step = max(1, int(max(h, w) / THUMB))
        crop = rgb[box][::step, ::step].astype(np.float32)
        own = (labels[box][::step, ::step] == index)[..., None]
        picture = np.where(own, crop, crop * 0.25 + 40).astype(np.uint8)
        picture = np.ascontiguousarray(picture)
        ph, pw = picture.shape[:2]
        image = QImage(picture.data, pw, ph, picture.strides[0], QImage.Format.Format_RGB888)
        out[index] = image.copy()  # own its pixels: `picture` goes away
    return out


class ObjectsPanel(QWidget):
    findRequested = Signal(bool)  # look on crops too

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setObjectName("objectsList")
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed)
        self.list.itemChanged.connect(self._item_changed)
        self.list.itemDoubleClicked.connect(lambda item: self._act(ol.solo, item))
        self.crops = QCheckBox("Also look for things the model left out (slower)")
        self.find_button = QPushButton("Find objects")
        self.find_button.clicked.connect(lambda: self.findRequested.emit(self.crops.isChecked()))
        grid = QGridLayout()
        self.buttons = {}
        for n, (name, slot) in enumerate((
            ("Solo", lambda: self._act(ol.solo)),
            ("Show all", lambda: self._doc and ol.show_all(self._doc)),
            ("Merge", self._merge),
            ("Delete", lambda: self._act(ol.delete)),
            ("Rename", self._rename),
        )):  # fmt: skip
            button = QPushButton(name)
            button.clicked.connect(slot)
            grid.addWidget(button, n // 3, n % 3)
            self.buttons[name] = button
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.find_button)
        layout.addWidget(self.crops)
        layout.addWidget(self.list, 1)
        layout.addLayout(grid)
        QShortcut(QKeySequence(Qt.Key.Key_Delete), self.list, lambda: self._act(ol.delete))
        QShortcut(QKeySequence(Qt.Key.Key_Space), self.list, self._toggle_selected)
        self._doc = None
        self._thumbs: dict[int, QImage] = {}
        self._thumbs_of = None  # the label layer the thumbnails were made from
        self._filling = False
        self.set_document(None)

    # -- document --------------------------------------------------------------------------
    def set_document(self, doc) -> None:
        if self._doc is not None:
            self._doc.history.remove_listener(self._refresh)
        self._doc = doc
        if doc is not None:
            doc.history.add_listener(self._refresh)
        self.find_button.setEnabled(doc is not None)
        self._refresh()

    def _refresh(self, _history=None) -> None:
        doc = self._doc
        entries = [] if doc is None else ol.objects_of(doc)
        labels = None if doc is None else doc.layer(ol.OBJECT_LABELS)
        if labels is not self._thumbs_of:
            self._thumbs_of = labels
            self._thumbs = {} if labels is None else thumbnails(doc.rgb, labels)
        selected = {item.data(ID_ROLE) for item in self.list.selectedItems()}
        self._filling = True
        self.list.clear()
        for n, entry in enumerate(entries, start=1):
            key = f"Alt+{n}  " if n <= 9 else ""
            origin = ORIGINS.get(entry.source, "")
            item = QListWidgetItem(f"{entry.name}\n{key}{origin}".rstrip())
            item.setData(ID_ROLE, entry.id)
            editable = Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEditable
            item.setFlags(item.flags() | editable)
            shown = Qt.CheckState.Checked if entry.visible else Qt.CheckState.Unchecked
            item.setCheckState(shown)
            if entry.id in self._thumbs:
                item.setIcon(QIcon(QPixmap.fromImage(self._thumbs[entry.id])))
            self.list.addItem(item)
            item.setSelected(entry.id in selected)
        self._filling = False
        for button in self.buttons.values():
            button.setEnabled(bool(entries))

    # -- edits -----------------------------------------------------------------------------
    def toggle_number(self, n: int) -> None:
        """Show/hide the n-th object in the list (1-based)."""
        entries = [] if self._doc is None else ol.objects_of(self._doc)
        if 1 <= n <= len(entries):
            ol.toggle(self._doc, entries[n - 1].id)

    def _item_changed(self, item: QListWidgetItem) -> None:
        if self._filling or self._doc is None:
            return
        object_id = item.data(ID_ROLE)
        entry = next((e for e in ol.objects_of(self._doc) if e.id == object_id), None)
        if entry is None:
            return
        name = item.text().split("\n")[0].strip()
        if name and name != entry.name:
            ol.rename(self._doc, object_id, name)
        elif (item.checkState() == Qt.CheckState.Checked) != entry.visible:
            ol.toggle(self._doc, object_id)

    def _act(self, edit, item: QListWidgetItem | None = None) -> None:
        item = item or self.list.currentItem()
        if self._doc is not None and item is not None:
            edit(self._doc, item.data(ID_ROLE))

    def _toggle_selected(self) -> None:
        self._act(ol.toggle)

    def _merge(self) -> None:
        if self._doc is not None:
            ol.merge(self._doc, [item.data(ID_ROLE) for item in self.list.selectedItems()])

    def _rename(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self._filling = True
            item.setText(item.text().split("\n")[0])  # edit the name alone
            self._filling = False
            self.list.editItem(item)


def attach_objects_panel(window) -> ObjectsPanel:
    """The Objects dock of `window` (tabbed with History), its keys and its worker."""
    panel = ObjectsPanel(window)
    dock = QDockWidget("Objects", window)
    dock.setObjectName("objectsDock")
    dock.setWidget(panel)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    window.tabifyDockWidget(window.history_dock, dock)
    window.menus["View"].addAction(dock.toggleViewAction())
    runner = JobRunner(window, "objects")
    session = window.session

    def find(with_crops: bool) -> None:
        doc = session.document
        if doc is None or doc.base_mask() is None:
            window.statusBar().showMessage("Find objects: run the model first", 4000)
            return
        rgb, mask = doc.rgb, doc.base_mask()

        def job(progress, cancel):
            progress(0.0, "finding objects")
            crops = window.selector.crop_segmenter(doc, progress) if with_crops else None
            objects = split_objects(rgb, mask, crops=crops, cancel=cancel)
            return doc, mask, ol.object_layers(objects, mask.shape)

        runner.submit(job)

    def found(_job_id: int, result) -> None:
        doc, mask, layers = result
        if doc is session.document and doc.base_mask() is mask:
            ol.set_objects(doc, layers)
            count = len(ol.objects_of(doc))
            window.statusBar().showMessage(f"{count} object(s) found", 4000)
            dock.show()
            dock.raise_()

    panel.findRequested.connect(find)
    runner.finished.connect(found)
    say = window.statusBar().showMessage
    runner.failed.connect(lambda _id, exc: say(f"Objects: {exc}", 6000))
    session.documentChanged.connect(panel.set_document)
    session.documentChanged.connect(lambda _doc: runner.cancel())
    for n in range(1, 10):
        QShortcut(QKeySequence(f"Alt+{n}"), window, lambda n=n: panel.toggle_number(n))
    QShortcut(QKeySequence("Alt+0"), window, lambda: panel._doc and ol.show_all(panel._doc))
    panel.set_document(session.document)
    window.objects_dock = dock
    return panel
