"""The Training panel's "Frozen batch norm stays in eval mode" switch (TrainConfig.frozen_bn_eval; the
CLI's --frozen-bn-train), with real clicks: saved with the other training settings (undoable, in the
project file), passed to the run's TrainConfig, recorded in the run's config; off, a frozen batch norm's
running statistics follow the data while its weights stay bit for bit."""
from __future__ import annotations

import json

import torch
from block_helpers import box_point
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from test_training_ui import _npz, _setup

from cnn_studio.core.graph import Graph, chain
from cnn_studio.core.project import load_project, save_project


def bn_net() -> Graph:
    g = Graph("bn net")
    chain(g, [("input", {"channels": 3, "height": 16, "width": 16}, "input"), ("conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, "conv"),
              ("batchnorm2d", {}, "bn"), ("relu", {}, "relu"), ("maxpool2d", {"kernel_size": 4}, "pool"), ("flatten", {}, "flatten"),
              ("linear", {"out_features": 10}, "fc"), ("cross_entropy", {}, "loss")])
    g.set_node_training("bn", True)
    return g


def test_frozen_batch_norm_switch_is_saved_passed_to_the_run_and_recorded(make_window, qtbot, tmp_path):
    w = make_window(bn_net())
    tr = _setup(w, _npz(tmp_path, n=80, shape=(3, 16, 16)), epochs=1, batch=32)
    tr.panel.settings.threads.setValue(1)
    box = tr.panel.settings.frozen_bn_eval
    assert box.isChecked() and "mean and variance" in box.toolTip()  # the default: eval mode, as the CLI
    stack = w.document.undo_stack
    stack.clear()  # the setup's settings edits (settings commands merge for 1.5 s): the click is then one step alone
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=box_point(box))
    QApplication.processEvents()
    assert not box.isChecked() and tr.panel.settings.config()["frozen_bn_eval"] is False
    assert w.graph.training["train"]["frozen_bn_eval"] is False and stack.count() == 1
    stack.undo()
    assert box.isChecked() and w.graph.training["train"].get("frozen_bn_eval", True) is True
    assert w.graph.training["train"]["epochs"] == 1  # the other settings are as they were
    stack.redo()
    assert not box.isChecked()
    path = save_project(w.graph, tmp_path / "net.cnnstudio")
    assert load_project(path).training["train"]["frozen_bn_eval"] is False
    with qtbot.waitSignal(tr.panel.run_finished, timeout=120_000) as blocker:
        QTest.keyClick(w, Qt.Key.Key_F5)
        assert tr.panel.worker.runner.train_config.frozen_bn_eval is False  # what the worker got
    summary = blocker.args[0]
    assert summary["stop_reason"] == "finished"
    run = tr.panel.run_dir
    assert json.loads(open(f"{run}/config.json").read())["train"]["frozen_bn_eval"] is False
    frozen_note = next(n for n in summary["notes"] if n.startswith("frozen: bn"))
    assert "eval mode" not in frozen_note
    model = torch.load(f"{run}/checkpoints/last.pt", weights_only=True)["model"]
    assert torch.equal(model["bn.weight"], torch.ones(4)) and torch.equal(model["bn.bias"], torch.zeros(4))  # frozen
    assert not torch.equal(model["bn.running_mean"], torch.zeros(4))  # train mode: its statistics followed the data
