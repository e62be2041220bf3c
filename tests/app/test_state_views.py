"""Every view shows the app state's source and nothing else, driven as a user does it: train a tiny
run of the default network, then File > New (another template), Open and Revert, clicking a layer
of the new network; after each, no view keeps the old network's numbers, layers, confusion matrix,
curves or run status, and each says there is nothing to show yet. A failed start keeps the previous
run's curves and does not look like success."""
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from test_training_ui import _npz, _setup

from cnn_studio.app.training.panel import READY_TEXT
from cnn_studio.core import templates

Discard, Yes = __import__("app_helpers").Discard, __import__("app_helpers").Yes


def _train(window, qtbot, tmp_path, classes=10):
    _setup(window, _npz(tmp_path, classes=classes), epochs=1)
    QTest.keyClick(window, Qt.Key.Key_F5)
    state = window.state
    qtbot.waitUntil(lambda: not window.training.panel.running and state.source.kind == "run" and state.source.status == "ready", timeout=180_000)
    ev = window.inspect.evaluation
    qtbot.waitUntil(lambda: ev.result is not None, timeout=60_000)
    return state.source


def _click_node(window, qtbot, node_id):
    item = window.scene.node_items[node_id]
    window.view.center_on_node(node_id)
    pos = window.view.mapFromScene(item.sceneBoundingRect().center())
    qtbot.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert window.selected_node_ids() == [node_id]


def _view_texts(window) -> str:
    """Every label of the inspection views, the curves and the training panel."""
    from PySide6.QtWidgets import QLabel

    insp, tr = window.inspect, window.training
    widgets = [insp.featuremaps, insp.filters, insp.evaluation, insp.inference, tr.panel, tr.panel.plots]
    return "\n".join(lab.text() for w in widgets for lab in w.findChildren(QLabel))


def _assert_nothing_of(window, old, qtbot):
    """No view shows the old run; each says there is nothing to show yet."""
    insp, tr = window.inspect, window.training
    assert window.state.source.kind == "nothing"
    fm, fi, ev, inf = insp.featuremaps, insp.filters, insp.evaluation, insp.inference
    insp.featuremaps.wait_idle()
    qtbot.wait(50)
    assert fm.maps is None and fm.grid_rgb is None and fm.input_tensor is None and fm.snapshot_epochs() == []
    assert not fm.timeline.isVisible()
    assert fm.layer_combo.count() == 0 and fm.split_combo.count() == 0  # none of LeNet-5's layers or data
    assert fi.weight is None and fi.grid_rgb is None and fi.layer_combo.count() == 0
    assert ev.confusion is None and ev.result is None and ev.table.rowCount() == 0 and ev.gallery.count() == 0
    assert inf.model() is None and inf.topk is None
    plots = tr.panel.plots
    assert all(len(s) == 0 for s in plots.series.values())  # no curve of the old run
    assert tr.panel.status.text() == READY_TEXT and tr.panel.progress.format() == "Ready"
    texts = _view_texts(window)
    assert old.run_name not in texts and "accuracy" not in texts.lower()
    for view in (fm, fi, ev, inf):
        assert "Train this network" in view.source_banner.text(), view
    assert "no curves yet" in plots.source_banner.text()
    assert "read-only" not in window.statusBar().currentMessage()
    assert old.run_name not in window.statusBar().currentMessage()


def test_new_open_and_revert_show_nothing_of_the_old_network(window, qtbot, tmp_path):
    old = _train(window, qtbot, tmp_path)
    insp = window.inspect
    # the run is on screen, named: its maps, kernels, matrix, curves and summary
    _click_node(window, qtbot, "c3")
    qtbot.waitUntil(lambda: insp.featuremaps.maps_node == "c3", timeout=20_000)
    assert old.run_name in insp.featuremaps.source_banner.text() and "best weights" in insp.evaluation.source_banner.text()
    assert insp.evaluation.confusion is not None and len(window.training.panel.plots.series["loss_val"]) == 1
    assert "with the best weights" in insp.evaluation.summary.text()  # which checkpoint the figure is of

    # File > New (Ctrl+N), TinyVGG, discarding the changed settings; click one of its layers
    window.answers.new_graph = templates.build("tinyvgg", (3, 32, 32), 10)
    window.answers.replies = [Discard]
    QTest.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.graph.name != "lenet5" and "c3" not in window.graph.nodes
    qtbot.wait(50)
    first_conv = next(n.id for n in window.graph.nodes.values() if n.type == "conv2d")
    _click_node(window, qtbot, first_conv)
    _assert_nothing_of(window, old, qtbot)
    assert "tinyvgg" in insp.featuremaps.source_banner.text().lower()
    # undo works on the new network as before
    n = len(window.graph.nodes)
    window.append_layer("relu")
    assert len(window.graph.nodes) == n + 1
    window.undo()
    assert len(window.graph.nodes) == n

    # a past run shown again (the entry point of a runs list), then File > Open another project
    window.state.show_run(old.run_dir)
    qtbot.waitUntil(lambda: window.state.source.status == "ready" and insp.evaluation.result is not None, timeout=60_000)
    assert insp.filters.weight is not None and old.run_name in insp.filters.source_banner.text()
    plots = window.training.panel.plots  # the run's epoch curves, read back from its metrics.csv
    assert len(plots.series["loss_val"]) == 1 and old.run_name in plots.source_banner.text()
    assert "best validation accuracy" in window.training.panel.status.text()  # its summary
    path = tmp_path / "other.cnnstudio"
    window.answers.save_path = str(path)
    assert window.save_as(str(path))
    window.answers.open_path = str(path)
    QTest.keyClick(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    assert window.document.path == path.resolve()
    _click_node(window, qtbot, first_conv)
    _assert_nothing_of(window, old, qtbot)

    # and File > Revert after an edit
    window.state.show_run(old.run_dir)
    qtbot.waitUntil(lambda: window.state.source.status == "ready" and insp.evaluation.result is not None, timeout=60_000)
    window.select_nodes([first_conv])
    QTest.keyClick(window.view.viewport(), Qt.Key.Key_Delete)
    assert window.document.modified
    window.answers.replies = [Yes]
    window.act_revert.trigger()
    assert first_conv in window.graph.nodes and not window.document.modified
    _click_node(window, qtbot, first_conv)
    _assert_nothing_of(window, old, qtbot)


def test_a_failed_start_keeps_the_last_run_and_says_it_failed(window, qtbot, tmp_path, monkeypatch):
    from cnn_studio.app.training import fit_data

    old = _train(window, qtbot, tmp_path)
    # F5 first offers to fit the class count (test_adapt_input); pass that question by, so that the
    # engine refuses the start
    plots, panel = window.training.panel.plots, window.training.panel
    before = {k: np.asarray(plots.curve_data(k)[1]).copy() for k in ("loss_val", "loss_batch")}
    assert len(before["loss_val"]) == 1 and len(before["loss_batch"]) > 0
    monkeypatch.setattr(fit_data, "fit_data_to_network", lambda feature: True)
    # the network has 10 outputs, the data 3 classes: the run cannot start
    window.training.data_panel.set_source(_npz(tmp_path, classes=3))
    with qtbot.waitSignal(panel.run_failed, timeout=120_000):
        QTest.keyClick(window, Qt.Key.Key_F5)
    after = {k: np.asarray(plots.curve_data(k)[1]) for k in before}
    for k in before:
        assert np.array_equal(before[k], after[k]), k  # the previous run's curves are kept
    assert window.state.source == old  # the views still show the last run, named
    assert old.run_name in plots.source_banner.text()
    bar = panel.progress
    assert bar.value() == bar.minimum() and bar.property("failed") is True  # not a full bar
    assert bar.format() != "Error" and "start" in bar.format().lower()
    msg = window.statusBar().currentMessage()
    assert "read-only" not in msg and "error" in msg.lower()
    assert window.editing_enabled


def test_momentum_applies_only_to_optimizers_that_have_it(window, qtbot):
    s = window.training.panel.settings
    for opt, has in (("adam", False), ("sgd", True), ("adamw", False), ("rmsprop", True)):
        s.optimizer.setFocus()
        while s.optimizer.currentText() != opt:  # pick it with the keyboard, as a user can
            QTest.keyClick(s.optimizer, Qt.Key.Key_Down if s.optimizer.currentIndex() < s.optimizer.findText(opt) else Qt.Key.Key_Up)
        assert s.momentum.isEnabled() is has, opt
        assert ("no momentum" in s.momentum.toolTip()) is not has
    # a project opened with Adam shows momentum disabled too
    s.set_config({"optimizer": "adam"})
    assert not s.momentum.isEnabled()
