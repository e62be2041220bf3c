"""Training from the app, as a user does it: F5 / buttons, live progress and plots, pause, resume,
stop, a run directory like the CLI's, a clear dialog on errors, and a clean close mid-run."""
import json
import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox


def _npz(tmp_path, classes=10, n=320, seed=0, shape=(3, 32, 32)):
    """A small data set the first-run network can train on, 3x32x32 like its Input by default (a
    data shape other than the network's makes F5 ask how to fit them: tests/app/test_adapt_input.py)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    c, h, w = shape
    x = (rng.random((n, h, w, c) if c == 3 else (n, h, w)) * 60).astype(np.uint8)
    for i, c in enumerate(y):  # a bright bar whose row encodes the class
        x[i, c % 12, :] = 255
    path = tmp_path / f"bars{classes}.npz"
    np.savez(path, x=x, y=y)
    return str(path)


def _setup(window, data_path, epochs=2, batch=32):
    feat = window.training
    feat.data_panel.set_source(data_path)
    s = feat.panel.settings
    s.epochs.setValue(epochs)
    s.batch_size.setValue(batch)
    s.device.setCurrentIndex(s.device.findData("cpu"))
    return feat


def _wait_idle(qtbot, feat, timeout=120_000):
    qtbot.waitUntil(lambda: not feat.panel.running, timeout=timeout)


def test_f5_trains_with_live_plots_and_writes_a_run_dir(window, qtbot, tmp_path):
    feat = _setup(window, _npz(tmp_path))
    epochs = []
    feat.panel.epoch_done.connect(epochs.append)
    QTest.keyClick(window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: feat.panel.running, timeout=5000)
    assert not window.editing_enabled  # the graph is read-only while training
    before = window.graph.to_config()
    window.select_nodes(["c3"])
    QTest.keyClick(window.view.viewport(), Qt.Key.Key_Delete)
    assert window.graph.to_config() == before
    with qtbot.waitSignal(feat.panel.run_finished, timeout=120_000) as blocker:
        pass
    summary = blocker.args[0]
    assert summary["stop_reason"] == "finished" and summary["epochs_completed"] == 2
    assert window.editing_enabled
    assert [e["epoch"] for e in epochs] == [1, 2]
    x, y = feat.panel.plots.curve_data("loss_val")
    assert list(x) == [1, 2] and all(np.isfinite(y))
    assert len(feat.panel.plots.curve_data("loss_batch")[0]) > 0
    run = feat.panel.run_dir
    assert run and json.loads((__import__("pathlib").Path(run) / "summary.json").read_text())["epochs_completed"] == 2
    header = (__import__("pathlib").Path(run) / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds"} <= set(header)
    assert "Finished" in feat.panel.progress.format()


def test_pause_resume_and_stop_with_the_buttons(window, qtbot, tmp_path):
    feat = _setup(window, _npz(tmp_path, n=640), epochs=200, batch=16)
    qtbot.mouseClick(feat.panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: feat.panel.worker is not None and feat.panel.worker.trainer is not None and feat.panel.worker.trainer.state.global_step > 2, timeout=120_000)
    with qtbot.waitSignal(feat.panel.worker.paused_changed, timeout=10_000):
        qtbot.mouseClick(feat.panel.pause_button, Qt.MouseButton.LeftButton)
    assert feat.panel.pause_button.text() == "Resume" and feat.panel.status.text() == "Paused"
    step = feat.panel.worker.trainer.state.global_step
    qtbot.wait(400)
    assert feat.panel.worker.trainer.state.global_step <= step + 1
    with qtbot.waitSignal(feat.panel.worker.paused_changed, timeout=10_000):
        qtbot.mouseClick(feat.panel.pause_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(feat.panel.run_finished, timeout=60_000) as blocker:
        qtbot.mouseClick(feat.panel.stop_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0]["stop_reason"] == "stopped_by_user"
    assert "Stopped by you" in feat.panel.status.text()
    assert feat.panel.controller.thread is None
    assert (__import__("pathlib").Path(feat.panel.run_dir) / "checkpoints" / "last.pt").exists()


def test_an_error_in_training_shows_a_dialog_and_the_app_keeps_working(window, qtbot, tmp_path, monkeypatch):
    from cnn_studio.app.training import fit_data

    feat = _setup(window, _npz(tmp_path, classes=3))  # the network has 10 outputs
    # F5 would first offer to fit the class count (test_adapt_input); here the engine's own refusal
    # at the start of the run is what is tested, as if the question had been passed by
    monkeypatch.setattr(fit_data, "fit_data_to_network", lambda feature: True)
    with qtbot.waitSignal(feat.panel.run_failed, timeout=120_000):
        QTest.keyClick(window, Qt.Key.Key_F5)
    title, text = window.answers.informed[-1]
    assert "error" in title.lower() and "3 classes" in text
    assert window.editing_enabled and feat.panel.controller.thread is None
    window.select_nodes(["c3"])
    QTest.keyClick(window.view.viewport(), Qt.Key.Key_Delete)
    assert "c3" not in window.graph.nodes  # still editable
    window.undo()
    assert "c3" in window.graph.nodes


def test_invalid_network_is_not_trained(window, qtbot, tmp_path):
    feat = _setup(window, _npz(tmp_path))
    window.graph.set_param("c1", "out_channels", 0)
    window.document.refresh()
    QTest.keyClick(window, Qt.Key.Key_F5)
    assert not feat.panel.running
    title, text = window.answers.informed[-1]
    assert "c1" in text and window.selected_node_ids() == ["c1"]


def test_closing_during_training_asks_then_stops_and_joins(make_window, qtbot, tmp_path):
    window = make_window()
    feat = _setup(window, _npz(tmp_path, n=640), epochs=200, batch=16)
    QTest.keyClick(window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: feat.panel.worker is not None and feat.panel.worker.trainer is not None, timeout=120_000)
    window.answers.replies = [QMessageBox.StandardButton.No]
    window._closing_ok = True
    window.close()
    assert window.isVisible() and feat.panel.running  # "No" keeps it open and training
    window.answers.replies = [QMessageBox.StandardButton.Yes]
    window.close()
    assert not window.isVisible()
    assert feat.panel.controller.thread is None
    assert not [t for t in threading.enumerate() if t.name.startswith("cnn-studio-training")]


def test_settings_are_saved_in_the_project_and_undoable(window, qtbot, tmp_path):
    feat = window.training
    original = dict(window.graph.training)
    feat.panel.settings.lr.setValue(0.05)
    feat.data_panel.hflip.setChecked(True)
    assert window.graph.training["train"]["lr"] == pytest.approx(0.05)
    assert window.graph.training["data"]["augment"]["hflip"] is True
    path = tmp_path / "p.cnnstudio"
    window.answers.save_path = str(path)
    assert window.save_as(str(path))
    doc = json.loads(path.read_text())
    assert doc["training"]["train"]["lr"] == pytest.approx(0.05)
    window.undo()  # quick successive changes are one undo step
    assert window.graph.training == original
    assert feat.panel.settings.lr.value() == pytest.approx(0.003) and not feat.data_panel.hflip.isChecked()
    window.redo()
    assert feat.panel.settings.lr.value() == pytest.approx(0.05) and feat.data_panel.hflip.isChecked()


def test_after_a_run_clicking_a_node_shows_its_feature_maps(window, qtbot, tmp_path):
    _setup(window, _npz(tmp_path), epochs=1)
    insp = window.inspect
    QTest.keyClick(window, Qt.Key.Key_F5)
    # the run's saved weights, loaded once it ended, are what the views show
    qtbot.waitUntil(lambda: window.state.source.kind == "run" and window.state.source.status == "ready", timeout=180_000)
    # the per-epoch snapshots arrived during the run: before training (0) and after epoch 1
    assert insp.featuremaps.snapshot_epochs()[:2] == [0, 1]
    # click the card of c3 on the canvas, as a user would
    item = window.scene.node_items["c3"]
    pos = window.view.mapFromScene(item.sceneBoundingRect().center())
    qtbot.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert window.selected_node_ids() == ["c3"]
    insp.featuremaps.wait_idle()
    qtbot.waitUntil(lambda: insp.featuremaps.maps_node == "c3", timeout=10_000)
    assert insp.featuremaps.maps.shape == (16, 10, 10)  # c3 has 16 filters on a 10x10 map
    # and the evaluation view holds the run's validation confusion matrix
    cm = np.asarray(insp.evaluation.confusion)
    assert cm.shape == (10, 10) and cm.sum() > 0


def test_the_progress_text_fits_the_bar_and_its_tooltip_says_all(window, qtbot):
    """In a narrow Training dock the bar shows the most that fits on one line (a longer text wrapped
    and was cut off); hovering it shows everything."""
    panel = window.training.panel
    panel._epochs, panel._batches_per_epoch, panel.device_text = 30, 141, "cpu"
    m = {"epoch": 5, "batch": 115, "eta_s": 20, "samples_per_sec": 11784.0}
    fm = panel.progress.fontMetrics()
    shown = {}
    for width in (120, 230, 330, 700):
        panel.progress.setFixedWidth(width)
        panel._show_progress(m)
        text = panel.progress.format()
        assert text.startswith("Epoch 5/30")
        assert fm.horizontalAdvance(text) <= width - 12 or text == "Epoch 5/30"
        shown[width] = text
    assert len(shown[120]) <= len(shown[330]) <= len(shown[700])
    assert shown[700] == "Epoch 5/30 · batch 115/141 · ETA 0:20 · 11,784 samples/s · cpu"
    assert panel.progress.toolTip() == shown[700]


def test_cpu_threads_typed_in_are_used_by_the_run_and_kept_in_the_project(window, qtbot, tmp_path):
    """Fewer CPU threads for a busy machine: typed into their box, used by the run's training
    thread, saved with the project, undone with Ctrl+Z like any setting."""
    import torch

    feat = _setup(window, _npz(tmp_path), epochs=1)
    qtbot.wait(1600)  # the edits above are one undo step of their own
    box = feat.panel.settings.threads
    assert box.value() == 0 and box.text() == "Auto"
    assert feat.panel.settings.config()["num_threads"] is None
    box.setFocus()
    box.selectAll()
    QTest.keyClicks(box, "1")
    QTest.keyClick(box, Qt.Key.Key_Return)
    assert window.graph.training["train"]["num_threads"] == 1
    seen = []  # torch's thread count in the training thread as the run starts
    feat.panel.run_started.connect(lambda: feat.panel.worker.runner.started.connect(
        lambda _info: seen.append(torch.get_num_threads()), Qt.ConnectionType.DirectConnection))
    QTest.keyClick(window, Qt.Key.Key_F5)
    _wait_idle(qtbot, feat)
    assert seen == [1]
    path = tmp_path / "threads.cnnstudio"
    window.answers.save_path = str(path)
    assert window.save_as(str(path))
    assert json.loads(path.read_text())["training"]["train"]["num_threads"] == 1
    window.undo()
    assert box.value() == 0 and window.graph.training["train"]["num_threads"] is None


def test_a_hand_edited_thread_count_reads_as_auto_or_the_most_there_are(window):
    s = window.training.panel.settings
    s.set_config({"num_threads": "many"})
    assert s.threads.value() == 0 and s.config()["num_threads"] is None
    s.set_config({"num_threads": 10_000})
    assert s.config()["num_threads"] == s.threads.maximum() >= 1
