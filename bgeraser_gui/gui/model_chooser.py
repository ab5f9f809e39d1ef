"""Toolbar model chooser: registry and imported models, plus "Import model file…"."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QWidget

IMPORT_ITEM = "__import__"
IMPORT_TEXT = "Import model file…"


def available_models() -> list[tuple[str, str, str]]:
    """(name, label, tooltip) of every registry and imported model; labels say what is missing."""
    try:
        from bgeraser_gui.backends.model_cache import list_models
    except ImportError:
        from bgeraser_gui.backends.registry import load_registry

        return [(n, s.display_name, s.description) for n, s in load_registry().items()]
    rows = []
    for status in list_models():
        spec = status.spec
        label = spec.display_name
        if not spec.runnable:
            label += " (not supported yet)"
        elif not status.installed:
            label += " (downloads on first use)" if spec.downloadable else " (import the file)"
        tip = f"{spec.description}\nLicence: {spec.licence}"
        rows.append((spec.name, label, tip))
    return rows


def model_display_name(model: str) -> str:
    """A registry model's title, or the file name of a model given as a path."""
    if "/" in model or "\\" in model or model.endswith(".onnx"):
        return Path(model).name
    try:
        from bgeraser_gui.backends.model_cache import resolve_spec

        return resolve_spec(model).display_name
    except Exception:  # unknown name: show it as typed
        return model


def model_short_name(model: str) -> str:
    """The display name without its details: "ISNet general-use, fp16 (…)" -> "ISNet general-use"."""
    name = model_display_name(model)
    if name.endswith(".onnx"):
        return name
    for separator in (", ", " ("):
        name = name.split(separator)[0]
    return name or model


def model_installed(model: str) -> bool:
    """True when `model` (a registry/imported name or an .onnx path) is on disk already."""
    if model_display_name(model) == Path(model).name and Path(model).suffix == ".onnx":
        return Path(model).is_file()
    try:
        from bgeraser_gui.backends.model_cache import list_models, normalise_name
    except ImportError:
        return False
    wanted = normalise_name(model)
    return any(s.installed for s in list_models() if s.spec.name == wanted)


def specs_in_use(names: list[str]) -> list[object]:
    """Spec-like records (for Help > About) of the models in use. A model opened from a file
    that is not in the registry is listed by file name with its licence marked unknown."""
    specs = []
    for name in names:
        try:
            from bgeraser_gui.backends.model_cache import resolve_spec

            specs.append(resolve_spec(name))
        except Exception:  # a path to an .onnx file, or a name the registry no longer has
            specs.append(
                SimpleNamespace(
                    name=Path(name).name,
                    title=f"{Path(name).name} (model file)",
                    licence="unknown: see where the file came from",
                    licence_note="",
                    commercial_use=False,
                    homepage="",
                    urls=(),
                )
            )
    return specs


class ModelChooser(QComboBox):
    modelChosen = Signal(str)
    importRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelChooser")
        self.setToolTip("Segmentation model (Ctrl+Shift+M)")
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self._current = ""
        self.activated.connect(self._on_activated)

    def reload(self, current: str) -> None:
        """Re-read the model list (after an import) and select `current`."""
        self.blockSignals(True)
        self.clear()
        try:
            rows = available_models()
        except Exception as exc:  # a broken manifest must not take the window down
            rows = []
            self.setToolTip(f"Model list unavailable: {exc}")
        for name, label, tip in rows:
            self.addItem(label, name)
            self.setItemData(self.count() - 1, tip, role=3)  # Qt.ToolTipRole
        if current and self.findData(current) < 0:
            self.addItem(Path(current).name, current)
        self.insertSeparator(self.count())
        self.addItem(IMPORT_TEXT, IMPORT_ITEM)
        self.blockSignals(False)
        self.select(current)

    def select(self, name: str) -> None:
        self._current = name
        index = self.findData(name)
        if index >= 0:
            self.setCurrentIndex(index)

    def _on_activated(self, index: int) -> None:
        name = self.itemData(index)
        if name == IMPORT_ITEM:
            self.select(self._current)
            self.importRequested.emit()
        elif name and name != self._current:
            self._current = name
            self.modelChosen.emit(name)
