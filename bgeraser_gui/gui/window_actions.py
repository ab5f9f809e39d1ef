"""What each menu action and canvas signal of the main window does (the window's wiring)."""

from __future__ import annotations

from bgeraser_gui.gui.toolbar import TOOL_ACTIONS, VIEW_ACTIONS


def wire_actions(window) -> None:
    """Connect the main window's actions (menus, shortcuts) and canvas signals to what they do,
    through the window's public methods and parts (canvas, session, status, model chooser)."""
    a, c, s = window.actions_.connect, window.canvas, window.session
    a("open", window.open_dialog)
    a("open_folder", window.open_folder_dialog)
    a("next_image", lambda: window.step_image(+1))
    a("prev_image", lambda: window.step_image(-1))
    a("export", window.export_dialog)
    a("export_again", window.export_again)
    a("settings", window.settings_dialog)
    a("quit", window.close)
    a("undo", lambda: s.document is not None and s.document.undo())
    a("redo", lambda: s.document is not None and s.document.redo())
    a("segment", s.segment)
    a("refine", s.refine)
    a("cancel", window.cancel)
    a("choose_model", window.focus_model_chooser)
    a("import_model", window.import_model_dialog)
    a("next_uncertain", c.goto_next_uncertain)
    a("prev_uncertain", c.goto_prev_uncertain)
    for action_id, tool in TOOL_ACTIONS.items():
        a(action_id, lambda t=tool: c.set_tool(t))
    a("swap_keep_remove", c.swap_keep_remove)
    a("smart_brush", lambda: c.set_smart_brush(window.actions_.action("smart_brush").isChecked()))
    c.smartBrushChanged.connect(window.actions_.action("smart_brush").setChecked)
    window.actions_.action("smart_brush").setChecked(c.smart_brush())
    a("brush_bigger", lambda: c.change_brush_size(+1))
    a("brush_smaller", lambda: c.change_brush_size(-1))
    a("brush_harder", lambda: c.change_brush_hardness(+1))
    a("brush_softer", lambda: c.change_brush_hardness(-1))
    a("zoom_in", c.zoom_in)
    a("zoom_out", c.zoom_out)
    a("zoom_fit", c.zoom_fit)
    a("zoom_actual", c.zoom_actual)
    a("cycle_view", c.cycle_view_mode)
    for action_id, mode in VIEW_ACTIONS.items():
        a(action_id, lambda m=mode: c.set_view_mode(m))
    a("peek_original", lambda: c.set_peek_original(True))
    a("opacity_up", lambda: window.change_opacity(+0.1))
    a("opacity_down", lambda: window.change_opacity(-0.1))
    a("matte_color", window.choose_matte_color)
    a("shortcuts", window.shortcuts_dialog)
    a("about", window.about_dialog)
    c.zoomChanged.connect(window.status.set_zoom)
    c.viewModeChanged.connect(lambda mode: window.check_action(VIEW_ACTIONS, mode))
    c.toolChanged.connect(lambda tool: window.check_action(TOOL_ACTIONS, tool))
    c.cursorInfo.connect(window.status.set_cursor_info)
    c.brushChanged.connect(
        lambda size, hard: window.statusBar().showMessage(
            f"Brush {size} px, hardness {hard:.0%}", 2000
        )
    )
    c.uncertainRegionChanged.connect(window.on_uncertain_region)
    window.model_chooser.modelChosen.connect(s.set_model)
    window.model_chooser.importRequested.connect(window.import_model_dialog)
