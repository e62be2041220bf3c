"""Light and dark themes. The default follows the system colour scheme (Qt 6.5+
``styleHints().colorScheme()``); the View menu overrides it with Light or Dark.

Widgets use the Fusion style with a palette set here, so the look is the same on every platform and
under the offscreen platform used by the tests. Canvas colours live in :class:`CanvasColours`.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette

MODES = ("system", "light", "dark")


@dataclass(frozen=True)
class CanvasColours:
    dark: bool
    background: QColor
    grid: QColor
    node_fill: QColor
    node_border: QColor
    node_selected: QColor
    text: QColor
    muted: QColor
    shape_text: QColor
    edge: QColor
    edge_selected: QColor
    edge_label_bg: QColor
    port: QColor
    port_hover: QColor
    error: QColor
    error_fill: QColor
    warning: QColor
    warning_fill: QColor
    drop_target: QColor


LIGHT = CanvasColours(
    dark=False,
    background=QColor("#f6f7f9"),
    grid=QColor("#d5d9e0"),
    node_fill=QColor("#ffffff"),
    node_border=QColor("#c3c9d3"),
    node_selected=QColor("#2563eb"),
    text=QColor("#111827"),
    muted=QColor("#5b6472"),
    shape_text=QColor("#0f766e"),
    edge=QColor("#7b8494"),
    edge_selected=QColor("#2563eb"),
    edge_label_bg=QColor("#f6f7f9"),
    port=QColor("#7b8494"),
    port_hover=QColor("#2563eb"),
    error=QColor("#dc2626"),
    error_fill=QColor("#fef2f2"),
    warning=QColor("#d97706"),
    warning_fill=QColor("#fffbeb"),
    drop_target=QColor("#16a34a"),
)

DARK = CanvasColours(
    dark=True,
    background=QColor("#1b1e24"),
    grid=QColor("#2d323b"),
    node_fill=QColor("#262a32"),
    node_border=QColor("#434a56"),
    node_selected=QColor("#60a5fa"),
    text=QColor("#e5e7eb"),
    muted=QColor("#9aa3b2"),
    shape_text=QColor("#5eead4"),
    edge=QColor("#7d8696"),
    edge_selected=QColor("#60a5fa"),
    edge_label_bg=QColor("#1b1e24"),
    port=QColor("#8a93a3"),
    port_hover=QColor("#60a5fa"),
    error=QColor("#f87171"),
    error_fill=QColor("#3a2124"),
    warning=QColor("#fbbf24"),
    warning_fill=QColor("#372e1c"),
    drop_target=QColor("#4ade80"),
)


def _dark_palette() -> QPalette:
    p = QPalette()
    base, window, text = QColor("#1e2127"), QColor("#272b32"), QColor("#e5e7eb")
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        p.setColor(group, QPalette.ColorRole.Window, window)
        p.setColor(group, QPalette.ColorRole.WindowText, text)
        p.setColor(group, QPalette.ColorRole.Base, base)
        p.setColor(group, QPalette.ColorRole.AlternateBase, QColor("#252931"))
        p.setColor(group, QPalette.ColorRole.ToolTipBase, QColor("#31363f"))
        p.setColor(group, QPalette.ColorRole.ToolTipText, text)
        p.setColor(group, QPalette.ColorRole.PlaceholderText, QColor("#8b93a1"))
        p.setColor(group, QPalette.ColorRole.Text, text)
        p.setColor(group, QPalette.ColorRole.Button, QColor("#2f343c"))
        p.setColor(group, QPalette.ColorRole.ButtonText, text)
        p.setColor(group, QPalette.ColorRole.BrightText, QColor("#ffffff"))
        p.setColor(group, QPalette.ColorRole.Highlight, QColor("#3b82f6"))
        p.setColor(group, QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
        p.setColor(group, QPalette.ColorRole.Link, QColor("#60a5fa"))
        p.setColor(group, QPalette.ColorRole.Mid, QColor("#3a3f48"))
        p.setColor(group, QPalette.ColorRole.Midlight, QColor("#353a43"))
        p.setColor(group, QPalette.ColorRole.Dark, QColor("#16181c"))
        p.setColor(group, QPalette.ColorRole.Shadow, QColor("#0b0c0e"))
        p.setColor(group, QPalette.ColorRole.Light, QColor("#3d434d"))
    disabled = QColor("#6b7280")
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Base, window)
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Window, window)
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Button, QColor("#2a2e35"))
    return p


def _light_palette() -> QPalette:
    p = QPalette()
    window, base, text = QColor("#eef0f3"), QColor("#ffffff"), QColor("#111827")
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        p.setColor(group, QPalette.ColorRole.Window, window)
        p.setColor(group, QPalette.ColorRole.WindowText, text)
        p.setColor(group, QPalette.ColorRole.Base, base)
        p.setColor(group, QPalette.ColorRole.AlternateBase, QColor("#f5f6f8"))
        p.setColor(group, QPalette.ColorRole.ToolTipBase, QColor("#ffffff"))
        p.setColor(group, QPalette.ColorRole.ToolTipText, text)
        p.setColor(group, QPalette.ColorRole.PlaceholderText, QColor("#8a919c"))
        p.setColor(group, QPalette.ColorRole.Text, text)
        p.setColor(group, QPalette.ColorRole.Button, QColor("#f4f5f7"))
        p.setColor(group, QPalette.ColorRole.ButtonText, text)
        p.setColor(group, QPalette.ColorRole.Highlight, QColor("#2563eb"))
        p.setColor(group, QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
        p.setColor(group, QPalette.ColorRole.Link, QColor("#2563eb"))
        p.setColor(group, QPalette.ColorRole.Mid, QColor("#c7ccd4"))
        p.setColor(group, QPalette.ColorRole.Midlight, QColor("#e3e6ea"))
        p.setColor(group, QPalette.ColorRole.Dark, QColor("#9aa1ad"))
        p.setColor(group, QPalette.ColorRole.Light, QColor("#ffffff"))
    disabled = QColor("#9ca3af")
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


class ThemeManager(QObject):
    """Applies the palette for the chosen mode and tells the canvas when light/dark flips."""

    changed = Signal(object)  # CanvasColours

    def __init__(self, app, mode: str = "system") -> None:
        super().__init__(app)
        self._app = app
        self._mode = mode if mode in MODES else "system"
        self.colours = LIGHT
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(self._on_system_scheme_changed)
        self.apply()

    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        if mode in MODES and mode != self._mode:
            self._mode = mode
            self.apply()

    def system_is_dark(self) -> bool:
        hints = QGuiApplication.styleHints()
        try:
            return hints.colorScheme() == Qt.ColorScheme.Dark
        except AttributeError:  # Qt < 6.5: guess from the default palette
            return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128

    def is_dark(self) -> bool:
        return self._mode == "dark" or (self._mode == "system" and self.system_is_dark())

    def apply(self) -> None:
        dark = self.is_dark()
        self._app.setPalette(_dark_palette() if dark else _light_palette())
        self.colours = DARK if dark else LIGHT
        self.changed.emit(self.colours)

    def _on_system_scheme_changed(self, *_):
        if self._mode == "system":
            self.apply()


_current: CanvasColours = LIGHT


def colours() -> CanvasColours:
    """Current canvas colours (module-level so items need no back-reference to the manager)."""
    return _current


def set_colours(c: CanvasColours) -> None:
    global _current
    _current = c
