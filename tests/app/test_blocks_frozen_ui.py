"""Frozen layers and blocks in the app (QA item 2), with real clicks: grouping a frozen layer keeps it
frozen (the definition's layer, the Summary and status counts, the block card's frozen mark), a partly
frozen block says so in its tooltip, and undo restores the graph exactly."""
from __future__ import annotations

from block_helpers import box_point, group, lenet
from app_helpers import click, node_pos, norm
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from cnn_studio.core.trainable import parameter_counts

def test_grouping_a_frozen_layer_keeps_it_frozen_and_undo_restores(make_window, qtbot):
    window = make_window(lenet())
    g = window.graph
    start = norm(g.to_config())
    window.view.centerOn(window.scene.node_items["c1"])
    QApplication.processEvents()
    click(window, node_pos(window, "c1"))
    box = window.inspector.training_box
    qtbot.mouseClick(box.trainable, Qt.MouseButton.LeftButton, pos=box_point(box.trainable))
    assert g.nodes["c1"].frozen
    c1 = window.document.analysis.nodes["c1"].trainable
    frozen_cfg = norm(g.to_config())
    assert f"{c1:,} frozen" in window.status_params.toolTip()
    inst = group(window, ["c1", "c1_act"], "Stem")
    assert g.blocks["Stem"].graph.nodes["c1"].frozen  # the definition's layer keeps the option
    assert parameter_counts(g, window.document.analysis)[1] == c1
    assert f"{c1:,} frozen" in window.status_params.toolTip() and f"{c1:,} frozen" in window.summary.totals.text()
    item = window.scene.node_items[inst]
    assert item.shows_frozen() and item._texts["params"].startswith("\u2744")  # every layer with weights inside is frozen
    window.document.undo_stack.undo()
    QApplication.processEvents()
    assert norm(g.to_config()) == frozen_cfg and g.nodes["c1"].frozen
    window.document.undo_stack.undo()
    assert norm(g.to_config()) == start


def test_partly_frozen_block_says_so_in_its_tooltip(make_window, qtbot):
    g = lenet()
    g.set_node_training("c1", True)
    window = make_window(g)
    g = window.graph
    inst = group(window, ["c1", "c1_act", "s2", "c3"], "Front")
    item = window.scene.node_items[inst]
    assert not item.shows_frozen() and "1 of 2 layers with weights frozen" in item.toolTip()
