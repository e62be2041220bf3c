"""The main window's dock layout: the default arrangement, its sizes for the window's size, View >
Reset layout, and the user's own layout kept between sessions (QSettings).

Default arrangement (every dock is placed by its title; docks this table does not name stay where
``add_panel`` put them)::

    +--------+------------------------------+-----------------------------+
    | Layers |            canvas            | Inspector | Data | Training |
    +--------+------------------+-----------+----------+------------------+
    | Summary | Issues | Feature maps | … | Embeddings | Training curves | Runs | Compare runs |
    +------------------------------------------------+-------------------------------------+

The bottom row spans the whole width, so the inspection views (tabs) and the curves are side by
side: at F5 the live feature maps of the selected layer and the curves are both on screen. The run
views (a run's curves, the list of runs, several runs' curves overlaid) share the right-hand group,
so that no group holds more tabs than its width shows at 1280x800 (ten tabs in one group put Runs
and Compare runs behind the tab bar's scroll arrows).
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QDockWidget, QScrollArea, QStyle, QTabBar, QWidget

L = Qt.DockWidgetArea.LeftDockWidgetArea
R = Qt.DockWidgetArea.RightDockWidgetArea
B = Qt.DockWidgetArea.BottomDockWidgetArea

# (area, tab group: the first title is the group's anchor, raised by default unless RAISED names
# another). A second group in the same area sits beside the first (bottom: to its right).
DEFAULT_GROUPS: tuple[tuple[Qt.DockWidgetArea, tuple[str, ...]], ...] = (
    (L, ("Layers",)),
    (R, ("Inspector", "Data", "Training")),
    (B, ("Summary", "Issues", "Feature maps", "Filters", "Evaluation", "Inference", "Layer statistics", "Embeddings")),
    (B, ("Training curves", "Runs", "Compare runs")),
)
RAISED = ("Inspector", "Summary", "Training curves")

# Default sizes, as shares of the window (with floors and caps in pixels): the side columns are
# as wide as their forms need; the bottom row gets about 44 % of the height (Feature maps shows
# its tiles and timeline in a ~300 px view at 1280x800); the curves about 40 % of the bottom row's width.
LEFT_W = (0.17, 210, 250)  # 217 px at 1280: the palette's longest labels ("Adaptive max pool") in full
RIGHT_W = (0.28, 380, 420)
BOTTOM_H = (0.44, 300, 440)
CURVES_SHARE = 0.40
COMBO_MAX_W = 360  # px: the widest a combo grows to fit its longest item (its list shows all)


def _share(total: int, rule: tuple[float, int, int]) -> int:
    frac, lo, hi = rule
    return max(lo, min(hi, int(total * frac)))


class VScrollArea(QScrollArea):
    """A scroll area for a dock's form: it scrolls vertically only, and is never narrower than its
    content's minimum width (plus the vertical scroll bar), so no control is cut off on the right
    however narrow the user drags the dock: the dock stops at that width instead."""

    def __init__(self, widget: QWidget, parent=None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(widget)

    def minimumSizeHint(self):
        hint = super().minimumSizeHint()
        w = self.widget()
        if w is not None:
            bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self)
            m = self.contentsMargins()
            hint.setWidth(max(hint.width(), w.minimumSizeHint().width() + bar + m.left() + m.right()))
        return hint


def unelide_tabs(window: QWidget) -> None:
    """The main window's dock tab bars show every title in full, with scroll arrows when the tabs
    do not all fit. Qt creates these bars with ElideRight: ten bottom tabs at 1280x800 read "Is…",
    "Fi…", "R…", which nobody can tell apart."""
    for bar in window.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly):
        _unelide(bar)


def _unelide(bar: QTabBar) -> None:
    if bar.elideMode() != Qt.TextElideMode.ElideNone:
        bar.setElideMode(Qt.TextElideMode.ElideNone)
    if not bar.usesScrollButtons():
        bar.setUsesScrollButtons(True)


def widen_combos(root: QWidget) -> None:
    """Every combo box under ``root`` keeps the width of its longest item as its items change.

    Qt's default (AdjustToContentsOnFirstShow) sizes a combo once, for the items it has when first
    shown: the views' combos, filled later with a run's splits, classes or a layer's modes, read
    "validatio", "all classe", "per input" in boxes sized for an empty list."""
    for combo in root.findChildren(QComboBox):
        if combo.sizeAdjustPolicy() == QComboBox.SizeAdjustPolicy.AdjustToContentsOnFirstShow:
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            # but a data set's 200-character class name must not widen its dock past the screen
            if combo.maximumWidth() > COMBO_MAX_W:
                combo.setMaximumWidth(COMBO_MAX_W)


class DockLayout(QObject):
    """Places a main window's docks, sizes them on the first show, saves and restores them."""

    # Bump when the set or arrangement of docks changes, so a layout saved by an older version is
    # not restored over docks it does not know.
    VERSION = 6  # 4: Runs and Compare runs; 5: Layer statistics and Embeddings; 6: the run views beside the curves

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.restored = False
        self._first_show_done = False
        self.act_reset = QAction("&Reset Layout", window)
        self.act_reset.setStatusTip("Put every panel back where it starts, at its default size")
        self.act_reset.triggered.connect(lambda *_: self.reset())
        window.installEventFilter(self)

    # ------------------------------------------------------------------ arrangement
    def docks(self) -> dict[str, QDockWidget]:
        return self.window.docks

    def arrange(self) -> None:
        """Put the docks in the default arrangement (see the module doc)."""
        w = self.window
        w.setCorner(Qt.Corner.BottomLeftCorner, B)  # the bottom row spans the whole width
        w.setCorner(Qt.Corner.BottomRightCorner, B)
        docks = self.docks()
        groups = [(area, [docks[t] for t in titles if t in docks]) for area, titles in DEFAULT_GROUPS]
        groups = [(area, g) for area, g in groups if g]
        # take them all out first: Qt adds a dock split beside a tabbed one as one more tab
        shown = {d: not d.isHidden() for _, g in groups for d in g}
        for _, g in groups:
            for d in g:
                w.removeDockWidget(d)
        used: set = set()
        for area, group in groups:
            anchor = group[0]
            # a second group in an area goes beside the first (bottom row: to its right)
            w.addDockWidget(area, anchor, Qt.Orientation.Horizontal if area in used else Qt.Orientation.Vertical)
            used.add(area)
            for d in group[1:]:
                w.tabifyDockWidget(anchor, d)
        for d, visible in shown.items():
            d.setVisible(visible)
        for t in RAISED:
            if t in docks:
                docks[t].raise_()
        unelide_tabs(w)

    def apply_sizes(self) -> None:
        """Size the columns and the bottom row for the window's current size."""
        w = self.window
        docks = self.docks()
        width, height = max(1, w.width()), max(1, w.height())
        cols = [(docks[t], _share(width, rule)) for t, rule in (("Layers", LEFT_W), ("Inspector", RIGHT_W)) if t in docks]
        if cols:
            w.resizeDocks([d for d, _ in cols], [s for _, s in cols], Qt.Orientation.Horizontal)
        bottom = [docks[t] for t in ("Summary", "Training curves") if t in docks]
        if bottom:
            w.resizeDocks(bottom[:1], [_share(height, BOTTOM_H)], Qt.Orientation.Vertical)
        if len(bottom) == 2:
            curves = int(width * CURVES_SHARE)
            w.resizeDocks(bottom, [width - curves, curves], Qt.Orientation.Horizontal)

    def reset(self) -> None:
        """View > Reset Layout: every dock shown, docked and placed as on a first start."""
        for d in self.docks().values():
            d.setFloating(False)
            d.show()
        self.arrange()
        self.apply_sizes()
        self.window.settings.remove("window/state")

    # ------------------------------------------------------------------ sessions
    def save(self) -> None:
        s = self.window.settings
        s.setValue("window/geometry", self.window.saveGeometry())
        s.setValue("window/state", self.window.saveState(self.VERSION))
        s.sync()

    def restore(self) -> bool:
        """The default arrangement, then the user's saved layout over it when it is of this version.
        True when a saved layout was restored (its sizes are kept; otherwise the defaults are sized
        when the window is first shown)."""
        for d in self.docks().values():
            widen_combos(d)
        s = self.window.settings
        geo = s.value("window/geometry")
        state = s.value("window/state")
        self.arrange()
        if geo is not None:
            self.window.restoreGeometry(geo)
        self.restored = bool(state is not None and self.window.restoreState(state, self.VERSION))
        if not self.restored:
            self.apply_sizes()  # for now; again at the first show, for the size it is shown at
        unelide_tabs(self.window)
        return self.restored

    def eventFilter(self, obj, event) -> bool:
        if obj is self.window and event.type() == QEvent.Type.ChildPolished and isinstance(getattr(event, "child", lambda: None)(), QTabBar):
            _unelide(event.child())  # a tab bar Qt made for docks the user tabbed together
        if obj is self.window and event.type() == QEvent.Type.Show and not self._first_show_done:
            self._first_show_done = True
            if not self.restored:
                self.apply_sizes()  # the size the window is really shown at
        return False
