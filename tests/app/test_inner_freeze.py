"""Freezing inside blocks from the Inspector (issue 13), with real clicks and keys: a layer inside an
expanded block gets the Trainable box and LR multiplier (its definition's options: every use changes,
and the box says so), the inner card and the block cards show it, one undo step each; a block's
Trainable box makes every layer inside it trainable (partial or all frozen -> on), the next click
freezes that instance; a mixed selection likewise; a layer frozen by the instance around it is locked
with a note naming that block."""
from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/block_graphs.py

from app_helpers import click, node_pos, norm, vp  # noqa: E402
from block_helpers import CTRL, box_point, group, lenet  # noqa: E402
from block_graphs import residual_graph  # noqa: E402

from cnn_studio.core import blocks  # noqa: E402
from cnn_studio.core.layout import apply_layout  # noqa: E402
from cnn_studio.core.trainable import parameter_counts  # noqa: E402


def two_bodies():
    """residual_graph with r1 c2 bn2 grouped into Body and a second Body instance after r2."""
    g = residual_graph()
    apply_layout(g)
    inst = blocks.group(g, ["r1", "c2", "bn2"], "Body")
    e = next(e for e in g.edges if e.src == "r2")
    g.disconnect(e)
    second = blocks.instantiate(g, "Body", pos=(g.nodes["r2"].pos[0] + 260, g.nodes["r2"].pos[1]))
    g.connect("r2", second)
    g.connect(second, "pool")
    return g, inst, second


def expand_and_click_inner(window, inst, inner_id):
    card = window.scene.node_items[inst]
    window.view.centerOn(card)
    QApplication.processEvents()
    QTest.mouseDClick(window.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vp(window, card.scenePos()))
    QApplication.processEvents()
    card = window.scene.node_items[inst]
    assert card.expanded
    item = card.inner_items[inner_id]
    window.view.centerOn(item)
    QApplication.processEvents()
    click(window, vp(window, item.scenePos()))
    QApplication.processEvents()
    assert window.inspector.inner is not None and window.inspector.node_id == inner_id
    return card


def click_box(qtbot, box):
    qtbot.mouseClick(box.trainable, Qt.MouseButton.LeftButton, pos=box_point(box.trainable))
    QApplication.processEvents()


def test_a_layer_inside_a_shared_block_freezes_and_gets_a_multiplier_from_the_inspector(make_window, qtbot):
    g, inst, second = two_bodies()
    window = make_window(g)
    g = window.graph
    start = norm(g.to_config())
    stack = window.document.undo_stack
    card = expand_and_click_inner(window, inst, "c2")
    box = window.inspector.training_box
    assert box.isVisible() and box.trainable.isEnabled() and box.trainable.isChecked()
    assert box.note.isVisible() and "all 2 uses of Body" in box.note.text()
    n = stack.count()
    click_box(qtbot, box)
    inner = g.blocks["Body"].graph.nodes["c2"]
    assert inner.frozen and stack.count() == n + 1 and not box.trainable.isChecked()
    assert not box.lr_mult.isEnabled()
    card = window.scene.node_items[inst]
    assert card.inner_items["c2"].frozen and not card.inner_items["bn2"].frozen  # the inner card's mark
    c2 = window.document.analysis.nodes[inst].block.nodes["c2"].trainable
    assert parameter_counts(g, window.document.analysis)[1] == 2 * c2  # frozen in both uses
    for nid in (inst, second):  # each block card: partly frozen (c2 of c2, bn2)
        assert "1 of 2 layers with weights frozen" in window.scene.node_items[nid].toolTip()
    assert f"{2 * c2:,} frozen" in window.status_params.toolTip()
    stack.undo()
    QApplication.processEvents()
    assert norm(g.to_config()) == start and box.trainable.isChecked()
    assert not window.scene.node_items[inst].inner_items["c2"].frozen
    # the multiplier by keyboard, one undo step, set in the definition
    spin = box.lr_mult
    spin.setFocus()
    spin.selectAll()
    QTest.keyClicks(spin, "0.1")
    QTest.keyClick(spin, Qt.Key.Key_Return)
    QApplication.processEvents()
    assert g.blocks["Body"].graph.nodes["c2"].lr_mult == 0.1 and stack.count() == n + 1
    assert "lr \u00d70.1" in window.scene.node_items[inst].inner_items["c2"]._texts["params"]
    stack.undo()
    assert norm(g.to_config()) == start


def test_a_layer_of_a_frozen_instance_is_locked_with_a_note(make_window, qtbot):
    g, inst, second = two_bodies()
    g.set_node_training(inst, True)
    window = make_window(g)
    expand_and_click_inner(window, inst, "bn2")
    box = window.inspector.training_box
    assert not box.trainable.isChecked() and not box.trainable.isEnabled()
    assert f"Frozen with block '{inst}' around it" in box.note.text()
    card = window.scene.node_items[inst]
    assert card.inner_items["c2"].frozen and card.inner_items["bn2"].frozen  # inherited from the instance
    # the other use of Body is not frozen
    assert not window.scene.node_items[second].shows_frozen()


def test_a_block_box_makes_every_layer_inside_trainable_then_freezes_the_instance(make_window, qtbot):
    g = lenet()
    g.set_node_training("c1", True)
    window = make_window(g)
    g = window.graph
    box = window.inspector.training_box
    stack = window.document.undo_stack
    inst = group(window, ["c1", "c1_act"], "Stem")  # c1 frozen inside: the box shows all frozen
    start = norm(g.to_config())
    assert box.trainable.checkState() == Qt.CheckState.Unchecked and box.trainable.isEnabled()
    n = stack.count()
    click_box(qtbot, box)  # -> trainable: the definition's c1 is unfrozen
    assert not g.blocks["Stem"].graph.nodes["c1"].frozen and not g.nodes[inst].frozen and stack.count() == n + 1
    assert box.trainable.checkState() == Qt.CheckState.Checked
    assert parameter_counts(g, window.document.analysis)[1] == 0
    assert not window.scene.node_items[inst].shows_frozen()
    click_box(qtbot, box)  # -> frozen: this instance's own option
    assert g.nodes[inst].frozen and not g.blocks["Stem"].graph.nodes["c1"].frozen and stack.count() == n + 2
    assert box.trainable.checkState() == Qt.CheckState.Unchecked and window.scene.node_items[inst].shows_frozen()
    stack.undo()
    stack.undo()
    QApplication.processEvents()
    assert norm(g.to_config()) == start and box.trainable.checkState() == Qt.CheckState.Unchecked


def test_a_partly_frozen_block_and_a_mixed_selection_become_trainable_in_one_step(make_window, qtbot):
    g = lenet()
    g.set_node_training("c1", True)
    g.set_node_training("c5", True)
    window = make_window(g)
    g = window.graph
    box = window.inspector.training_box
    stack = window.document.undo_stack
    inst = group(window, ["c1", "c1_act", "s2", "c3"], "Front")  # c1 frozen, c3 not
    start = norm(g.to_config())
    assert box.trainable.checkState() == Qt.CheckState.PartiallyChecked
    # Ctrl-click c5 (frozen, top level): the selection is still mixed
    window.view.centerOn(window.scene.node_items["c5"])
    QApplication.processEvents()
    click(window, node_pos(window, "c5"), CTRL)
    assert sorted(window.selected_node_ids()) == sorted([inst, "c5"])
    assert box.trainable.checkState() == Qt.CheckState.PartiallyChecked and box.trainable.text() == "Trainable (3 layers)"
    n = stack.count()
    click_box(qtbot, box)
    assert not g.blocks["Front"].graph.nodes["c1"].frozen and not g.nodes["c5"].frozen and stack.count() == n + 1
    assert box.trainable.checkState() == Qt.CheckState.Checked
    assert parameter_counts(g, window.document.analysis)[1] == 0
    click_box(qtbot, box)  # both frozen by their own option
    assert g.nodes[inst].frozen and g.nodes["c5"].frozen and stack.count() == n + 2
    stack.undo()
    stack.undo()
    QApplication.processEvents()
    assert norm(g.to_config()) == start and box.trainable.checkState() == Qt.CheckState.PartiallyChecked


def test_nested_blocks_a_layer_two_levels_down_and_the_inner_block_card(make_window, qtbot):
    from block_graphs import tiny_resnet

    g = tiny_resnet()
    apply_layout(g)
    window = make_window(g)
    g = window.graph
    start = norm(g.to_config())
    stack = window.document.undo_stack
    layer1 = window.scene.node_items["layer1"]
    layer1.set_expanded(True)
    window.scene.node_items["layer1"].inner_items["0"].set_expanded(True)
    QApplication.processEvents()
    nested = window.scene.node_items["layer1"].inner_items["0"]
    conv = nested.inner_items["conv1"]
    window.view.centerOn(conv)
    QApplication.processEvents()
    click(window, vp(window, conv.scenePos()))
    QApplication.processEvents()
    assert window.inspector.inner == ("Basic4", "layer1/0/conv1")
    box = window.inspector.training_box
    assert box.isVisible() and "all 2 uses of Basic4" in box.note.text()
    n = stack.count()
    click_box(qtbot, box)
    assert g.blocks["Basic4"].graph.nodes["conv1"].frozen and stack.count() == n + 1
    nested = window.scene.node_items["layer1"].inner_items["0"]
    assert nested.inner_items["conv1"].frozen
    assert "1 of 4 layers with weights frozen" in nested.toolTip()  # the inner block card: partly frozen
    assert "2 of 8 layers with weights frozen" in window.scene.node_items["layer1"].toolTip()
    # the inner block card's box: partial; a click makes its layers trainable (Basic4's conv1 again)
    window.view.centerOn(nested)
    QApplication.processEvents()
    click(window, vp(window, nested.scenePos() + nested.rect().topLeft() + type(nested.scenePos())(30, 12)))
    QApplication.processEvents()
    assert window.inspector.inner == ("Layer1", "layer1/0")
    assert box.trainable.checkState() == Qt.CheckState.PartiallyChecked
    click_box(qtbot, box)
    assert not g.blocks["Basic4"].graph.nodes["conv1"].frozen and stack.count() == n + 2
    assert box.trainable.checkState() == Qt.CheckState.Checked
    stack.undo()
    stack.undo()
    assert norm(g.to_config()) == start


def test_inside_an_entered_block_the_inspector_freezes_the_definitions_layer(make_window, qtbot):
    from app_helpers import key

    g, inst, second = two_bodies()
    window = make_window(g)
    g = window.graph
    start = norm(g.to_config())
    window.view.centerOn(window.scene.node_items[inst])
    QApplication.processEvents()
    click(window, node_pos(window, inst))
    key(window, Qt.Key.Key_Return)  # enter the block: its definition's layers as cards
    QApplication.processEvents()
    assert window.scene.edit_path == [inst]
    window.view.centerOn(window.scene.node_items["bn2"])
    QApplication.processEvents()
    click(window, node_pos(window, "bn2"))
    QApplication.processEvents()
    box = window.inspector.training_box
    assert window.inspector.inner == ("Body", f"{inst}/bn2") and box.isVisible() and box.trainable.isChecked()
    click_box(qtbot, box)
    assert g.blocks["Body"].graph.nodes["bn2"].frozen and window.scene.node_items["bn2"].frozen
    assert not window.scene.node_items["c2"].frozen
    window.document.undo_stack.undo()
    QApplication.processEvents()
    assert norm(g.to_config()) == start and not window.scene.node_items["bn2"].frozen
    # a frozen instance: entered, its layers show frozen too (the instance's option), the box is locked
    key(window, Qt.Key.Key_Escape)
    QApplication.processEvents()
    assert window.scene.edit_path == []
    g.set_node_training(inst, True)
    window.view.centerOn(window.scene.node_items[inst])
    QApplication.processEvents()
    click(window, node_pos(window, inst))
    key(window, Qt.Key.Key_Return)
    QApplication.processEvents()
    assert window.scene.node_items["c2"].frozen and window.scene.node_items["bn2"].frozen
    window.view.centerOn(window.scene.node_items["c2"])
    QApplication.processEvents()
    click(window, node_pos(window, "c2"))
    QApplication.processEvents()
    assert not box.trainable.isEnabled() and f"block '{inst}'" in box.note.text()
