"""Whether a view can be seen, and telling it when it can be seen again.

Qt 6 does not hide the docks of a tab group whose tab is not current: it moves them outside the
window and they stay ``isVisible()``. Views that skip work while nobody can see them (live curves,
per-epoch confusion matrices, live feature maps) ask :func:`on_screen` instead, keep the newest data,
and draw it from ``on_dock_shown()``, which :func:`watch_dock` calls when their tab comes forward.
"""
from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QDockWidget, QScrollArea, QWidget


def on_screen(widget: QWidget) -> bool:
    """True when some part of ``widget`` can be seen (shown, and not in a hidden dock tab)."""
    return widget.isVisible() and not widget.visibleRegion().isEmpty()


def _view_of(widget: QWidget | None) -> QWidget | None:
    if isinstance(widget, QScrollArea):
        return widget.widget()
    return widget


def watch_dock(dock: QDockWidget) -> None:
    """Call ``on_dock_shown()`` / ``on_dock_hidden()`` of the dock's view (inside a scroll area or
    not), where it has them, each time the dock becomes visible or hidden, once Qt has laid it out."""

    def changed(visible: bool) -> None:
        view = _view_of(dock.widget())
        hook = getattr(view, "on_dock_shown" if visible else "on_dock_hidden", None) if view is not None else None
        if hook is not None:
            QTimer.singleShot(0, view, hook)  # dropped by Qt if the view is gone by then

    dock.visibilityChanged.connect(changed)
