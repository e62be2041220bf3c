"""Views in a dock tab that is not current skip their drawing while training runs (Qt 6 keeps such
docks isVisible(): they sit outside the window) and catch up when the user clicks their tab."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTabBar

from cnn_studio.app.visibility import on_screen


def _click_tab(qtbot, window, title: str) -> None:
    for bar in window.findChildren(QTabBar):
        for i in range(bar.count()):
            if bar.tabText(i) == title and bar.isVisible():
                qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(i).center())
                return
    raise AssertionError(f"no dock tab titled {title!r}")


def test_hidden_tabs_defer_their_drawing_and_catch_up_when_clicked(window, qtbot):
    ev = window.inspect.evaluation
    plots = window.training.panel.plots
    # the default layout shows the curves beside the inspection views: a user tabs them with Summary
    window.tabifyDockWidget(window.docks["Summary"], window.docks["Training curves"])
    _click_tab(qtbot, window, "Summary")  # the bottom group shows Summary: curves and evaluation are hidden tabs
    qtbot.waitUntil(lambda: not on_screen(ev) and not on_screen(plots), timeout=2000)
    assert ev.isVisible()  # what Qt 6 reports for a hidden dock tab: why on_screen exists

    cm = np.array([[5, 1], [2, 7]])
    ev.update_from_epoch({"epoch": 1, "confusion_matrix": cm.tolist()})
    assert ev.confusion is None  # kept, not drawn
    plots.begin_run(3)
    for i in range(30):
        plots.add_batch(i / 10, 2.0 - i / 30)
    plots._on_timer_timeout()  # the redraw timer fires while the curves are hidden
    assert len(plots.curve_data("loss_batch")[0]) == 0

    _click_tab(qtbot, window, "Evaluation")
    qtbot.waitUntil(lambda: ev.confusion is not None, timeout=2000)
    np.testing.assert_array_equal(ev.confusion, cm)
    assert "epoch 1" in ev.summary.text()

    _click_tab(qtbot, window, "Training curves")
    qtbot.waitUntil(lambda: len(plots.curve_data("loss_batch")[0]) == 30, timeout=2000)


def test_live_feature_maps_are_computed_only_while_their_tab_is_shown(window, qtbot, tmp_path):
    """The training thread refreshes the maps of the selected layer live only while the Feature
    maps tab can be seen; per-epoch snapshots go on either way."""
    from test_training_ui import _npz, _setup

    feat = _setup(window, _npz(tmp_path, n=640), epochs=200, batch=16)
    fm = window.inspect.featuremaps
    window.select_nodes(["c3"])
    _click_tab(qtbot, window, "Feature maps")
    qtbot.mouseClick(feat.panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: feat.panel.worker is not None and feat.panel.worker.trainer is not None, timeout=120_000)
    runner = feat.panel.worker.runner
    try:
        _click_tab(qtbot, window, "Feature maps")
        qtbot.waitUntil(lambda: runner._live_node == "c3", timeout=5000)
        _click_tab(qtbot, window, "Summary")  # the maps' tab goes to the back
        qtbot.waitUntil(lambda: runner._live_node == "", timeout=5000)
        assert runner._pinned is not None  # the epoch snapshots keep their sample
        _click_tab(qtbot, window, "Feature maps")
        qtbot.waitUntil(lambda: runner._live_node == "c3", timeout=5000)
        assert fm.live_node() == "c3"
    finally:
        feat.panel.stop_training()
        qtbot.waitUntil(lambda: not feat.panel.running, timeout=60_000)


def test_the_evaluation_tab_relabels_its_matrix_when_it_comes_forward(window, qtbot):
    """A run starting renames the classes; the hidden Evaluation tab redraws its matrix with the
    new names when the user brings it forward, not while it is hidden."""
    ev = window.inspect.evaluation

    def left_ticks():
        return [t for _, t in ev.plot.getAxis("left")._tickLevels[0]]

    _click_tab(qtbot, window, "Evaluation")
    qtbot.waitUntil(lambda: on_screen(ev), timeout=2000)
    ev.set_class_names(["cat", "dog"])
    ev.update_from_epoch({"epoch": 1, "confusion_matrix": [[3, 1], [0, 4]]})
    assert left_ticks() == ["cat", "dog"]

    _click_tab(qtbot, window, "Summary")
    qtbot.waitUntil(lambda: not on_screen(ev), timeout=2000)
    ev.set_class_names(["circle", "square"])
    assert left_ticks() == ["cat", "dog"]  # not redrawn while hidden

    _click_tab(qtbot, window, "Evaluation")
    qtbot.waitUntil(lambda: left_ticks() == ["circle", "square"], timeout=2000)
