"""SVG icons shipped as package data in ``cnn_studio/resources/icons`` (see resources/README.md).

Found relative to the package, so an editable install, a wheel and a PyInstaller bundle (which
copies ``cnn_studio/resources``) all load the same files.
"""
from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path

from PySide6.QtGui import QColor, QIcon

from ..core.layers import get_spec, has_spec

log = logging.getLogger(__name__)

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
    """The palette icon of a layer type. Every registered type ships one (resources/make_icons.py
    writes them; tests/compiler/test_registry.py fails when one is missing); should a file be
    missing anyway, the type's category icon stands in, with a warning in the log, rather than
    an empty space. Unknown type ids get no icon."""
    path = icon_path(type_id)
    if path.exists():
        return QIcon(str(path))
    if has_spec(type_id):
        category = get_spec(type_id).category
        log.warning("no icon file %s for layer type '%s'; showing the '%s' category icon (run resources/make_icons.py)", path.name, type_id, category)
        return category_icon(category)
    return QIcon()


@lru_cache(maxsize=None)
def category_icon(category: str) -> QIcon:
    name = _categories()["files"].get(category)
    return QIcon(str(ICON_DIR / name)) if name else QIcon()


def category_colour(category: str) -> QColor:
    return QColor(_categories()["colours"].get(category, "#64748b"))


@lru_cache(maxsize=None)
def app_icon() -> QIcon:
    return QIcon(str(icon_path("cnn-studio")))
