"""The layers hold: core and backends, and the CLI, engines and server, never import Qt; the
import-linter contracts in pyproject.toml (layers: entry points > GUI and CLI commands >
services, engines, server > assemble > backends > core) are kept."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "bgeraser_gui"
QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "qtpy", "superqt")
QT_FREE = ("core", "backends", "commands", "engines", "server", "assemble.py", "cli.py")


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _sources(part: str) -> list[Path]:
    path = PKG / part
    return [path] if path.suffix == ".py" else sorted(path.rglob("*.py"))


def test_no_qt_import_statement_below_the_gui():
    offenders = [
        str(path.relative_to(PKG))
        for part in QT_FREE
        for path in _sources(part)
        if _imported_roots(path) & set(QT_MODULES)
    ]
    assert offenders == []


def test_import_linter_contracts_are_kept():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    result = subprocess.run([lint], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr


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
