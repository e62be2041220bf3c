"""The Evaluation view's ROC / PR tab fits the bottom dock at 1280x800 (~745 x 290 px, in the dock's
scroll area): its x axis is on screen without scrolling, and the mistakes gallery stays beside it
(under both tabs)."""
from PySide6.QtCore import QPoint, Qt

from cnn_studio.app.inspect.evaluation import EvaluationView
from cnn_studio.app.layout import VScrollArea


def test_roc_tab_x_axis_is_on_screen_in_a_short_dock(imodel, qtbot):
    v = EvaluationView()
    dock = VScrollArea(v)
    qtbot.addWidget(dock)
    dock.resize(745, 290)
    dock.show()
    qtbot.waitExposed(dock)
    try:
        with qtbot.waitSignal(v.evaluation_finished, timeout=30_000):
            v.set_model(imodel)
        bar = v.tabs.tabBar()
        qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(1).center())
        qtbot.wait(50)
        assert v.tabs.currentWidget() is v.curves_view and v.curves_view.main_curve is not None
        pw = v.curves_view.plot_widget
        axis = v.curves_view.plot.getAxis("bottom")
        # the x axis's bottom edge, in the scroll area's viewport: inside it, nothing to scroll
        bottom = pw.mapFromScene(axis.sceneBoundingRect().bottomLeft()).y()
        y = pw.mapTo(dock.viewport(), QPoint(0, bottom)).y()
        assert 0 < y <= dock.viewport().height()
        assert dock.verticalScrollBar().maximum() == 0
        g = v.gallery
        assert g.isVisible()
        top = g.mapTo(dock.viewport(), QPoint(0, 0))
        assert top.y() >= 0 and top.y() + g.height() <= dock.viewport().height()
        assert top.x() >= 0 and top.x() + g.width() <= dock.viewport().width()
        qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(0).center())
        assert v.gallery.isVisible() and v.top.minimumHeight() == 0
        assert dock.verticalScrollBar().maximum() == 0  # the matrix tab fits the dock as well
    finally:
        v.shutdown()
