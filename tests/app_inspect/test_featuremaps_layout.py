"""The Feature maps view fits a short dock: in a 900x300 scrolling dock (the bottom dock of a
1440x900 window) it needs no scrolling, shows every row of tiles and its timeline, and stays so
after a layer the run does not have is picked (what inserting a layer on the canvas does)."""
import numpy as np
from PySide6.QtCore import QPoint, QRect, QRectF
from PySide6.QtWidgets import QApplication

from cnn_studio.app.inspect.featuremaps import FeatureMapView
from cnn_studio.app.training.attach import _scrolling


def _dock(imodel, qtbot, size=(900, 300)):
    view = FeatureMapView(imodel)
    area = _scrolling(view)  # the dock's scroll area, as the main window wraps the view
    qtbot.addWidget(area)
    area.resize(*size)
    area.show()
    qtbot.waitExposed(area)
    assert view.wait_idle()
    return view, area


def _settle(qtbot):
    for _ in range(3):
        QApplication.processEvents()
        qtbot.wait(20)


def _inside_viewport(area, widget) -> bool:
    vp = area.viewport()
    top_left = widget.mapTo(vp, QPoint(0, 0))
    return QRect(QPoint(0, 0), vp.size()).contains(QRect(top_left, widget.size()))


def _whole_grid_in_view(view) -> bool:
    h, w = view.grid_rgb.shape[:2]
    shown = view.grid_canvas.vb.viewRect()
    return shown.adjusted(-0.5, -0.5, 0.5, 0.5).contains(QRectF(0, 0, w, h))


def test_the_view_fits_a_short_dock_with_every_row_and_the_timeline(imodel, qtbot):
    view, area = _dock(imodel, qtbot)
    try:
        _check(view, area, qtbot)
    finally:
        view.shutdown()


def _check(view, area, qtbot):
    view.set_node("conv1")  # 16 channels: a 4x4 grid
    qtbot.waitUntil(lambda: view.maps_node == "conv1" and view.grid_rgb is not None, timeout=10_000)
    view.add_snapshot(0, {"conv1": np.asarray(view.maps)})
    view.add_snapshot(1, {"conv1": np.asarray(view.maps) * 2})
    _settle(qtbot)
    assert view.geometry.rows == 4
    assert area.verticalScrollBar().maximum() == 0  # nothing below the dock's edge
    assert view.timeline.isVisible() and _inside_viewport(area, view.timeline)
    assert _inside_viewport(area, view.grid_canvas) and _whole_grid_in_view(view)
    height = view.grid_canvas.height()

    # a layer the shown network does not have (just inserted on the canvas): a message, the same layout
    assert not view.set_node("conv2d_new")
    assert "conv2d_new" in view.status.toolTip()
    _settle(qtbot)
    assert area.verticalScrollBar().maximum() == 0
    assert view.grid_canvas.height() == height and _inside_viewport(area, view.grid_canvas)
    assert _whole_grid_in_view(view) and _inside_viewport(area, view.timeline)


def test_one_line_captions_end_in_an_ellipsis_not_mid_word(qtbot):
    """A one-line caption narrower than its text shows the start of it and an ellipsis (it was cut
    mid-word: 'true: ri'); text() still gives the whole text."""
    from cnn_studio.app.inspect.maps_grid import one_line
    from cnn_studio.app.inspect.widgets import caption

    lab = caption("")
    one_line(lab)
    qtbot.addWidget(lab)
    full = "sample 0 of 1000 (validation) · true: <b>ring</b> · predicted: <b>ring</b> (99%)"
    lab.setText(full)
    lab.resize(120, 20)
    lab.show()
    qtbot.waitExposed(lab)
    assert lab.text() == full
    shown = super(type(lab), lab).text()
    assert shown.endswith("…") and shown[:-1] and "sample 0 of 1000 (validation) · true: ring".startswith(shown[:-1])
    assert lab.fontMetrics().horizontalAdvance(shown) <= lab.contentsRect().width()
    lab.resize(900, 20)
    qtbot.waitUntil(lambda: super(type(lab), lab).text() == full)
