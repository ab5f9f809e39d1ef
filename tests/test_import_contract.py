"""core/ and backends/ must stay Qt-free: importing them must not pull in PySide6."""

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "bgeraser_gui"
QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "qtpy", "superqt")


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_qt_import_statement_in_core_or_backends():
    offenders = [
        str(path.relative_to(PKG))
        for sub in ("core", "backends")
        for path in (PKG / sub).rglob("*.py")
        if _imported_roots(path) & set(QT_MODULES)
    ]
    assert offenders == []


def test_importing_core_and_backends_loads_no_qt():
    modules = sorted(
        "bgeraser_gui." + ".".join(p.relative_to(PKG).with_suffix("").parts)
        for sub in ("core", "backends")
        for p in (PKG / sub).rglob("*.py")
        if p.name != "__init__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
