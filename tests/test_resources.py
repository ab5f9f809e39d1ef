"""Resources ship inside the package and are complete; the version has one source.

Icons: every declared icon exists, parses and renders as a QIcon; no stray SVG is undeclared;
the generated app icon files match their SVG. Linux: the desktop file and AppStream metadata
agree with the entry points, the supported formats and the version. About shows that version.
"""

from __future__ import annotations

import configparser
import importlib.util
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib.metadata import entry_points, version
from pathlib import Path

import pytest
from PIL import Image

import bgeraser_gui
from bgeraser_gui import resources

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
DIST = "bgeraser-gui"

# the MIME type a launcher uses for each file extension the loader accepts
MIME_BY_EXTENSION = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".jpe": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".bmp": "image/bmp",
    ".gif": "image/gif",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".avif": "image/avif",
}
HEIF_MIME = {"image/heic", "image/heif", "image/avif"}


# ---------------------------------------------------------------- resource module


def test_resource_paths_do_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = resources.desktop_file()
    assert path.is_absolute() and path.is_file()
    assert Path(bgeraser_gui.resources.__file__).parent in path.parents


def test_resource_path_rejects_escapes_and_names_missing_files():
    with pytest.raises(ValueError):
        resources.resource_path("../pyproject.toml")
    with pytest.raises(FileNotFoundError, match="no-such-file.svg"):
        resources.resource_path("icons/tools/no-such-file.svg")
    with pytest.raises(KeyError):
        resources.icon_path("no-such-icon")


def test_resources_module_is_qt_free():
    code = (
        "import sys, bgeraser_gui.resources as r; r.icon_path('keep'); r.app_icon_png(16); "
        "sys.exit(1 if any(m.startswith('PySide6') for m in sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# ---------------------------------------------------------------- tool icons


def test_every_tool_svg_is_declared():
    on_disk = {p.stem for p in resources.resource_path("icons/tools").glob("*.svg")}
    assert on_disk == set(resources.ICON_NAMES)


@pytest.mark.parametrize("name", resources.ICON_NAMES)
def test_declared_icon_renders_as_qicon(qapp, name):
    from PySide6.QtGui import QImage

    from bgeraser_gui.gui.icons import icon

    assert resources.icon_path(name).is_file()
    qicon = icon(name)
    assert not qicon.isNull()
    for size in (16, 24, 48):
        image = qicon.pixmap(size, size).toImage().convertToFormat(QImage.Format.Format_ARGB32)
        assert (image.width(), image.height()) == (size, size)
        painted = sum(image.pixelColor(x, y).alpha() > 0 for y in range(size) for x in range(size))
        # an icon is drawn (not blank) and is not a filled square
        assert 0.05 * size * size < painted < size * size, (name, size, painted)


def test_dark_palette_recolours_the_ink_but_not_the_accents(qapp):
    from PySide6.QtGui import QColor

    from bgeraser_gui.gui.icons import icon

    light = icon("undo", ink=resources.INK_COLOUR).pixmap(48, 48).toImage()
    dark = icon("undo", ink=QColor("#f0f0f0")).pixmap(48, 48).toImage()
    assert light != dark
    keep_light = icon("keep", ink=resources.INK_COLOUR).pixmap(48, 48).toImage()
    keep_dark = icon("keep", ink=QColor("#f0f0f0")).pixmap(48, 48).toImage()
    assert keep_light == keep_dark  # keep is drawn in its accent colour only


# ---------------------------------------------------------------- app icon


def test_app_icon_pngs_have_their_sizes_and_transparent_corners():
    for size in resources.APP_ICON_SIZES:
        with Image.open(resources.app_icon_png(size)) as image:
            assert image.size == (size, size)
            assert image.mode == "RGBA"
            assert image.getpixel((0, 0))[3] == 0  # rounded corner
            assert image.getpixel((size // 2, size // 2))[3] == 255


def test_windows_and_macos_icons_hold_every_size():
    with Image.open(resources.app_icon_ico()) as ico:
        assert {(s, s) for s in (16, 24, 32, 48, 256)} <= set(ico.info["sizes"])
    with Image.open(resources.app_icon_icns()) as icns:
        sizes = {(w, scale) for w, _, scale in icns.info["sizes"]}
        assert {(16, 2), (32, 2), (128, 1), (256, 1), (512, 1), (512, 2)} <= sizes


def test_generated_app_icons_match_the_svg(qapp):
    spec = importlib.util.spec_from_file_location("make_icons", REPO / "packaging/make_icons.py")
    make_icons = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_icons)
    for size in (16, 48, 256):
        fresh = make_icons.render_svg(make_icons.SVG, size)
        with Image.open(resources.app_icon_png(size)) as committed:
            diff = [abs(a - b) for a, b in zip(fresh.tobytes(), committed.tobytes(), strict=True)]
        assert max(diff) <= 8, f"{size}px icon is stale: run python packaging/make_icons.py"


def test_app_icon_loads_every_size(qapp):
    from bgeraser_gui.gui.icons import app_icon

    sizes = {s.width() for s in app_icon().availableSizes()}
    assert sizes == set(resources.APP_ICON_SIZES)


# ---------------------------------------------------------------- Linux desktop integration


def _desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive
    parser.read(resources.desktop_file(), encoding="utf-8")
    return parser["Desktop Entry"]


def _script_names(group: str) -> set[str]:
    return {ep.name for ep in entry_points(group=group) if ep.dist and ep.dist.name == DIST}


def test_desktop_file_keys():
    entry = _desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] == bgeraser_gui.APP_NAME
    assert entry["Terminal"] == "false"
    assert entry["Version"] in {"1.0", "1.1", "1.2", "1.3", "1.4"}
    command, *args = entry["Exec"].split()
    assert command in _script_names("gui_scripts")
    assert args == ["%F"]  # opens any number of local files
    assert entry["TryExec"] == command
    assert entry["Icon"] == resources.app_icon_svg().stem
    for key in ("Categories", "Keywords", "MimeType"):
        assert entry[key].endswith(";"), key
    categories = entry["Categories"].split(";")[:-1]
    assert "Graphics" in categories  # a registered main category


def test_desktop_mime_types_match_the_loader():
    from bgeraser_gui.core.image_io import HEIF_AVAILABLE, SUPPORTED_EXTENSIONS

    advertised = set(_desktop_entry()["MimeType"].split(";")[:-1])
    supported = {MIME_BY_EXTENSION[ext] for ext in SUPPORTED_EXTENSIONS}
    assert supported <= advertised  # every format we read is offered to the file manager
    expected_extra = set() if HEIF_AVAILABLE else HEIF_MIME
    assert advertised - supported == expected_extra


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils")
def test_desktop_file_validates():
    result = subprocess.run(
        ["desktop-file-validate", str(resources.desktop_file())], capture_output=True, text=True
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout


def test_metainfo_agrees_with_package():
    root = ET.parse(resources.metainfo_file()).getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == resources.APP_ID
    assert root.findtext("launchable") == resources.desktop_file().name
    assert root.findtext("project_license") == "MIT"
    binaries = {b.text for b in root.iter("binary")}
    assert binaries == _script_names("gui_scripts") | _script_names("console_scripts")
    newest = root.find("releases/release")
    assert newest is not None and newest.get("version") == bgeraser_gui.__version__, (
        "add a <release> for the new version to the metainfo"
    )


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstream not installed")
def test_metainfo_validates():
    result = subprocess.run(
        ["appstreamcli", "validate", "--no-net", str(resources.metainfo_file())],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- one version


def test_version_comes_from_the_package_metadata():
    assert bgeraser_gui.__version__ == version(DIST)
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in pyproject["project"].get("dynamic", [])
    assert pyproject["project"]["version"] == bgeraser_gui.__version__


def test_no_other_module_hard_codes_the_version():
    literal = f'"{bgeraser_gui.__version__}"'
    offenders = [
        str(path.relative_to(REPO))
        for path in (REPO / "bgeraser_gui").rglob("*.py")
        if literal in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_cli_prints_the_version():
    result = subprocess.run(
        [sys.executable, "-m", "bgeraser_gui.cli", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert result.stdout.split() == ["bgeraser", bgeraser_gui.__version__]


def test_editor_prints_the_version_without_starting_qt():
    code = (
        "import sys\n"
        "from bgeraser_gui.app import main\n"
        "try:\n"
        "    main(['bgeraser', '--version'])\n"
        "except SystemExit as done:\n"
        "    from PySide6.QtCore import QCoreApplication\n"
        "    assert QCoreApplication.instance() is None, 'a Qt application was created'\n"
        "    sys.exit(done.code)\n"
        "sys.exit(3)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DISPLAY", "QT_QPA_PLATFORM"}}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["bgeraser", bgeraser_gui.__version__]


# ---------------------------------------------------------------- Help > About


def test_about_dialog_shows_version_and_model_licences(qtbot):
    from bgeraser_gui.backends.registry import DEFAULT_MODEL, load_registry
    from bgeraser_gui.gui.about_dialog import AboutDialog

    registry = load_registry()
    specs = [registry[DEFAULT_MODEL], *(s for s in registry.values() if not s.commercial_use)][:2]
    dialog = AboutDialog(None, specs)
    qtbot.addWidget(dialog)
    assert bgeraser_gui.__version__ in dialog.title_label.text()
    models = dialog.models_label.text()
    for spec in specs:
        assert spec.licence in models
        assert (spec.title or spec.name) in models
    assert "allowed" in models
    if any(not s.commercial_use for s in specs):
        assert "not allowed" in models
    text = dialog.plain_text()
    assert text.startswith(f"{bgeraser_gui.APP_NAME} {bgeraser_gui.__version__}")
    assert "Model folder:" in text


def test_about_dialog_without_models_says_so(qtbot):
    from bgeraser_gui.gui.about_dialog import AboutDialog

    dialog = AboutDialog(None, [])
    qtbot.addWidget(dialog)
    assert "none loaded yet" in dialog.models_label.text()
    dialog.copy_details()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == dialog.plain_text()
