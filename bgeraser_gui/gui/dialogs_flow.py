"""The main window's dialog flows: export (and repeat), settings, model import."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

from bgeraser_gui import APP_NAME
from bgeraser_gui.gui.settings import export_options_from_dict

if TYPE_CHECKING:
    from bgeraser_gui.gui.main_window import MainWindow

MODEL_DIR_ENV = "BGERASER_MODEL_DIR"  # read by backends.model_cache
# the folder the user set in the environment before we started: the "default" then
_STARTUP_MODEL_DIR = os.environ.get(MODEL_DIR_ENV, "").strip()


def _default_out_dir(window: MainWindow) -> str:
    last = window.settings.last_export()
    if last and Path(last.get("out_dir", "")).is_dir():
        return last["out_dir"]
    doc = window.session.document
    if doc is not None and doc.path is not None:
        return str(Path(doc.path).parent)
    return str(Path.home())


def _initial_options(window: MainWindow):
    last = window.settings.last_export()
    for data in (last.get("options") if last else None, window.settings.export_defaults()):
        if data:
            try:
                return export_options_from_dict(data)
            except (TypeError, ValueError):
                continue  # settings from an older version: fall back to the defaults
    from bgeraser_gui.core.compose import ExportOptions

    return ExportOptions()


def run_export_dialog(window: MainWindow) -> None:
    """Ctrl+E: choose the options, then export in the background."""
    doc = window.session.document
    if doc is None or not doc.has_mask:
        window.statusBar().showMessage("Open a photo and run the model before exporting", 4000)
        return
    from bgeraser_gui.gui.export_dialog import ExportDialog

    dialog = ExportDialog(_initial_options(window), _default_out_dir(window), doc.path, window)
    dialog.setObjectName("exportDialog")

    def done(result: int) -> None:
        options = dialog.result_options()
        if result == QDialog.DialogCode.Accepted and options is not None:
            window.session.export(options, dialog.out_dir())

    dialog.finished.connect(done)
    dialog.open()


def export_with_last_settings(window: MainWindow) -> None:
    """Ctrl+Shift+E: repeat the last export's options and folder (or ask the first time)."""
    last = window.settings.last_export()
    if not last or not Path(last.get("out_dir", "")).is_dir():
        run_export_dialog(window)
        return
    try:
        options = export_options_from_dict(last.get("options", {}))
    except (TypeError, ValueError) as exc:
        window.reporter.report("The last export settings cannot be reused", str(exc))
        run_export_dialog(window)
        return
    window.session.export(options, last["out_dir"])


def run_settings_dialog(window: MainWindow) -> None:
    from bgeraser_gui.gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(window.settings, window)

    def done(result: int) -> None:
        if result != QDialog.DialogCode.Accepted:
            return
        old_device = window.settings.device
        dialog.apply()
        apply_cache_folder(window.settings.cache_folder)
        if window.settings.device != old_device:
            window.session.inference.forget_backends()
        window.session.set_model(window.settings.default_model, rerun=False)

    dialog.finished.connect(done)
    dialog.open()


def apply_cache_folder(folder: str) -> None:
    """Point the model cache at the user's folder (empty = the BGERASER_MODEL_DIR the app was
    started with, else the platform default)."""
    folder = folder or _STARTUP_MODEL_DIR
    if folder:
        os.environ[MODEL_DIR_ENV] = folder
    else:
        os.environ.pop(MODEL_DIR_ENV, None)


def run_import_model(window: MainWindow) -> None:
    """Copy a user's .onnx into the model cache (in a worker) and switch to it."""
    path, _ = QFileDialog.getOpenFileName(
        window, "Import model file", str(Path.home()), "ONNX models (*.onnx)"
    )
    if path:
        import_model_file(window, Path(path))


def import_model_file(window: MainWindow, path: Path) -> None:
    from bgeraser_gui.services.worker import JobRunner

    runner = getattr(window, "_import_runner", None)
    if runner is None:
        runner = JobRunner(window, "import model")
        runner.progress.connect(lambda _id, f, m: window.status.set_progress(f, m))
        runner.finished.connect(lambda _id, name: _imported(window, name))
        runner.failed.connect(
            lambda _id, exc: window.reporter.report("Cannot import the model", exc)
        )
        runner.busyChanged.connect(lambda busy: busy or window.status.finish_progress())
        window._import_runner = runner

    def job(progress, cancel) -> str:
        from bgeraser_gui.backends.model_cache import import_model, list_models

        installed = import_model(path, progress=progress, cancel=cancel)
        for status in list_models():
            if status.path == installed:
                return status.spec.name
        return str(installed)

    runner.submit(job)


def _imported(window: MainWindow, name: str) -> None:
    window.model_chooser.reload(name)
    window.session.set_model(name)
    window.statusBar().showMessage(f"Imported model {name}", 5000)


def ask_discard_and_quit(window: MainWindow, names: list[str]) -> None:
    """Non-modal "Quit without exporting?"; the destructive answer closes the window."""
    box = QMessageBox(QMessageBox.Icon.Question, APP_NAME, "Quit without exporting?", parent=window)
    box.setObjectName("discardEditsBox")
    box.setInformativeText(
        "These photos have touch-ups that were not exported: " + ", ".join(names)
    )
    discard = box.addButton("Quit without exporting", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setWindowModality(Qt.WindowModality.NonModal)

    def answered(button) -> None:
        if button is discard:
            window._discard_confirmed = True
            window.close()

    box.buttonClicked.connect(answered)
    box.show()
    window.discard_box = box
