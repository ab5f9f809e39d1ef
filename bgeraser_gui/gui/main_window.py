"""The editor window: composes the canvas, actions, panels, status bar and the session."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QColor, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QColorDialog,
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QMenu,
)

from bgeraser_gui import APP_NAME
from bgeraser_gui.core.image_io import SUPPORTED_EXTENSIONS, collect_images
from bgeraser_gui.gui.actions import ActionRegistry
from bgeraser_gui.gui.canvas.view import CanvasView, ViewMode
from bgeraser_gui.gui.dialogs_flow import DialogFlows
from bgeraser_gui.gui.errors import ErrorReporter
from bgeraser_gui.gui.folder_nav import neighbour
from bgeraser_gui.gui.history_panel import HistoryPanel
from bgeraser_gui.gui.model_chooser import ModelChooser
from bgeraser_gui.gui.objects_panel import attach_objects_panel
from bgeraser_gui.gui.select_link import attach_select_tool
from bgeraser_gui.gui.session import EditorSession
from bgeraser_gui.gui.settings import AppSettings
from bgeraser_gui.gui.status import StatusPanel
from bgeraser_gui.gui.stroke_matting import StrokeMatting
from bgeraser_gui.gui.toolbar import TOOL_ACTIONS, VIEW_ACTIONS, build_toolbar, group_actions
from bgeraser_gui.gui.window_actions import wire_actions
from bgeraser_gui.gui.window_fit import place_window

FILE_FILTER = "Images ({})".format(" ".join(f"*{e}" for e in sorted(SUPPORTED_EXTENSIONS)))
BATCH_THRESHOLD = 2  # a drop of more images than this also goes to the batch panel
NO_MASK_HINT = "No mask yet — Ctrl+R to find the subject"
WAITING_HINT = "Waiting for the batch result — Ctrl+R to run the model now"


class MainWindow(QMainWindow):
    def __init__(self, settings: AppSettings | None = None, session: EditorSession | None = None):
        super().__init__()
        self.setWindowTitle(APP_NAME)
        self.setObjectName("mainWindow")
        self.setAcceptDrops(True)
        self.settings = settings or AppSettings()
        self.reporter = ErrorReporter(self, lambda text: self.statusBar().showMessage(text, 8000))
        self.session = session or EditorSession(self.settings, self.reporter, self)
        self.session.reporter = self.reporter
        self.actions_ = ActionRegistry(self, self.settings)
        self.addActions(list(self.actions_.actions().values()))

        self.canvas = CanvasView(self)
        self.setCentralWidget(self.canvas)
        self.canvas.set_overlay_opacity(self.settings.overlay_opacity)
        self.canvas.set_matte_color(QColor(self.settings.matte_color))
        self.canvas.set_overlay_colour(self.settings.overlay_colour)
        self.status = StatusPanel(self.statusBar())
        self.status.cancel_button.clicked.connect(self.cancel)
        self.model_chooser = ModelChooser(self)
        self.dialogs = DialogFlows(
            self,
            self.settings,
            self.session,
            self.reporter,
            self.status,
            self.model_chooser,
            self.statusBar().showMessage,
        )
        # listing the model cache touches the disk: do it right after the window is up
        QTimer.singleShot(0, self._reload_models)
        self.status.set_model(self.session.model_name())

        self.history_panel = HistoryPanel(self)
        self.history_dock = self._dock("History", self.history_panel, "toggle_history")
        self.batch_panel = self.batch_link = None
        self._discard_confirmed = False
        self._watched_history = None
        self._add_batch_panel()
        self.menus = self.actions_.build_menus(self.menuBar())
        self.recent_menu = QMenu("Open &recent", self)
        self.menus["File"].insertMenu(self.actions_.action("open_folder"), self.recent_menu)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.toolbar = build_toolbar(self, self.actions_, self.model_chooser)
        group_actions(self, self.actions_, (TOOL_ACTIONS, VIEW_ACTIONS))
        wire_actions(self)
        self.stroke_matting = StrokeMatting(self)  # M: keep/remove strokes matted inside
        self.selector = attach_select_tool(self)  # select-object tool (W): clicks on a worker
        self.objects_panel = attach_objects_panel(self)  # objects dock, toggled with Alt+n
        self._connect_session()
        from bgeraser_gui.gui.recovery import AutosaveLink

        self.recovery = AutosaveLink(self)  # journals every photo; offers recovery at start
        geometry, state = self.settings.window_state()
        place_window(self, geometry)  # saved geometry only if it fits the screen
        if state is not None:
            self.restoreState(state)
        else:
            self.resizeDocks([self.history_dock], [300], Qt.Orientation.Horizontal)
        for dock_name, toggle_id in (
            ("history_dock", "toggle_history"),
            ("batch_dock", "toggle_batch"),
        ):
            if hasattr(self, dock_name):
                self.actions_.action(toggle_id).setChecked(not getattr(self, dock_name).isHidden())
        self._refresh_peek_keys()
        QApplication.instance().installEventFilter(self)
        self.on_document_changed(None)

    # -- construction ----------------------------------------------------------------------
    def _dock(self, title: str, widget, toggle_id: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{title.lower()}Dock")
        dock.setWidget(widget)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        toggle = self.actions_.action(toggle_id)
        toggle.setChecked(True)
        # follow shown/hidden (not "tabbed behind", which visibilityChanged also reports)
        dock.toggleViewAction().toggled.connect(toggle.setChecked)
        toggle.triggered.connect(lambda shown: self.show_dock(dock, shown))
        return dock

    def _reload_models(self) -> None:
        self.model_chooser.reload(self.session.model, self.settings.model_folder)

    def show_dock(self, dock: QDockWidget, shown: bool = True) -> None:
        dock.setVisible(shown)
        if shown:
            dock.raise_()

    def _add_batch_panel(self) -> None:
        from bgeraser_gui.gui.batch_link import create_batch_panel

        created = create_batch_panel(self)
        if created is None:
            self.actions_.action("toggle_batch").setEnabled(False)
            return
        self.batch_panel, self.batch_link = created
        self.batch_dock = self._dock("Batch", self.batch_panel, "toggle_batch")
        # one column of panels: History and Batch share it as tabs, History in front
        self.tabifyDockWidget(self.history_dock, self.batch_dock)
        self.batch_dock.hide()  # until photos are queued (Ctrl+B shows it)

    def _connect_session(self) -> None:
        s = self.session
        s.documentChanged.connect(self.on_document_changed)
        s.progress.connect(self.status.set_progress)
        s.busyChanged.connect(lambda busy: None if busy else self.status.finish_progress())
        s.busyChanged.connect(lambda _busy: self._update_hint())
        s.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        s.modelChanged.connect(lambda model: self.status.set_model(s.model_name(model)))
        s.modelChanged.connect(self.model_chooser.select)
        s.deviceChanged.connect(self.status.set_device)
        s.exported.connect(lambda _path: self._update_title())

    # -- document --------------------------------------------------------------------------
    def on_document_changed(self, doc) -> None:
        self.canvas.set_document(doc)
        history = None if doc is None else doc.history
        self.history_panel.set_history(history, doc)
        if self._watched_history is not None:
            self._watched_history.remove_listener(self._update_title)
        self._watched_history = history
        if history is not None:
            history.add_listener(self._update_title)
        self.status.set_image_size(*((doc.width, doc.height) if doc else (None, None)))
        self._update_title()

    def on_uncertain_region(self, index: int, count: int) -> None:
        if count == 0 or index < 1:
            doc = self.session.document
            text = NO_MASK_HINT if doc is not None and not doc.has_mask else "No uncertain edges"
        else:
            text = f"Uncertain region {index} of {count}"
        self.statusBar().showMessage(text, 3000)

    def _update_hint(self) -> None:
        """Tell the user how to get a mask while the photo has none and nothing is running."""
        doc = self.session.document
        idle_unmasked = doc is not None and not self.session.busy and not doc.has_mask
        if idle_unmasked and self.session.waits_for_result(doc):
            self.status.set_hint(WAITING_HINT)
        else:
            self.status.set_hint(NO_MASK_HINT if idle_unmasked else "")

    def _update_title(self, _history=None) -> None:
        """'photo.jpg* — bgeraser' while the photo has touch-ups that were not exported."""
        self._update_hint()
        doc = self.session.document
        if doc is None:
            self.setWindowTitle(APP_NAME)
            return
        name = doc.path.name if doc.path else "untitled"
        self.setWindowTitle(f"{name}[*] — {APP_NAME}")
        self.setWindowModified(self.session.needs_saving(doc))

    def open_paths(self, paths: list[str | Path]) -> None:
        """Open dropped / command-line files and folders (many images also go to the batch)."""
        images = collect_images([Path(p) for p in paths], recursive=True)
        if not images:
            names = ", ".join(Path(p).name for p in paths)
            self.reporter.report("Nothing to open", f"no supported images in {names}")
            return
        if self.batch_panel is not None and len(images) > BATCH_THRESHOLD:
            self.batch_panel.add_paths(images)
            self.show_dock(self.batch_dock)
        self.session.open_path(images[0])

    def open_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Open photos", self.settings.last_open_dir, FILE_FILTER
        )
        if files:
            self.open_paths(files)

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open folder", self.settings.last_open_dir)
        if folder:
            self.open_paths([folder])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent_files():
            self.recent_menu.addAction(path, lambda p=path: self.open_paths([p]))
        if not self.recent_menu.isEmpty():
            self.recent_menu.addSeparator()
        self.recent_menu.addAction("Clear list", self.settings.clear_recent_files)

    def step_image(self, step: int) -> None:
        doc = self.session.document
        if doc is None or doc.path is None:
            return
        target = None
        if self.batch_link is not None and self.batch_link.is_batch_item(Path(doc.path)):
            target = self.batch_link.neighbour(Path(doc.path), step)
        target = target or neighbour(Path(doc.path), step)
        if target is None:
            self.statusBar().showMessage("No more images in this folder", 3000)
        else:
            self.session.open_path(target)

    def cancel(self) -> None:
        click_stopped = self.selector.cancel()
        if self.session.cancel():
            return
        if click_stopped:
            self.statusBar().showMessage("Click cancelled", 3000)
        else:
            self.statusBar().showMessage("Nothing to cancel", 2000)

    # -- drag and drop ---------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # -- view ------------------------------------------------------------------------------
    def check_action(self, table: dict, value) -> None:
        """Tick the toolbar action whose tool/view mode in `table` is `value`."""
        for action_id in (i for i, v in table.items() if v == value):
            self.actions_.action(action_id).setChecked(True)

    def change_opacity(self, delta: float) -> None:
        value = min(max(self.settings.overlay_opacity + delta, 0.0), 1.0)
        self.settings.overlay_opacity = value
        self.canvas.set_overlay_opacity(value)
        self.statusBar().showMessage(f"Overlay opacity {value:.0%}", 2000)

    def choose_matte_color(self) -> None:
        color = QColorDialog.getColor(QColor(self.settings.matte_color), self, "Matte colour")
        if color.isValid():
            self.settings.matte_color = color.name()
            self.canvas.set_matte_color(color)
            self.canvas.set_view_mode(ViewMode.COLOR)

    def focus_model_chooser(self) -> None:
        self.model_chooser.setFocus()
        self.model_chooser.showPopup()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Releasing the peek key anywhere shows the edited view again (press is the action)."""
        if (
            event.type() == QEvent.Type.KeyRelease
            and self.canvas.peek_original()
            and not event.isAutoRepeat()
        ):
            pressed = QKeySequence(event.keyCombination())
            if any(
                pressed.matches(k) == QKeySequence.SequenceMatch.ExactMatch for k in self._peek_keys
            ):
                self.canvas.set_peek_original(False)
        return False

    # -- dialogs (gui/dialogs_flow.DialogFlows) ---------------------------------------------
    def export_dialog(self) -> None:
        self.dialogs.export()

    def export_again(self) -> None:
        self.dialogs.export_again()

    def settings_dialog(self) -> None:
        self.dialogs.settings_dialog()

    def import_model_dialog(self) -> None:
        self.dialogs.import_model()

    def shortcuts_dialog(self) -> None:
        from bgeraser_gui.gui.shortcuts_dialog import ShortcutsDialog

        dialog = ShortcutsDialog(self.actions_, self)
        dialog.finished.connect(lambda _r: self._refresh_peek_keys())
        dialog.open()

    def _refresh_peek_keys(self) -> None:
        self._peek_keys = self.actions_.action("peek_original").shortcuts()
        if self._peek_keys:
            self.canvas.set_peek_key(self._peek_keys[0][0].key())

    def about_dialog(self) -> None:
        from bgeraser_gui.backends.model_choice import specs_in_use
        from bgeraser_gui.gui.about_dialog import AboutDialog

        folder = self.settings.model_folder
        AboutDialog(self, specs_in_use([self.session.model], folder), folder).open()

    def start_background_warm_up(self) -> None:
        QTimer.singleShot(200, self.session.warm_up)

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            from bgeraser_gui.gui.toolbar import apply_icons

            apply_icons(self.actions_)  # light <-> dark: redraw the icons' ink
        super().changeEvent(event)

    def quit_without_exporting(self) -> None:
        self._discard_confirmed = True
        self.close()

    def closeEvent(self, event) -> None:
        unsaved = self.session.unsaved_documents()
        if unsaved and not self._discard_confirmed:
            event.ignore()  # ask without blocking; "Quit without exporting" closes again
            names = [d.path.name if d.path else "untitled" for d in unsaved]
            self.dialogs.ask_discard_and_quit(names, self.quit_without_exporting)
            return
        self.settings.set_window_state(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.session.shutdown()
        if self.batch_link is not None:
            self.batch_link.save_edit()
            self.batch_panel.shutdown()
        QApplication.instance().removeEventFilter(self)
        super().closeEvent(event)
