"""Per-user folders and settings of the app.

Everything lands under :func:`studio_home` (``$CNN_STUDIO_HOME`` when set, else the platform's user
data folder), so tests that point ``CNN_STUDIO_HOME`` at a temporary folder never touch the user's
files or settings. The same rule as ``cnn_studio.data.paths`` (kept separate so the GUI start-up path
never imports the data package, which pulls in torch).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

APP_DIR_NAME = "cnn-studio"


def studio_home() -> Path:
    env = os.environ.get("CNN_STUDIO_HOME", "").strip()
    if env:
        return Path(env).expanduser()
    if sys.platform.startswith("win"):
        base = os.environ.get("APPDATA", "").strip()
        root = Path(base) if base else Path.home() / "AppData" / "Roaming"
    elif sys.platform == "darwin":
        root = Path.home() / "Library" / "Application Support"
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "").strip()
        root = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return root / APP_DIR_NAME


def _sub(name: str, create: bool) -> Path:
    path = studio_home() / name
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def recovery_dir(create: bool = True) -> Path:
    return _sub("recovery", create)


def log_dir(create: bool = True) -> Path:
    return _sub("logs", create)


def app_settings():
    """The app's QSettings: an INI file in ``$CNN_STUDIO_HOME`` when that is set, else Qt's usual
    per-user location for organisation "CNN Studio", application "cnn-studio"."""
    from PySide6.QtCore import QSettings

    if os.environ.get("CNN_STUDIO_HOME", "").strip():
        home = studio_home()
        home.mkdir(parents=True, exist_ok=True)
        return QSettings(str(home / "settings.ini"), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "CNN Studio", "cnn-studio")
