"""Persistent user settings (QSettings): model, device, export defaults, cache, recent files.

Everything the window remembers between sessions goes through `AppSettings`, so tests can
point it at a throw-away INI file and the rest of the GUI never touches QSettings directly.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from bgeraser_gui import APP_NAME

ORGANIZATION = "bgeraser"
MAX_RECENT_FILES = 10
DEVICES = ("auto", "cpu", "cuda", "mps")


def export_options_to_dict(options: Any) -> dict[str, Any]:
    """ExportOptions -> JSON-friendly dict (Paths and tuples become strings and lists)."""
    data = asdict(options)
    data.pop("protected", None)  # the paths one export may not replace: not a setting
    background = data.get("background")
    if isinstance(background, Path):
        data["background"] = {"image": str(background)}
    elif background is not None:
        data["background"] = list(background)
    mark = data.get("watermark")
    if isinstance(mark, dict) and mark.get("image") is not None:
        mark["image"] = str(mark["image"])
    return data


def export_options_from_dict(data: dict[str, Any]) -> Any:
    """Rebuild an ExportOptions, ignoring keys the current version no longer knows."""
    from bgeraser_gui.core.compose import ExportOptions
    from bgeraser_gui.core.watermark import Watermark

    known = {f.name for f in fields(ExportOptions)}
    kwargs = {key: value for key, value in data.items() if key in known}
    background = kwargs.get("background")
    if isinstance(background, dict) and "image" in background:
        kwargs["background"] = Path(background["image"])
    elif isinstance(background, list):
        kwargs["background"] = tuple(int(v) for v in background)
    mark = kwargs.get("watermark")
    if isinstance(mark, dict):
        mark_fields = {f.name for f in fields(Watermark)}
        mark = {k: v for k, v in mark.items() if k in mark_fields}
        if mark.get("image") is not None:
            mark["image"] = Path(mark["image"])
        kwargs["watermark"] = Watermark(**mark)
    return ExportOptions(**kwargs)


class AppSettings:
    """Typed accessors over QSettings. Pass `path` for an isolated INI file (tests)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        if path is None:
            self._qs = QSettings(ORGANIZATION, APP_NAME)
        else:
            self._qs = QSettings(str(path), QSettings.Format.IniFormat)

    def sync(self) -> None:
        self._qs.sync()

    def _str(self, key: str, default: str) -> str:
        value = self._qs.value(key, default)
        return str(value) if value is not None else default

    def _json(self, key: str, default: Any) -> Any:
        raw = self._qs.value(key)
        if not raw:
            return default
        try:
            return json.loads(str(raw))
        except ValueError:
            return default

    def _set_json(self, key: str, value: Any) -> None:
        self._qs.setValue(key, json.dumps(value))

    # -- model and device -------------------------------------------------------------------
    @property
    def default_model(self) -> str:
        """The model the user chose, else the one `bgeraser-cli` would use with these files
        (the default, or its installed variant: backends.model_choice.default_model)."""
        chosen = self._str("model/default", "").strip()
        if chosen:
            return chosen
        from bgeraser_gui.backends.model_choice import default_model

        return default_model(self.model_folder)

    @default_model.setter
    def default_model(self, name: str) -> None:
        self._qs.setValue("model/default", name)

    @property
    def device(self) -> str:
        value = self._str("model/device", "auto")
        return value if value in DEVICES else "auto"

    @device.setter
    def device(self, device: str) -> None:
        if device not in DEVICES:
            raise ValueError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
        self._qs.setValue("model/device", device)

    @property
    def model_folder(self) -> str:
        """Folder for downloaded and imported models; empty means BGERASER_MODEL_DIR, else the
        platform default (backends.model_cache.model_dir)."""
        return self._str("model/cache_folder", "")

    @model_folder.setter
    def model_folder(self, folder: str) -> None:
        self._qs.setValue("model/cache_folder", folder)

    # -- export -----------------------------------------------------------------------------
    def export_defaults(self) -> dict[str, Any]:
        return dict(self._json("export/defaults", {}))

    def set_export_defaults(self, data: dict[str, Any]) -> None:
        self._set_json("export/defaults", data)

    def last_export(self) -> dict[str, Any] | None:
        """The settings and folder of the last export (for Ctrl+Shift+E), or None."""
        data = self._json("export/last", None)
        return data if isinstance(data, dict) else None

    def set_last_export(self, options: dict[str, Any], out_dir: str) -> None:
        self._set_json("export/last", {"options": options, "out_dir": out_dir})

    # -- recent files -----------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        data = self._json("files/recent", [])
        return [str(p) for p in data][:MAX_RECENT_FILES] if isinstance(data, list) else []

    def add_recent_file(self, path: str | Path) -> list[str]:
        text = str(Path(path))
        recent = [p for p in self.recent_files() if p != text]
        recent.insert(0, text)
        recent = recent[:MAX_RECENT_FILES]
        self._set_json("files/recent", recent)
        return recent

    def clear_recent_files(self) -> None:
        self._set_json("files/recent", [])

    @property
    def last_open_dir(self) -> str:
        return self._str("files/last_dir", "")

    @last_open_dir.setter
    def last_open_dir(self, folder: str) -> None:
        self._qs.setValue("files/last_dir", folder)

    # -- shortcuts --------------------------------------------------------------------------
    def shortcut_overrides(self) -> dict[str, str]:
        data = self._json("shortcuts/overrides", {})
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def set_shortcut_overrides(self, overrides: dict[str, str]) -> None:
        self._set_json("shortcuts/overrides", overrides)

    # -- view -------------------------------------------------------------------------------
    @property
    def overlay_opacity(self) -> float:
        try:
            return min(max(float(self._qs.value("view/overlay_opacity", 0.5)), 0.0), 1.0)
        except (TypeError, ValueError):
            return 0.5

    @overlay_opacity.setter
    def overlay_opacity(self, value: float) -> None:
        self._qs.setValue("view/overlay_opacity", float(value))

    @property
    def matte_color(self) -> str:
        return self._str("view/matte_color", "#ffffff")

    @matte_color.setter
    def matte_color(self, color: str) -> None:
        self._qs.setValue("view/matte_color", color)

    @property
    def overlay_colour(self) -> str:
        """core.overlay_colour: "auto" (contrasting with the photo), a name or "#rrggbb"."""
        return self._str("view/overlay_colour", "auto")

    @overlay_colour.setter
    def overlay_colour(self, choice: str) -> None:
        self._qs.setValue("view/overlay_colour", choice)

    @property
    def theme(self) -> str:
        """gui.appearance.THEMES: "system", "light" or "dark"."""
        return self._str("view/theme", "system")

    @theme.setter
    def theme(self, theme: str) -> None:
        self._qs.setValue("view/theme", theme)

    def window_state(self) -> tuple[Any, Any]:
        return self._qs.value("window/geometry"), self._qs.value("window/state")

    def set_window_state(self, geometry: Any, state: Any) -> None:
        self._qs.setValue("window/geometry", geometry)
        self._qs.setValue("window/state", state)
