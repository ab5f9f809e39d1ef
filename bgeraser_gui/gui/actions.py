"""The one registry of every user action: id, menu text, default shortcut(s), menu.

Menus, the toolbar and Help > Keyboard shortcuts are all built from `ACTION_SPECS`, so an
action cannot exist without a shortcut or be missing from the menus. User overrides are
stored in `AppSettings` and re-applied whenever a window is created.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar

from bgeraser_gui.gui.settings import AppSettings

MENUS = ("File", "Edit", "Mask", "Tools", "View", "Help")


@dataclass(frozen=True)
class ActionSpec:
    id: str
    text: str
    shortcuts: tuple[str, ...]
    menu: str
    tip: str = ""
    checkable: bool = False
    separator_before: bool = False


def _spec(id_, text, shortcuts, menu, tip="", **kw) -> ActionSpec:
    keys = (shortcuts,) if isinstance(shortcuts, str) else tuple(shortcuts)
    return ActionSpec(id_, text, keys, menu, tip, **kw)


ACTION_SPECS: tuple[ActionSpec, ...] = (
    _spec("open", "&Open…", "Ctrl+O", "File", "Open a photo"),
    _spec("open_folder", "Open &folder…", "Ctrl+Shift+O", "File", "Open a folder of photos"),
    _spec("next_image", "&Next image in folder", "PgDown", "File", separator_before=True),
    _spec("prev_image", "&Previous image in folder", "PgUp", "File"),
    _spec("export", "&Export…", "Ctrl+E", "File", "Export the cutout", separator_before=True),
    _spec("export_again", "Export with &last settings", "Ctrl+Shift+E", "File"),
    _spec("settings", "&Settings…", "Ctrl+,", "File", separator_before=True),
    _spec("quit", "&Quit", "Ctrl+Q", "File"),
    _spec("undo", "&Undo", "Ctrl+Z", "Edit"),
    _spec("redo", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Edit"),
    _spec("segment", "&Run model", "Ctrl+R", "Mask", "Segment the subject with the model"),
    _spec("refine", "Re&fine edges (matting)", "Ctrl+M", "Mask", "Solve soft edges and hair"),
    _spec("cancel", "&Cancel running job", "Esc", "Mask"),
    _spec("choose_model", "Choose &model…", "Ctrl+Shift+M", "Mask", separator_before=True),
    _spec("import_model", "&Import model file…", "Ctrl+Shift+I", "Mask"),
    _spec("next_uncertain", "Next &uncertain edge", "Tab", "Mask", separator_before=True),
    _spec("prev_uncertain", "Previous uncertain edge", "Shift+Tab", "Mask"),
    _spec(
        "tool_select",
        "Select &object",
        "W",
        "Tools",
        "Click an object to add it; Alt+click or right click removes it",
        checkable=True,
    ),
    _spec(
        "tool_keep",
        "&Keep brush",
        "B",
        "Tools",
        "Paint what belongs to the subject",
        checkable=True,
    ),
    _spec("tool_remove", "&Remove brush", "E", "Tools", "Paint what must go", checkable=True),
    _spec(
        "tool_refine",
        "Refine-&edge brush",
        "R",
        "Tools",
        "Mark hair and soft edges",
        checkable=True,
    ),
    _spec(
        "tool_erase",
        "Erase &touch-ups brush",
        "Shift+E",
        "Tools",
        "Remove painted strokes (back to the model's mask)",
        checkable=True,
    ),
    _spec(
        "smart_brush",
        "Smart brush (snap to e&dges)",
        "S",
        "Tools",
        "Keep/remove strokes follow colour edges",
        checkable=True,
    ),
    _spec(
        "matte_strokes",
        "&Matte inside strokes",
        "M",
        "Tools",
        "Keep/remove strokes are matted inside instead of stamped (hair, fur)",
        checkable=True,
    ),
    _spec("swap_keep_remove", "&Swap keep/remove", "X", "Tools"),
    _spec("brush_bigger", "Brush &bigger", "]", "Tools", separator_before=True),
    _spec("brush_smaller", "Brush s&maller", "[", "Tools"),
    _spec("brush_harder", "Brush &harder", ("Shift+]", "}"), "Tools"),
    _spec("brush_softer", "Brush so&fter", ("Shift+[", "{"), "Tools"),
    _spec("zoom_in", "Zoom &in", ("Ctrl++", "+", "="), "View"),
    _spec("zoom_out", "Zoom &out", ("Ctrl+-", "-"), "View"),
    _spec("zoom_fit", "&Fit to window", "Ctrl+0", "View"),
    _spec("zoom_actual", "&Actual size (100%)", "Ctrl+1", "View"),
    _spec("cycle_view", "&Cycle view", "V", "View", separator_before=True),
    _spec("view_overlay", "Mask o&verlay", "1", "View", checkable=True),
    _spec("view_checker", "Cutout on &checkerboard", "2", "View", checkable=True),
    _spec("view_color", "Cutout on co&lour", "3", "View", checkable=True),
    _spec("view_mask", "&Mask (black and white)", "4", "View", checkable=True),
    _spec("view_original", "O&riginal", "5", "View", checkable=True),
    _spec("peek_original", "&Peek at original (hold)", "\\", "View"),
    _spec("opacity_up", "Overlay more opaque", "Ctrl+]", "View", separator_before=True),
    _spec("opacity_down", "Overlay more transparent", "Ctrl+[", "View"),
    _spec("matte_color", "Matte &colour…", "Ctrl+Shift+C", "View"),
    _spec("toggle_history", "&History panel", "Ctrl+H", "View", checkable=True),
    _spec("toggle_batch", "&Batch panel", "Ctrl+B", "View", checkable=True),
    _spec("shortcuts", "&Keyboard shortcuts…", ("F1", "Ctrl+/"), "Help"),
    _spec("about", "&About bgeraser", "Ctrl+F1", "Help"),
)

SPECS_BY_ID = {spec.id: spec for spec in ACTION_SPECS}


def parse_shortcuts(text: str) -> tuple[str, ...]:
    """'Ctrl+Y; Ctrl+Shift+Z' -> normalised portable strings (empty text = no shortcut)."""
    keys = []
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        seq = QKeySequence(part)
        portable = seq.toString(QKeySequence.SequenceFormat.PortableText)
        if seq.isEmpty() or not portable:
            raise ValueError(f"not a valid shortcut: {part!r}")
        keys.append(portable)
    return tuple(keys)


def format_shortcuts(keys: tuple[str, ...]) -> str:
    return "; ".join(keys)


class ActionRegistry(QObject):
    """Creates one QAction per spec, applies saved shortcut overrides, builds the menus."""

    def __init__(self, parent: QObject, settings: AppSettings) -> None:
        super().__init__(parent)
        self._settings = settings
        self._actions: dict[str, QAction] = {}
        overrides = settings.shortcut_overrides()
        for spec in ACTION_SPECS:
            action = QAction(spec.text, parent)
            action.setObjectName(f"action_{spec.id}")
            action.setCheckable(spec.checkable)
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            if spec.tip:
                action.setStatusTip(spec.tip)
            self._actions[spec.id] = action
            keys = spec.shortcuts
            if spec.id in overrides:
                try:
                    keys = parse_shortcuts(overrides[spec.id])
                except ValueError:
                    keys = spec.shortcuts
            self._apply(spec.id, keys)

    def __contains__(self, action_id: str) -> bool:
        return action_id in self._actions

    def action(self, action_id: str) -> QAction:
        return self._actions[action_id]

    def actions(self) -> dict[str, QAction]:
        return dict(self._actions)

    def connect(self, action_id: str, slot: Callable[..., object]) -> None:
        self._actions[action_id].triggered.connect(lambda *_: slot())

    def shortcuts(self, action_id: str) -> tuple[str, ...]:
        return tuple(
            seq.toString(QKeySequence.SequenceFormat.PortableText)
            for seq in self._actions[action_id].shortcuts()
        )

    def _apply(self, action_id: str, keys: tuple[str, ...]) -> None:
        action = self._actions[action_id]
        action.setShortcuts([QKeySequence(k) for k in keys])
        spec = SPECS_BY_ID[action_id]
        tip = spec.tip or spec.text.replace("&", "").rstrip("…")
        action.setToolTip(f"{tip} ({keys[0]})" if keys else tip)

    def conflicts(self, action_id: str, keys: tuple[str, ...]) -> list[str]:
        """Other actions already using any of `keys`."""
        wanted = set(keys)
        return [
            other
            for other in self._actions
            if other != action_id and wanted & set(self.shortcuts(other))
        ]

    def set_shortcuts(self, action_id: str, keys: tuple[str, ...]) -> None:
        """Apply and persist a user's shortcut choice (the default removes the override)."""
        self._apply(action_id, keys)
        overrides = self._settings.shortcut_overrides()
        if keys == SPECS_BY_ID[action_id].shortcuts:
            overrides.pop(action_id, None)
        else:
            overrides[action_id] = format_shortcuts(keys)
        self._settings.set_shortcut_overrides(overrides)
        self._settings.sync()

    def reset_all(self) -> None:
        for spec in ACTION_SPECS:
            self._apply(spec.id, spec.shortcuts)
        self._settings.set_shortcut_overrides({})
        self._settings.sync()

    def build_menus(self, menubar: QMenuBar) -> dict[str, QMenu]:
        menus = {name: menubar.addMenu(f"&{name}") for name in MENUS}
        for spec in ACTION_SPECS:
            menu = menus[spec.menu]
            if spec.separator_before:
                menu.addSeparator()
            menu.addAction(self._actions[spec.id])
        return menus
