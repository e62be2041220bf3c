"""The views wired to a real training run, as the main window will wire them: the TrainingWorker's
feature maps fill the timeline, epoch confusion matrices update the evaluation view, and the run
folder the Trainer writes evaluates to exactly the Trainer's own test confusion matrix."""
import numpy as np
import pytest
from inspect_helpers import TINY_DATA, tiny_graph
from PySide6.QtCore import Qt

from cnn_studio.app.inspect.evaluation import EvaluationView
from cnn_studio.app.inspect.featuremaps import FeatureMapView
from cnn_studio.app.training.worker import TrainingController, TrainingWorker
from cnn_studio.data import DataConfig
from cnn_studio.training import TrainConfig


def test_views_follow_a_training_run(imodel, bundle, view_factory, qtbot, tmp_path, inspect_home, monkeypatch):
    monkeypatch.setenv("CNN_STUDIO_HOME", str(inspect_home))
    fm = view_factory(FeatureMapView, imodel)
    ev = view_factory(EvaluationView, auto_evaluate=False)
    ev.set_class_names(imodel.class_names)
    assert fm.wait_idle()
    fm.set_node("conv1")
    worker = TrainingWorker(tiny_graph().to_config(), DataConfig(**TINY_DATA),
                            TrainConfig(epochs=2, batch_size=64, metrics_interval=0.0), str(tmp_path / "run"),
                            live_maps_interval=0.0)
    # the worker's thread is busy training: pin directly (pin_sample is thread-safe), not queued
    fm.pin_requested.connect(worker.pin_sample, Qt.ConnectionType.DirectConnection)
    worker.feature_maps.connect(fm.add_snapshot)
    worker.epoch_done.connect(ev.update_from_epoch)
    fm.set_training_active(True)
    ctl = TrainingController()
    with qtbot.waitSignal(worker.finished, timeout=120_000) as fin:
        ctl.start(worker)
    assert ctl.shutdown()
    qtbot.wait(150)  # the last queued signals
    fm.set_training_active(False)
    assert fm.snapshot_epochs() == [0, 1, 2]
    assert fm.timeline.isVisible()
    fm.show_epoch(0)
    assert fm.maps.shape == (16, 16, 16) and fm.maps_source == "snapshot"
    before = fm.maps.copy()
    fm.show_epoch(2)
    assert not np.allclose(before, fm.maps)  # training changed the maps
    assert int(ev.confusion.sum()) == len(bundle.val.y)
    assert "epoch 2" in ev.summary.text()

    # the inspection copy of the network, made by the training thread before its first step: its
    # own tensors on the CPU, the network as it started (not as trained)
    snap = worker.runner.inspect_model
    assert snap is not None and snap.model is not worker.trainer.model
    start, trained = next(snap.model.parameters()), next(worker.trainer.model.parameters())
    assert start.device.type == "cpu" and start.data_ptr() != trained.data_ptr()
    assert not np.allclose(start.detach().numpy(), trained.detach().cpu().numpy())

    # the run folder the Trainer wrote: evaluated in the background, same test matrix as the Trainer's
    summary = fin.args[0]
    with qtbot.waitSignal(ev.evaluation_finished, timeout=60_000) as got:
        ev.load_run(summary["run_dir"], "test")
    assert got.args[0]["confusion_matrix"] == summary["test_confusion_matrix"]
    assert got.args[0]["accuracy"] == pytest.approx(summary["test_accuracy"])
