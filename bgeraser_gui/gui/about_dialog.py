"""Help > About: the version (from the package metadata) and the licences of the models in use.

    AboutDialog(parent, model_specs).exec()

`model_specs` are `bgeraser_gui.backends.registry.ModelSpec`s (name, licence, commercial_use,
urls; optional title, licence_note, homepage). The dialog only reads them: it never imports torch
or loads a model, so opening it is instant.
"""

from __future__ import annotations

import html
import platform
import sys
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, metadata
from importlib.metadata import version as dist_version

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from bgeraser_gui import APP_NAME, __version__
from bgeraser_gui.gui.icons import app_icon

DIST_NAME = "bgeraser-gui"
FALLBACK_SUMMARY = "Cut subjects out of photos locally and perfect the cutout by hand."


class AboutDialog(QDialog):
    """Application name, version, licence, component versions and the models' licences."""

    def __init__(
        self, parent: QWidget | None, model_specs: Iterable[object], model_folder: str = ""
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"About {APP_NAME}")
        self.setObjectName("aboutDialog")
        self.model_specs = list(model_specs)
        self.model_folder = model_folder  # the settings' choice; "" = the default folder

        icon_label = QLabel()
        icon_label.setPixmap(app_icon().pixmap(96, 96))
        icon_label.setAlignment(Qt.AlignmentFlag.AlignTop)

        self.title_label = QLabel(
            f"<h2 style='margin:0'>{html.escape(APP_NAME)} {html.escape(__version__)}</h2>"
            f"<p>{html.escape(app_summary())}</p>"
            f"<p>Application licence: {html.escape(app_licence())}</p>"
        )
        self.title_label.setWordWrap(True)
        self.title_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.models_label = QLabel(models_html(self.model_specs))
        self.models_label.setObjectName("aboutModels")
        self.models_label.setWordWrap(True)
        self.models_label.setOpenExternalLinks(True)
        self.models_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)

        details = details_text(model_folder)
        self.details_label = QLabel(html.escape(details).replace("\n", "<br>"))
        self.details_label.setObjectName("aboutDetails")
        self.details_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        header = QHBoxLayout()
        header.addWidget(icon_label)
        header.addWidget(self.title_label, 1)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        copy_button = QPushButton("Copy details")
        copy_button.setToolTip("Copy the versions and models, for a bug report")
        copy_button.clicked.connect(self.copy_details)
        buttons.addButton(copy_button, QDialogButtonBox.ButtonRole.ActionRole)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.models_label)
        layout.addWidget(self.details_label)
        layout.addWidget(buttons)
        self.setMinimumWidth(620)

    def copy_details(self) -> None:
        """Put the plain-text version and model summary on the clipboard."""
        QGuiApplication.clipboard().setText(self.plain_text())

    def plain_text(self) -> str:
        lines = [f"{APP_NAME} {__version__}", details_text(self.model_folder), "Models:"]
        lines += [f"  {line}" for line in model_lines(self.model_specs)] or ["  none"]
        return "\n".join(lines)


def app_summary() -> str:
    try:
        return metadata(DIST_NAME)["Summary"] or FALLBACK_SUMMARY
    except (PackageNotFoundError, KeyError):
        return FALLBACK_SUMMARY


def app_licence() -> str:
    try:
        meta = metadata(DIST_NAME)
    except PackageNotFoundError:
        return "unknown (package metadata missing)"
    return meta.get("License-Expression") or meta.get("License") or "unknown"


def details_text(model_folder: str = "") -> str:
    """Versions of what the app runs on, without importing anything heavy."""
    return "\n".join(
        [
            f"Python {platform.python_version()} on {platform.system()} {platform.machine()}",
            f"Qt {qVersion()}, PySide6 {pyside_version}",
            f"PyTorch {_torch_version()}",
            f"Model folder: {_model_folder(model_folder)}",
        ]
    )


def commercial_use_text(spec: object) -> str:
    return "allowed" if getattr(spec, "commercial_use", False) else "not allowed"


def model_lines(specs: Iterable[object]) -> list[str]:
    return [
        f"{_display_name(s)}: {getattr(s, 'licence', '?')}, commercial use {commercial_use_text(s)}"
        for s in specs
    ]


def models_html(specs: Iterable[object]) -> str:
    """Rich-text table: model, licence (with note), commercial use, source link."""
    specs = list(specs)
    if not specs:
        return "<p><b>Models in use</b>: none loaded yet.</p>"
    rows = []
    for spec in specs:
        note = getattr(spec, "licence_note", "")
        licence = html.escape(str(getattr(spec, "licence", "?")))
        if note:
            licence += f"<br><small>{html.escape(note)}</small>"
        link = _source_url(spec)
        source = f"<a href='{html.escape(link, quote=True)}'>source</a>" if link else ""
        rows.append(
            "<tr>"
            f"<td>{html.escape(_display_name(spec))}</td>"
            f"<td>{licence}</td>"
            f"<td>{commercial_use_text(spec)}</td>"
            f"<td>{source}</td>"
            "</tr>"
        )
    return (
        "<p><b>Models in use</b> (each model has its own licence)</p>"
        "<table cellspacing='0' cellpadding='4'>"
        "<tr><th align='left'>Model</th><th align='left'>Licence</th>"
        "<th align='left'>Commercial use</th><th></th></tr>" + "".join(rows) + "</table>"
    )


def _display_name(spec: object) -> str:
    return str(getattr(spec, "title", "") or getattr(spec, "name", "?"))


def _source_url(spec: object) -> str:
    homepage = getattr(spec, "homepage", "")
    if homepage:
        return str(homepage)
    urls = getattr(spec, "urls", ())
    return str(urls[0]) if urls else ""


def _torch_version() -> str:
    torch = sys.modules.get("torch")
    if torch is not None:
        return str(torch.__version__)
    try:
        return dist_version("torch")
    except PackageNotFoundError:
        return "not loaded yet"


def _model_folder(chosen: str) -> str:
    try:
        from bgeraser_gui.backends.model_cache import model_dir
    except ImportError:  # the backends are optional for this dialog
        return "unknown"
    return str(model_dir(chosen))
