"""`bgeraser [FILES or FOLDERS...]`: start the editor window.

Start-up stays light: torch and the model are imported by a worker after the window is shown
(`MainWindow.start_background_warm_up`), so the window appears at once.
"""

from __future__ import annotations

import argparse
import sys

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from bgeraser_gui import APP_NAME, __version__


def dark_palette() -> QPalette:
    p = QPalette()
    base, window, text = QColor(30, 31, 34), QColor(43, 45, 48), QColor(223, 225, 229)
    accent = QColor(74, 144, 226)
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: window,
        QPalette.ColorRole.ToolTipBase: window,
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: QColor(140, 143, 150),
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: window,
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.BrightText: QColor(255, 90, 90),
        QPalette.ColorRole.Highlight: accent,
        QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
        QPalette.ColorRole.Link: accent,
    }
    for role, color in roles.items():
        p.setColor(role, color)
    disabled = QColor(120, 122, 128)
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


def apply_system_palette(app: QApplication) -> None:
    """Light or dark, whichever the system uses (re-applied when the system switches)."""
    scheme = QGuiApplication.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        app.setPalette(dark_palette())
    else:
        app.setPalette(app.style().standardPalette())


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=APP_NAME, description="Photo cutout editor")
    parser.add_argument("paths", nargs="*", help="photos or folders to open")
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    parser.add_argument("--settings", help="use this INI file for settings (portable mode)")
    parser.add_argument("--no-warm-up", action="store_true", help="load the model on first use")
    # Qt's own options (-platform, -style, ...) are passed through to QApplication
    args, _qt_args = parser.parse_known_args(argv)
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    args = parse_args(argv[1:])
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName("bgeraser")
    app.setApplicationVersion(__version__)
    app.setStyle("Fusion")
    apply_system_palette(app)
    QGuiApplication.styleHints().colorSchemeChanged.connect(lambda _s: apply_system_palette(app))

    from bgeraser_gui.gui.main_window import MainWindow
    from bgeraser_gui.gui.settings import AppSettings

    try:
        from bgeraser_gui.gui.icons import app_icon

        app.setWindowIcon(app_icon())
    except (ImportError, OSError, ValueError):
        pass  # running without the resources: Qt's default icon

    settings = AppSettings(args.settings)
    window = MainWindow(settings)
    window.show()
    if args.paths:
        window.open_paths(args.paths)
    elif not args.no_warm_up:
        window.start_background_warm_up()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
