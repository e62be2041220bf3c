"""SVG icons shipped as package data in ``cnn_studio/resources/icons`` (see resources/README.md).

Found relative to the package, so an editable install, a wheel and a PyInstaller bundle (which
copies ``cnn_studio/resources``) all load the same files.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from PySide6.QtGui import QColor, QIcon

ICON_DIR = Path(__file__).resolve().parent.parent / "resources" / "icons"


def icon_path(name: str) -> Path:
    return ICON_DIR / f"{name}.svg"


@lru_cache(maxsize=None)
def _categories() -> dict:
    try:
        return json.loads((ICON_DIR / "categories.json").read_text())
    except (OSError, ValueError):
        return {"colours": {}, "files": {}}


@lru_cache(maxsize=None)
def layer_icon(type_id: str) -> QIcon:
    path = icon_path(type_id)
    if not path.exists():
        return QIcon()
    return QIcon(str(path))


@lru_cache(maxsize=None)
def category_icon(category: str) -> QIcon:
    name = _categories()["files"].get(category)
    return QIcon(str(ICON_DIR / name)) if name else QIcon()


def category_colour(category: str) -> QColor:
    return QColor(_categories()["colours"].get(category, "#64748b"))


@lru_cache(maxsize=None)
def app_icon() -> QIcon:
    return QIcon(str(icon_path("cnn-studio")))
