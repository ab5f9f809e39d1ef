"""Keyboard-first: every action has a shortcut and a menu entry; keys trigger their actions;
a customised shortcut is saved and used by the next window."""

from __future__ import annotations

import pytest
from app_fakes import InstantBackend, make_window, write_photo
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication

pytest.importorskip("pytestqt")


@pytest.fixture
def window(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    w.open_paths([write_photo(tmp_path / "a.png", 64, 48)])
    qtbot.waitUntil(lambda: w.session.document is not None)
    qtbot.waitUntil(lambda: w.session.document.model_mask is not None)
    return w


def test_every_action_has_a_unique_shortcut_and_a_menu_entry(window):
    from bgeraser_gui.gui.actions import ACTION_SPECS

    in_menus = {
        action.objectName()
        for menu in window.menus.values()
        for action in menu.actions()
        if action.objectName()
    }
    seen: dict[str, str] = {}
    for spec in ACTION_SPECS:
        keys = window.actions_.shortcuts(spec.id)
        assert keys, f"{spec.id} has no shortcut"
        assert f"action_{spec.id}" in in_menus, f"{spec.id} is missing from the menus"
        for key in keys:
            assert key not in seen, f"{key} used by {seen.get(key)} and {spec.id}"
            seen[key] = spec.id


def press(qtbot, window, sequence: str) -> None:
    combo = QKeySequence(sequence)[0]
    qtbot.keyClick(window.canvas, combo.key(), combo.keyboardModifiers())


def test_shortcuts_trigger_their_actions(qtbot, window):
    canvas = window.canvas
    press(qtbot, window, "4")
    assert canvas.view_mode().value == "mask"
    assert window.actions_.action("view_mask").isChecked()
    press(qtbot, window, "V")
    assert canvas.view_mode().value == "original"
    press(qtbot, window, "E")
    assert canvas.tool() == "remove"
    assert window.actions_.action("tool_remove").isChecked()
    press(qtbot, window, "X")
    assert canvas.tool() == "keep"
    smart = canvas.smart_brush()
    press(qtbot, window, "S")
    assert canvas.smart_brush() != smart
    assert window.actions_.action("smart_brush").isChecked() == canvas.smart_brush()
    size = canvas.brush_size()
    press(qtbot, window, "]")
    assert canvas.brush_size() > size
    press(qtbot, window, "Ctrl+1")
    assert canvas.zoom() == 1.0
    press(qtbot, window, "Ctrl++")
    assert canvas.zoom() > 1.0
    doc = window.session.document
    assert doc.history.labels() == ["Segment (fake)"]
    press(qtbot, window, "Ctrl+Z")
    assert doc.model_mask is None
    press(qtbot, window, "Ctrl+Shift+Z")
    assert doc.model_mask is not None


def test_tab_reviews_uncertain_edges_instead_of_moving_focus(qtbot, window):
    import numpy as np

    doc = window.session.document
    soft = np.zeros((doc.height, doc.width), np.float32)
    soft[10:30, 10:40] = 0.5  # one uncertain region
    doc.set_model_mask(soft, "soft")
    hits = []
    window.actions_.action("next_uncertain").triggered.connect(lambda: hits.append("next"))
    window.actions_.action("prev_uncertain").triggered.connect(lambda: hits.append("prev"))
    press(qtbot, window, "Tab")
    press(qtbot, window, "Shift+Tab")
    assert hits == ["next", "prev"]
    assert QApplication.focusWidget() is window.canvas


def test_panel_shortcuts_hide_and_show_their_docks(qtbot, window):
    assert window.history_dock.isVisible()
    press(qtbot, window, "Ctrl+H")
    assert not window.history_dock.isVisible()
    assert not window.actions_.action("toggle_history").isChecked()
    press(qtbot, window, "Ctrl+H")
    assert window.history_dock.isVisible()
    if window.batch_panel is not None:
        assert not window.batch_dock.isVisible()
        press(qtbot, window, "Ctrl+B")
        assert window.batch_dock.isVisible()


def test_peek_key_shows_the_original_while_held(qtbot, window):
    window.canvas.set_view_mode("mask")
    qtbot.keyPress(window.canvas, Qt.Key.Key_Backslash)
    assert window.canvas.peek_original()
    qtbot.keyRelease(window.canvas, Qt.Key.Key_Backslash)
    assert not window.canvas.peek_original()


def test_ctrl_r_reruns_the_model_and_ctrl_m_refines(qtbot, window, monkeypatch):
    import numpy as np

    from bgeraser_gui.core.matting import MattingResult

    calls = []

    def fake_refine(rgb, mask, touchups, options, progress, cancel):
        calls.append((mask.shape, touchups.shape))
        alpha = np.full(mask.shape, 0.5, np.float32)
        trimap = np.full(mask.shape, 128, np.uint8)
        return MattingResult(alpha=alpha, foreground=None, trimap=trimap, notes=[])

    monkeypatch.setattr("bgeraser_gui.core.pipeline.refine", fake_refine)  # what Ctrl+M runs
    doc = window.session.document
    press(qtbot, window, "Ctrl+M")
    qtbot.waitUntil(lambda: doc.refined_alpha is not None)
    assert calls == [((48, 64), (48, 64))]
    assert float(doc.alpha().mean()) == pytest.approx(0.5)
    press(qtbot, window, "Ctrl+R")
    qtbot.waitUntil(lambda: len(doc.history.labels()) == 3)
    assert doc.history.labels()[-1] == "Segment (fake)"


def test_customised_shortcut_persists_across_windows(qtbot, tmp_path):
    from bgeraser_gui.gui.shortcuts_dialog import ShortcutsDialog

    settings_path = tmp_path / "shared.ini"
    first = make_window(qtbot, settings_path, {"fake": InstantBackend()})
    dialog = ShortcutsDialog(first.actions_, first)
    qtbot.addWidget(dialog)
    dialog.select_action("cycle_view")
    dialog.key_edit.setKeySequence(QKeySequence("Ctrl+Alt+V"))
    qtbot.mouseClick(dialog.assign_button, Qt.MouseButton.LeftButton)
    assert first.actions_.shortcuts("cycle_view") == ("Ctrl+Alt+V",)
    # a key already taken is refused with a message, and nothing changes
    dialog.key_edit.setKeySequence(QKeySequence("Ctrl+O"))
    qtbot.mouseClick(dialog.assign_button, Qt.MouseButton.LeftButton)
    assert "already used" in dialog.message.text()
    assert first.actions_.shortcuts("cycle_view") == ("Ctrl+Alt+V",)
    first.close()

    second = make_window(qtbot, settings_path, {"fake": InstantBackend()})
    assert second.actions_.shortcuts("cycle_view") == ("Ctrl+Alt+V",)
    assert second.actions_.action("cycle_view").toolTip().endswith("(Ctrl+Alt+V)")
    second.open_paths([write_photo(tmp_path / "b.png")])
    qtbot.waitUntil(lambda: second.session.document is not None)
    before = second.canvas.view_mode()
    press(qtbot, second, "Ctrl+Alt+V")
    assert second.canvas.view_mode() != before
    mode = second.canvas.view_mode()
    press(qtbot, second, "V")  # the old key no longer cycles
    assert second.canvas.view_mode() == mode
    # and "reset all" brings the defaults back, also for later windows
    second.actions_.reset_all()
    assert second.actions_.shortcuts("cycle_view") == ("V",)


def test_shortcuts_dialog_lists_every_action(qtbot, window):
    from bgeraser_gui.gui.actions import ACTION_SPECS
    from bgeraser_gui.gui.shortcuts_dialog import ShortcutsDialog

    dialog = ShortcutsDialog(window.actions_, window)
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == len(ACTION_SPECS) + 2  # + the Objects panel's keys
    texts = {dialog.table.item(r, 2).text() for r in range(dialog.table.rowCount())}
    assert {"Ctrl+E", "Ctrl+Shift+E", "PgDown", "Tab", "Esc"} <= texts
    assert {"Alt+1 … Alt+9", "Alt+0"} <= texts
    dialog.filter_edit.setText("alt+1")
    (row,) = [r for r in range(dialog.table.rowCount()) if not dialog.table.isRowHidden(r)]
    dialog.table.selectRow(row)
    assert dialog.table.item(row, 0).text() == "Show or hide object 1 … 9"
    assert "fixed" in dialog.message.text()
    dialog.filter_edit.setText("")
    dialog.filter_edit.setText("export")
    visible = [r for r in range(dialog.table.rowCount()) if not dialog.table.isRowHidden(r)]
    assert len(visible) == 2
