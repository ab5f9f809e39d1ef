"""`bgeraser [FILES or FOLDERS...]`: start the editor window.

Start-up stays light: torch and the model are imported by a worker after the window is shown
(`MainWindow.start_background_warm_up`), so the window appears at once.
"""

from __future__ import annotations

import argparse
import sys

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from bgeraser_gui import APP_NAME, __version__
from bgeraser_gui.gui.appearance import apply_theme, dark_palette

__all__ = ["dark_palette", "main"]


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

    from bgeraser_gui.gui.main_window import MainWindow
    from bgeraser_gui.gui.settings import AppSettings

    settings = AppSettings(args.settings)
    apply_theme(app, settings.theme)  # Settings: light, dark or the system's
    QGuiApplication.styleHints().colorSchemeChanged.connect(
        lambda _s: apply_theme(app, settings.theme)
    )

    try:
        from bgeraser_gui.gui.icons import app_icon

        app.setWindowIcon(app_icon())
    except (ImportError, OSError, ValueError):
        pass  # running without the resources: Qt's default icon

    window = MainWindow(settings)
    window.show()
    if args.paths:
        window.open_paths(args.paths)
    if not args.no_warm_up:  # also with photos: the edge solver compiles while the model runs
        window.start_background_warm_up()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
