"""Application resources (icons, Linux desktop integration), shipped as `bgeraser_gui.resources`.

This is the one place that knows where resource files live. Everything is located through
`importlib.resources` relative to this package, never relative to the working directory, so the
same calls work from a source checkout, an installed wheel and a PyInstaller bundle.
Qt-free: `bgeraser_gui.gui.icons` turns these paths into QIcons.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

APP_ID = "io.github.bgeraser"
"""Reverse-DNS application id used by the AppStream metadata."""

APP_ICON_SIZES: tuple[int, ...] = (16, 24, 32, 48, 64, 128, 256, 512)
"""Square PNG sizes rendered from the app icon SVG by packaging/make_icons.py."""

ICON_NAMES: tuple[str, ...] = (
    # brush tools and the select-object tool
    "select-object",
    "keep",
    "remove",
    "refine",
    # canvas view modes
    "view-overlay",
    "view-checker",
    "view-colour",
    "view-mask",
    "view-original",
    # actions
    "open",
    "export",
    "undo",
    "redo",
    "segment",
    "refine-run",
    "zoom-fit",
    "zoom-in",
    "zoom-out",
)
"""Every toolbar/tool icon the app declares; each is `icons/tools/<name>.svg`."""

INK_COLOUR = "#1f2937"
"""The neutral stroke colour in the tool SVGs; the GUI may swap it for the palette's text colour."""


def resource_path(name: str) -> Path:
    """Absolute path of a resource file, `name` relative to this package ("linux/x.desktop").

    Raises FileNotFoundError naming the resource when it is missing (a broken install/bundle).
    """
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError(f"resource names are relative to the resources package: {name!r}")
    path = Path(str(files(__name__).joinpath(*relative.parts)))
    if not path.exists():
        raise FileNotFoundError(f"bgeraser resource {name!r} is missing (looked at {path})")
    return path


def icon_path(name: str) -> Path:
    """SVG file of a declared tool icon, e.g. `icon_path("keep")`."""
    if name not in ICON_NAMES:
        raise KeyError(f"unknown icon {name!r}; declared icons: {', '.join(ICON_NAMES)}")
    return resource_path(f"icons/tools/{name}.svg")


def app_icon_svg() -> Path:
    """The application icon's SVG source."""
    return resource_path("icons/app/bgeraser.svg")


def app_icon_png(size: int) -> Path:
    """The application icon rendered at `size` x `size` pixels (one of APP_ICON_SIZES)."""
    if size not in APP_ICON_SIZES:
        raise KeyError(f"no {size}px app icon; sizes: {APP_ICON_SIZES}")
    return resource_path(f"icons/app/png/bgeraser-{size}.png")


def app_icon_ico() -> Path:
    """Multi-size Windows icon."""
    return resource_path("icons/app/bgeraser.ico")


def app_icon_icns() -> Path:
    """macOS icon family."""
    return resource_path("icons/app/bgeraser.icns")


def desktop_file() -> Path:
    """The freedesktop.org launcher entry for Linux."""
    return resource_path("linux/bgeraser.desktop")


def metainfo_file() -> Path:
    """The AppStream metadata for Linux software centres."""
    return resource_path(f"linux/{APP_ID}.metainfo.xml")
