"""Where CNN Studio keeps its per-user files. Standard library only, so every layer (the GUI's
start-up path included) can use it without importing torch."""
from __future__ import annotations

import os
import sys
from pathlib import Path

APP_DIR_NAME = "cnn-studio"


def studio_home() -> Path:
    """The user data folder: ``$CNN_STUDIO_HOME`` when set, else the platform's user data dir.

    Linux and other Unix: ``$XDG_DATA_HOME/cnn-studio`` (default ``~/.local/share/cnn-studio``);
    Windows: ``%APPDATA%/cnn-studio``; macOS: ``~/Library/Application Support/cnn-studio``.
    The folder is not created here. Runs, caches, recovery files, logs and (with the variable
    set) the app's settings all live below it, so tests and portable installs point it elsewhere.
    """
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


def subdir(name: str, create: bool = True) -> Path:
    path = studio_home() / name
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path
