"""The Inspector's Trainable box (QA item 6), with real clicks: partial for a mixed selection (a click
makes all trainable, the next freezes all, undo restores), its count names only layers with weights,
and for a block it follows the layers inside."""
from __future__ import annotations

from block_helpers import CTRL, box_point, group, lenet
from app_helpers import click, node_pos, norm
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication


def test_trainable_box_is_partial_for_a_mixed_selection_and_counts_layers_with_weights(make_window, qtbot):
    g = lenet()
    g.set_node_training("c1", True)
    window = make_window(g)
    g = window.graph
    start = norm(g.to_config())
    window.view.centerOn(window.scene.node_items["c1"])
    QApplication.processEvents()
    click(window, node_pos(window, "c1"))
    click(window, node_pos(window, "c1_act"), CTRL)
    click(window, node_pos(window, "c3"), CTRL)
    box = window.inspector.training_box
    assert box.trainable.checkState() == Qt.CheckState.PartiallyChecked
    assert box.trainable.text() == "Trainable (2 layers)"  # c1_act has no weights
    n = window.document.undo_stack.count()
    qtbot.mouseClick(box.trainable, Qt.MouseButton.LeftButton, pos=box_point(box.trainable))  # partial -> trainable
    assert not g.nodes["c1"].frozen and not g.nodes["c3"].frozen and window.document.undo_stack.count() == n + 1
    assert box.trainable.checkState() == Qt.CheckState.Checked
    qtbot.mouseClick(box.trainable, Qt.MouseButton.LeftButton, pos=box_point(box.trainable))  # -> frozen
    assert g.nodes["c1"].frozen and g.nodes["c3"].frozen and box.trainable.checkState() == Qt.CheckState.Unchecked
    window.document.undo_stack.undo()
    window.document.undo_stack.undo()
    assert norm(g.to_config()) == start and box.trainable.checkState() == Qt.CheckState.PartiallyChecked
    # everything selected: 5 layers have weights (c1, c3, c5, f6, output)
    window.select_nodes(list(g.nodes))
    QApplication.processEvents()
    assert box.trainable.text() == "Trainable (5 layers)"

def test_trainable_box_of_blocks_follows_the_layers_inside(make_window, qtbot):
    g = lenet()
    g.set_node_training("c1", True)
    window = make_window(g)
    box = window.inspector.training_box
    inst = group(window, ["c1", "c1_act"], "Stem")  # every layer with weights inside is frozen
    assert window.selected_node_ids() == [inst] and box.trainable.checkState() == Qt.CheckState.Unchecked
    assert box.trainable.text() == "Trainable"
    window.document.undo_stack.undo()
    QApplication.processEvents()
    inst = group(window, ["c1", "c1_act", "s2", "c3"], "Front")  # c1 frozen, c3 not
    assert box.trainable.checkState() == Qt.CheckState.PartiallyChecked
    assert box.trainable.text() == "Trainable (2 layers)"
