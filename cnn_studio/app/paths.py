"""Per-user folders and settings of the app.

Everything lands under :func:`studio_home` (``$CNN_STUDIO_HOME`` when set, else the platform's user
data folder), so tests that point ``CNN_STUDIO_HOME`` at a temporary folder never touch the user's
files or settings. ``studio_home`` itself lives in ``core.paths`` (standard library only).
"""
from __future__ import annotations

import os
from pathlib import Path

from ..core.paths import APP_DIR_NAME, studio_home, subdir  # noqa: F401  (re-exported)


def recovery_dir(create: bool = True) -> Path:
    return subdir("recovery", create)


def log_dir(create: bool = True) -> Path:
    return subdir("logs", create)


def app_settings():
    """The app's QSettings: an INI file in ``$CNN_STUDIO_HOME`` when that is set, else Qt's usual
    per-user location for organisation "CNN Studio", application "cnn-studio"."""
    from PySide6.QtCore import QSettings

    if os.environ.get("CNN_STUDIO_HOME", "").strip():
        home = studio_home()
        home.mkdir(parents=True, exist_ok=True)
        return QSettings(str(home / "settings.ini"), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "CNN Studio", "cnn-studio")
