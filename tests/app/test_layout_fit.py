"""The window at common sizes, nothing clipped and nothing hidden (issues 13-15 polish):

- the palette is never narrower than its longest entry or header (measured with the style and fonts),
  also when an older saved layout had it narrow;
- every dock's tab shows at 1280x800 and 1440x900 without the tab bar's scroll arrows;
- the tick labels of the curve axes never run together however narrow the plot;
- the curves' line naming their run wraps instead of being cut;
- Evaluation's mistakes gallery stays on screen under the ROC / PR tab.
"""
from __future__ import annotations

import pyqtgraph as pg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import QApplication, QScrollArea, QStyle, QStyleOptionViewItem, QTabBar, QToolButton

from cnn_studio.app.visibility import on_screen

from test_layout import _close, _settle, windows  # noqa: F401 - windows is a fixture

SIZES = [(1280, 800), (1440, 900)]


# ------------------------------------------------------------------------------ palette
def _cut_palette_rows(pal) -> list[str]:
    """The palette rows (entries and headers) whose text does not fit the room the view gives it."""
    tree = pal.tree
    style = tree.style()
    margin = 2 * (style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, tree) + 1)
    cut = []
    for it in list(pal.categories.values()) + list(pal.items.values()):
        tree.scrollToItem(it)
        _settle()
        opt = QStyleOptionViewItem()
        opt.initFrom(tree.viewport())
        opt.rect = tree.visualItemRect(it)
        opt.text = it.text(0)
        opt.icon = it.icon(0)
        opt.font = it.font(0)
        opt.decorationSize = tree.iconSize()
        opt.features = QStyleOptionViewItem.ViewItemFeature.HasDisplay | QStyleOptionViewItem.ViewItemFeature.HasDecoration
        room = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, opt, tree).width()
        need = QFontMetrics(it.font(0)).horizontalAdvance(it.text(0))
        if need > room - margin:
            cut.append(f"{it.text(0)!r} needs {need} px, has {room - margin}")
    return cut


def test_the_palette_at_its_least_width_shows_every_entry_and_header_whole(windows):
    w = windows((1280, 800))
    _settle()
    dock = w.docks["Layers"]
    w.resizeDocks([dock], [40], Qt.Orientation.Horizontal)  # as narrow as the user can drag it
    _settle()
    pal = w.palette_widget
    assert dock.width() < 217  # it did get narrower than the default column
    assert not _cut_palette_rows(pal), _cut_palette_rows(pal)
    # a header shows a compact name where the category's is long; the tooltip and search have it all
    norm = pal.categories["Normalization & regularization"]
    assert norm.text(0) != "Normalization & regularization" and norm.toolTip(0) == "Normalization & regularization"
    pal.search.setText("regularization")
    assert "dropout" in pal.visible_types()
    pal.search.clear()


def test_a_layout_saved_before_with_a_narrow_palette_does_not_cut_it(windows):
    """A state saved by the previous layout version (5), with the palette dragged to its least width
    of then, is not restored over the new arrangement; the palette comes back whole."""
    a = windows((1280, 800))
    _settle()
    a.palette_widget.tree.setMinimumWidth(0)  # the palette as narrow as version 5 let it be
    _settle()
    a.resizeDocks([a.docks["Layers"]], [90], Qt.Orientation.Horizontal)
    _settle()
    assert a.docks["Layers"].width() < 120
    a.settings.setValue("window/state", a.saveState(5))
    a.settings.sync()
    a._save_window_state = lambda: None  # closing keeps the old-version state as the one saved
    _close(a)
    b = windows((1280, 800))
    _settle()
    assert not b.dock_layout.restored
    assert b.docks["Layers"].width() >= b.palette_widget.minimumSizeHint().width()
    assert not _cut_palette_rows(b.palette_widget)


# ------------------------------------------------------------------------------ dock tabs
def _dock_bars(w) -> list[QTabBar]:
    return [b for b in w.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly) if b.isVisible() and b.count()]


@pytest.mark.parametrize("size", SIZES)
def test_every_dock_tab_is_in_view_without_scroll_arrows(windows, size):
    w = windows(size)
    _settle()
    w.docks["Issues"].setWindowTitle("Issues (99)")  # the widest title the Issues tab takes
    _settle()
    tabbed = set()
    for bar in _dock_bars(w):
        titles = [bar.tabText(i) for i in range(bar.count())]
        tabbed |= set(titles)
        need = sum(bar.tabSizeHint(i).width() for i in range(bar.count()))
        assert need <= bar.width(), (titles, need, bar.width())
        arrows = [b for b in bar.findChildren(QToolButton) if b.isVisible()]
        assert not arrows, titles
        for i in range(bar.count()):
            assert bar.rect().contains(bar.tabRect(i)), titles[i]
    # every dock is a tab in view or a dock of its own on screen, and named in the View menu
    for title, dock in w.docks.items():
        assert dock.windowTitle() in tabbed or (on_screen(dock.widget()) and not w.tabifiedDockWidgets(dock)), title
    menu = [a.text() for a in w.panel_menu.actions()]
    assert set(d.windowTitle() for d in w.docks.values()) <= set(menu)


def test_the_run_views_share_the_curves_group_and_f5_shows_curves_and_maps(windows):
    w = windows((1280, 800))
    _settle()
    group = {w.docks["Training curves"], *w.tabifiedDockWidgets(w.docks["Training curves"])}
    assert {w.docks["Runs"], w.docks["Compare runs"]} <= group
    assert w.docks["Feature maps"] not in group
    assert on_screen(w.docks["Training curves"].widget())  # raised by default


# ------------------------------------------------------------------------------ axes
def _label_rects(axis, lo: float, hi: float, length: int) -> list[QRectF]:
    """The rectangles of the tick labels ``axis`` draws over [lo, hi] when ``length`` px long (in
    a widget of its own: an axis measures itself in device pixels)."""
    host = pg.GraphicsLayoutWidget()
    host.ci.layout.setContentsMargins(0, 0, 0, 0)
    host.addItem(axis, row=0, col=0)
    host.resize(length, 60)
    host.show()
    QApplication.processEvents()
    axis.setRange(lo, hi)
    return _drawn_labels(axis)


def _drawn_labels(axis) -> list[QRectF]:
    img = QImage(10, 10, QImage.Format.Format_ARGB32)
    p = QPainter(img)
    p.setFont(axis.font())
    try:
        specs = axis.generateDrawSpecs(p)
    finally:
        p.end()
    assert specs is not None, "the axis is not laid out"
    return sorted((r for r, _f, _t in specs[2]), key=lambda r: r.left())


def _overlaps(rects: list[QRectF], gap: float = 0.0) -> list[tuple[float, float]]:
    return [(a.right(), b.left()) for a, b in zip(rects, rects[1:]) if a.right() + gap > b.left()]


def test_pyqtgraphs_own_axis_runs_its_labels_together_on_a_narrow_plot(qapp):
    """The fault ReadableAxis fixes (and so what the next test could catch)."""
    rects = _label_rects(pg.AxisItem("bottom"), 0.0, 1.0, 80)
    assert _overlaps(rects, gap=2.0)


@settings(max_examples=60, deadline=None)
@given(lo=st.floats(-1000, 1000), span=st.floats(1e-3, 5e4), length=st.integers(40, 1200))
def test_readable_axis_labels_never_run_together(qapp, lo, span, length):
    from cnn_studio.app.axes import ReadableAxis

    axis = ReadableAxis("bottom")
    rects = _label_rects(axis, lo, lo + span, length)
    if length >= 100:  # (a shorter axis may keep only its end ticks, whose labels pyqtgraph drops)
        assert rects
    assert not _overlaps(rects, gap=2.0), (lo, span, length, [r.getRect() for r in rects])
    if length >= 600:
        assert len(rects) >= 3  # thinned only where needed


def _narrowest_curves(qtbot, height: int):
    """The app's training curves view at its least width."""
    from cnn_studio.app.training.curves import RunCurves

    view = RunCurves()
    qtbot.addWidget(view)
    view.resize(view.minimumSizeHint().width(), height)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_the_training_curves_at_their_least_width_keep_their_epoch_labels_apart(qtbot):
    view = _narrowest_curves(qtbot, 320)
    for epochs in (1, 7, 100, 2500):
        view.begin_run(float(epochs))
        view.redraw()
        _settle()
        for key, plot in view.plots.items():
            texts = _drawn_labels(plot.getAxis("bottom"))
            assert len(texts) >= 2, (epochs, key)  # the first and the last epoch at least
            assert not _overlaps(texts, gap=2.0), (epochs, key, [r.getRect() for r in texts])


def test_the_curves_line_naming_the_run_wraps_in_a_narrow_dock(qtbot):
    view = _narrowest_curves(qtbot, 360)
    text = "lenet5_relu · run lenet5_relu-20261202-155441 · best weights"
    view.source_banner.setText(text)
    view.source_banner.setVisible(True)
    _settle()
    b = view.source_banner
    assert QFontMetrics(b.font()).horizontalAdvance(text) > b.contentsRect().width()  # it has to wrap
    assert b.wordWrap()
    assert b.height() >= b.heightForWidth(b.width()), (b.height(), b.heightForWidth(b.width()))
    assert b.width() <= view.width()  # it did not widen the view


# ------------------------------------------------------------------------------ Evaluation
def test_the_mistakes_gallery_stays_on_screen_under_the_roc_tab(windows, qtbot):
    w = windows((1280, 800))
    _settle()
    dock = w.docks["Evaluation"]
    dock.raise_()
    _settle()
    ev = w.inspect.evaluation
    bar = ev.tabs.tabBar()
    roc = next(i for i in range(bar.count()) if bar.tabText(i).startswith("ROC"))
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(roc).center())
    _settle()
    assert ev.tabs.currentWidget() is ev.curves_view
    area = dock.widget()
    assert isinstance(area, QScrollArea)
    view_rect = QRect(area.viewport().mapToGlobal(area.viewport().rect().topLeft()), area.viewport().size())
    assert on_screen(ev) and on_screen(ev.gallery.viewport()) and on_screen(ev.curves_view.plot_widget.viewport())
    for part in (ev.gallery, ev.all_button, ev.curves_view.plot_widget):
        assert part.isVisible(), part
        r = QRect(part.mapToGlobal(part.rect().topLeft()), part.size())
        assert view_rect.contains(r), (type(part).__name__, r, view_rect)
    grid = ev.gallery.gridSize()
    assert ev.gallery.viewport().width() >= grid.width() and ev.gallery.viewport().height() >= grid.height() - 8
    # back to the matrix: the gallery is still there, beside it
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(0).center())
    _settle()
    assert on_screen(ev.gallery.viewport()) and on_screen(ev.matrix_widget.viewport())
