"""The main toolbar: which actions it shows, their drawn icons, the model chooser."""

from __future__ import annotations

import contextlib

from PySide6.QtCore import Qt
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QMainWindow, QToolBar, QWidget

from bgeraser_gui.gui.actions import ActionRegistry
from bgeraser_gui.gui.canvas.view import ViewMode

VIEW_ACTIONS = {
    "view_overlay": ViewMode.OVERLAY,
    "view_checker": ViewMode.CHECKER,
    "view_color": ViewMode.COLOR,
    "view_mask": ViewMode.MASK,
    "view_original": ViewMode.ORIGINAL,
}
TOOL_ACTIONS = {
    "tool_select": "select",
    "tool_keep": "keep",
    "tool_remove": "remove",
    "tool_refine": "refine",
    "tool_erase": "erase",
}
TOOLBAR = (
    *("open", "export", None, "undo", "redo", None, "segment", "refine", None),
    *("tool_select", "tool_keep", "tool_remove", "tool_refine", None, *VIEW_ACTIONS),
    *(None, "zoom_out", "zoom_in", "zoom_fit"),
)
ICONS = {
    "open": "open",
    "export": "export",
    "segment": "segment",
    "refine": "refine-run",
    "undo": "undo",
    "redo": "redo",
    "zoom_in": "zoom-in",
    "zoom_out": "zoom-out",
    "zoom_fit": "zoom-fit",
    "tool_select": "select-object",
    "tool_keep": "keep",
    "tool_remove": "remove",
    "tool_refine": "refine",
    "view_overlay": "view-overlay",
    "view_checker": "view-checker",
    "view_color": "view-colour",
    "view_mask": "view-mask",
    "view_original": "view-original",
}


def build_toolbar(window: QMainWindow, registry: ActionRegistry, chooser: QWidget) -> QToolBar:
    bar = QToolBar("Tools", window)
    bar.setObjectName("mainToolbar")
    bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    window.addToolBar(bar)
    for action_id in TOOLBAR:
        if action_id is None:
            bar.addSeparator()
        else:
            bar.addAction(registry.action(action_id))
    apply_icons(registry)
    bar.addSeparator()
    bar.addWidget(chooser)
    return bar


def apply_icons(registry: ActionRegistry) -> None:
    """(Re)draw the toolbar icons in the current palette's ink (also after a light/dark switch)."""
    try:
        from bgeraser_gui.gui.icons import icon
    except ImportError:
        return  # no resources: the toolbar shows the actions' text
    for action_id, name in ICONS.items():
        # no drawn icon for this action: the toolbar shows its text instead
        with contextlib.suppress(KeyError, ValueError):
            registry.action(action_id).setIcon(icon(name))


def group_actions(window: QMainWindow, registry: ActionRegistry, groups) -> None:
    """Make each group of checkable actions exclusive (one tool, one view at a time)."""
    for ids in groups:
        group = QActionGroup(window)
        group.setExclusive(True)
        for action_id in ids:
            group.addAction(registry.action(action_id))
