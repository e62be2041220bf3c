"""``wait_cursor()``: the wait cursor over the whole app while the GUI thread does a slow, blocking
step (torch's first import, reading a weights file), restored however the step ends."""
from __future__ import annotations

import contextlib

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication


@contextlib.contextmanager
def wait_cursor():
    QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        yield
    finally:
        QGuiApplication.restoreOverrideCursor()
