"""Transfer learning in the app: the Inspector's Trainable checkbox and LR multiplier (real clicks and
keys, one undo step each, undo restores), the frozen mark on the canvas, trainable/frozen counts in
the Summary and the status bar, and Network > Initialise from weights… (the key report first, with
Apply and Cancel; Apply makes F5 start from the matching weights)."""
from __future__ import annotations

import json

import torch
from app_helpers import click, node_pos, norm
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from test_runs_dock import tiny_graph
from test_training_ui import _npz, _setup


def _box_point(checkbox) -> QPoint:
    """Where a user clicks a check box: on its indicator (the widget may be wider than its label)."""
    return QPoint(8, checkbox.height() // 2)


def test_trainable_checkbox_and_lr_multiplier_are_undoable_and_shown(window, qtbot, tmp_path):
    g = window.graph
    start = norm(g.to_config())
    click(window, node_pos(window, "c3"))
    box = window.inspector.training_box
    assert window.inspector.node_id == "c3" and box.isVisible() and box.trainable.isChecked()
    stack = window.document.undo_stack
    n = stack.count()
    qtbot.mouseClick(box.trainable, Qt.MouseButton.LeftButton, pos=_box_point(box.trainable))
    assert g.nodes["c3"].frozen and stack.count() == n + 1
    assert not box.lr_mult.isEnabled()  # a frozen layer does not learn at any rate
    item = window.scene.node_items["c3"]
    assert item.frozen and "\u2744" in item._texts["params"] and "frozen" in item.toolTip()
    c3 = window.document.analysis.nodes["c3"].trainable
    total = window.document.analysis.total_params
    assert f"{c3:,} frozen" in window.status_params.toolTip() and "frozen" in window.status_params.text()
    assert f"{total - c3:,} trainable, {c3:,} frozen" in window.summary.totals.text()
    stack.undo()
    assert not g.nodes["c3"].frozen and box.trainable.isChecked() and box.lr_mult.isEnabled()
    assert not item.frozen and "frozen" not in window.status_params.text() and "frozen" not in window.summary.totals.text()
    stack.redo()
    assert g.nodes["c3"].frozen and not box.trainable.isChecked()
    stack.undo()
    # the multiplier by keyboard: typing "0.1" is one undo step
    spin = box.lr_mult
    spin.setFocus()
    spin.selectAll()
    QTest.keyClicks(spin, "0.1")
    QTest.keyClick(spin, Qt.Key.Key_Return)
    assert g.nodes["c3"].lr_mult == 0.1 and stack.count() == n + 1
    assert "lr \u00d70.1" in item._texts["params"]
    path = tmp_path / "net.cnnstudio"
    from cnn_studio.core.project import load_project, save_project

    save_project(g, path)
    node = {d["id"]: d for d in json.loads(path.read_text())["nodes"]}["c3"]
    assert node["lr_mult"] == 0.1 and "frozen" not in node and "lr_mult" not in {d["id"]: d for d in json.loads(path.read_text())["nodes"]}["c1"]
    assert load_project(path).nodes["c3"].lr_mult == 0.1
    stack.undo()
    assert g.nodes["c3"].lr_mult == 1.0 and spin.value() == 1.0
    assert norm(g.to_config()) == start
    # several layers at once: one click freezes them all, one undo step; the input is left out
    n = stack.index()
    window.select_nodes(["input", "c1", "c3", "f6"])
    assert window.inspector.node_id is None and sorted(box.node_ids) == ["c1", "c3", "f6"] and "3 layers" in box.trainable.text()
    qtbot.mouseClick(box.trainable, Qt.MouseButton.LeftButton, pos=_box_point(box.trainable))
    assert [g.nodes[i].frozen for i in ("c1", "c3", "f6")] == [True] * 3 and stack.index() == n + 1
    assert all(window.scene.node_items[i].frozen for i in ("c1", "c3", "f6"))
    stack.undo()
    assert not any(g.nodes[i].frozen for i in ("c1", "c3", "f6")) and box.trainable.isChecked()
    # layers without weights to train (the input) show no such options
    window.select_nodes(["input"])
    assert not box.isVisible()


def test_initialise_from_weights_shows_the_report_then_f5_starts_from_them(make_window, qtbot, tmp_path):
    w = make_window(tiny_graph("cur"))
    torch.manual_seed(4)
    conv_w, conv_b = torch.randn(6, 3, 3, 3), torch.randn(6)
    four = tmp_path / "four.pt"  # the same features, a classifier for 4 classes
    torch.save({"conv.weight": conv_w, "conv.bias": conv_b, "fc.weight": torch.zeros(4, 96), "fc.bias": torch.zeros(4)}, four)
    feat = w.transfer
    feat.ask_weights_file = lambda: str(four)
    assert feat.act_init in w.network_menu.actions()
    feat.act_init.trigger()
    dlg = feat.dialog
    qtbot.waitExposed(dlg)
    text = dlg.details.toPlainText()
    assert "2 of 4 matched" in text and "fc.weight: file 4x96, network 10x96" in text and "fc.bias: file 4, network 10" in text
    qtbot.mouseClick(dlg.cancel_button, Qt.MouseButton.LeftButton)
    assert feat.pending is None and feat.initial_weights() == {}
    feat.act_init.trigger()
    dlg = feat.dialog
    qtbot.waitExposed(dlg)
    qtbot.mouseClick(dlg.apply_button, Qt.MouseButton.LeftButton)
    assert feat.initial_weights() == {"init_from": str(four), "init_partial": True}
    assert feat.status.isVisible() and "four.pt" in feat.status.text()
    # freeze the conv layer in the Inspector: the run must keep the file's weights bit for bit
    w.select_nodes(["conv"])
    box = w.inspector.training_box
    qtbot.mouseClick(box.trainable, Qt.MouseButton.LeftButton, pos=_box_point(box.trainable))
    assert w.graph.nodes["conv"].frozen
    tr = _setup(w, _npz(tmp_path, n=160, shape=(3, 16, 16)), epochs=1, batch=32)
    tr.panel.settings.threads.setValue(1)
    with qtbot.waitSignal(tr.panel.run_finished, timeout=120_000) as blocker:
        QTest.keyClick(w, Qt.Key.Key_F5)
    summary = blocker.args[0]
    assert summary["stop_reason"] == "finished"
    assert any("left at their initial values: fc.weight, fc.bias" in n for n in summary["notes"])
    last = torch.load(f"{tr.panel.run_dir}/checkpoints/last.pt", weights_only=True)
    assert torch.equal(last["model"]["conv.weight"], conv_w) and torch.equal(last["model"]["conv.bias"], conv_b)
    assert last["train"]["init_partial"] is True and last["train"]["init_from"] == str(four)
    # a new document forgets the applied weights
    w.document.replace(tiny_graph("other"))
    assert feat.initial_weights() == {} and not feat.status.isVisible()
