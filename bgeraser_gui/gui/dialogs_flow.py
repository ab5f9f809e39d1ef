"""The editor's dialog flows: export (and repeat), settings, model import, quit with unsaved edits.

`DialogFlows` gets what it works on explicitly (the parent widget, settings, session, error
reporter, status panel, model chooser); it never reaches into the main window, which owns one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox, QWidget

from bgeraser_gui import APP_NAME
from bgeraser_gui.gui.errors import ErrorReporter
from bgeraser_gui.gui.model_chooser import ModelChooser
from bgeraser_gui.gui.session import EditorSession
from bgeraser_gui.gui.settings import AppSettings, export_options_from_dict
from bgeraser_gui.gui.status import StatusPanel


class DialogFlows(QObject):
    """Runs the editor's dialogs; `show_message(text, ms)` is the status-bar notice."""

    def __init__(
        self,
        parent: QWidget,
        settings: AppSettings,
        session: EditorSession,
        reporter: ErrorReporter,
        status: StatusPanel,
        model_chooser: ModelChooser,
        show_message: Callable[[str, int], None],
    ) -> None:
        super().__init__(parent)
        self.parent_widget = parent
        self.settings = settings
        self.session = session
        self.reporter = reporter
        self.status = status
        self.model_chooser = model_chooser
        self.show_message = show_message
        self.discard_box: QMessageBox | None = None
        self._import_runner = None

    # -- export ----------------------------------------------------------------------------
    def _default_out_dir(self) -> str:
        """The last export folder; never the photo's own folder unless the user picks it."""
        from bgeraser_gui.gui.export_folder import default_export_dir

        last = self.settings.last_export() or {}
        return default_export_dir(last.get("out_dir"))

    def _initial_options(self):
        last = self.settings.last_export()
        for data in (last.get("options") if last else None, self.settings.export_defaults()):
            if data:
                try:
                    return export_options_from_dict(data)
                except (TypeError, ValueError):
                    continue  # settings from an older version: fall back to the defaults
        from bgeraser_gui.core.compose import ExportOptions

        return ExportOptions()

    def export(self) -> None:
        """Ctrl+E: choose the options, then export in the background."""
        doc = self.session.document
        if doc is None or not doc.has_mask:
            self.show_message("Open a photo and run the model before exporting", 4000)
            return
        from bgeraser_gui.gui.export_dialog import ExportDialog

        dialog = ExportDialog(
            self._initial_options(), self._default_out_dir(), doc.path, self.parent_widget
        )
        dialog.setObjectName("exportDialog")

        def done(result: int) -> None:
            options = dialog.result_options()
            if result == QDialog.DialogCode.Accepted and options is not None:
                self.session.export(options, dialog.out_dir())

        dialog.finished.connect(done)
        dialog.open()

    def export_again(self) -> None:
        """Ctrl+Shift+E: repeat the last export's options and folder (or ask the first time)."""
        last = self.settings.last_export()
        if not last or not Path(last.get("out_dir", "")).is_dir():
            self.export()
            return
        try:
            options = export_options_from_dict(last.get("options", {}))
        except (TypeError, ValueError) as exc:
            self.reporter.report("The last export settings cannot be reused", str(exc))
            self.export()
            return
        self.session.export(options, last["out_dir"])

    # -- settings --------------------------------------------------------------------------
    def settings_dialog(self) -> None:
        from bgeraser_gui.gui.appearance import apply_appearance
        from bgeraser_gui.gui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self.parent_widget)

        def done(result: int) -> None:
            if result != QDialog.DialogCode.Accepted:
                return
            old_device = self.settings.device
            dialog.apply()  # a new model folder reaches the pipelines through the settings
            if self.settings.device != old_device:
                self.session.inference.forget_backends()
            self.model_chooser.reload(self.settings.default_model, self.settings.model_folder)
            self.session.set_model(self.settings.default_model, rerun=False)
            apply_appearance(self.parent_widget, self.settings)

        dialog.finished.connect(done)
        dialog.open()

    # -- model import ----------------------------------------------------------------------
    def import_model(self) -> None:
        """Copy a user's .onnx into the model cache (in a worker) and switch to it."""
        path, _ = QFileDialog.getOpenFileName(
            self.parent_widget, "Import model file", str(Path.home()), "ONNX models (*.onnx)"
        )
        if path:
            self.import_model_file(Path(path))

    def import_model_file(self, path: Path) -> None:
        from bgeraser_gui.services.worker import JobRunner

        runner = self._import_runner
        if runner is None:
            runner = self._import_runner = JobRunner(self, "import model")
            runner.progress.connect(lambda _id, f, m: self.status.set_progress(f, m))
            runner.finished.connect(lambda _id, name: self._imported(name))
            runner.failed.connect(
                lambda _id, exc: self.reporter.report("Cannot import the model", exc)
            )
            runner.busyChanged.connect(lambda busy: busy or self.status.finish_progress())

        folder = self.settings.model_folder

        def job(progress, cancel) -> str:
            from bgeraser_gui.backends.model_cache import import_model
            from bgeraser_gui.backends.model_choice import installed_spec

            installed = import_model(path, progress=progress, cancel=cancel, folder=folder)
            spec = installed_spec(installed, folder)
            return spec.name if spec is not None else str(installed)

        runner.submit(job)

    def _imported(self, name: str) -> None:
        self.model_chooser.reload(name, self.settings.model_folder)
        self.session.set_model(name)
        self.show_message(f"Imported model {name}", 5000)

    # -- quit ------------------------------------------------------------------------------
    def ask_discard_and_quit(self, names: list[str], discard: Callable[[], None]) -> None:
        """Non-modal "Quit without exporting?"; the destructive answer calls `discard()`."""
        box = QMessageBox(
            QMessageBox.Icon.Question,
            APP_NAME,
            "Quit without exporting?",
            parent=self.parent_widget,
        )
        box.setObjectName("discardEditsBox")
        box.setInformativeText(
            "These photos have touch-ups that were not exported: " + ", ".join(names)
        )
        quit_button = box.addButton(
            "Quit without exporting", QMessageBox.ButtonRole.DestructiveRole
        )
        export_button = box.addButton("Export…", QMessageBox.ButtonRole.AcceptRole)
        export_button.setToolTip("Export the current photo, then quit again")
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.buttonClicked.connect(lambda button: button is quit_button and discard())
        box.buttonClicked.connect(lambda button: button is export_button and self.export())
        box.show()
        self.discard_box = box
