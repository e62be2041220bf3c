"""Parameter counts that agree in the window (QA defects 1, 2, 10, 12a, 12b), with real clicks and
keys: the Summary footer, the status bar tooltip and the Inspector name the parts of a total
(trainable, frozen, buffers) so they add up, the same after breaking a block's inside (trainable
never above the total) and after freezing a layer inside a shared block; the Trainable box of a layer
without weights is disabled with a note; a block's note names the definition its fields really edit,
only when that definition is shared. Undo restores the counts."""
from __future__ import annotations

from app_helpers import click, key, node_pos
from block_helpers import CTRL, box_point
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from cnn_studio.core import block_edit, project, templates

WHOLE = "21,306,826 parameters: 21,289,802 trainable, 17,024 buffers (running statistics)"
FROZEN = "21,417,610 parameters: 21,289,802 trainable, 110,784 frozen, 17,024 buffers (running statistics)"


def _show_and_click(window, nid):
    window.view.centerOn(window.scene.node_items[nid])
    QApplication.processEvents()
    click(window, node_pos(window, nid))
    QApplication.processEvents()


def _enter(window, nid):
    _show_and_click(window, nid)
    key(window, Qt.Key.Key_Return)
    QApplication.processEvents()


def _counts_shown(window):
    return window.summary.totals.text(), window.status_params.toolTip()


def test_a_broken_block_inside_keeps_trainable_within_the_total(make_window):
    window = make_window(templates.build("resnet34", (3, 32, 32), 10))
    g = window.graph
    start = project.dumps(g)
    totals, tip = _counts_shown(window)
    assert WHOLE in totals and tip == WHOLE
    _enter(window, "layer1")
    _enter(window, "0")
    assert window.scene.edit_path == ["layer1", "0"]
    _show_and_click(window, "bn1")
    key(window, Qt.Key.Key_Delete)
    QApplication.processEvents()
    assert "bn1" not in g.blocks["Basic64"].graph.nodes
    broken = "9,664 parameters: 9,536 trainable, 128 buffers (running statistics)"  # was "9,664 parameters (46,400 trainable)"
    totals, tip = _counts_shown(window)
    assert broken in totals and tip == broken
    key(window, Qt.Key.Key_Z, CTRL)
    QApplication.processEvents()
    assert project.dumps(g) == start
    totals, tip = _counts_shown(window)
    assert WHOLE in totals and tip == WHOLE


def _frozen_inner_conv():
    g = templates.build("resnet34", (3, 32, 32), 10)
    c = block_edit.add_inner_node(g, "Basic64", "conv2d", {"out_channels": 64, "padding": 1})
    block_edit.disconnect_inner(g, "Basic64", "relu1", "conv2")
    block_edit.connect_inner(g, "Basic64", "relu1", c)
    block_edit.connect_inner(g, "Basic64", c, "conv2")
    g.blocks["Basic64"].graph.set_node_training(c, frozen=True)
    return g, c


def test_a_block_card_counts_frozen_inner_layers_and_names_the_definition_it_edits(make_window, qtbot):
    g, c = _frozen_inner_conv()
    window = make_window(g)
    g = window.graph
    start = project.dumps(g)
    totals, tip = _counts_shown(window)
    assert FROZEN in totals and tip == FROZEN
    _show_and_click(window, "layer1")
    stats, box = window.inspector.stats.text(), window.inspector.training_box
    # was "333,504 (332,736 trainable, 768 fixed)"
    assert "333,504: 221,952 trainable, 110,784 frozen, 768 buffers (running statistics)" in stats
    # Layer1 is used once, and all 3 uses of Basic64 are inside it: no "applies to all 3 uses" note
    assert box.trainable.checkState() == Qt.CheckState.PartiallyChecked
    assert not box.note.isVisible() or "uses" not in box.note.text()
    qtbot.mouseClick(box.trainable, Qt.MouseButton.LeftButton, pos=box_point(box.trainable))  # partial -> trains
    QApplication.processEvents()
    assert not g.blocks["Basic64"].graph.nodes[c].frozen
    assert "333,504: 332,736 trainable, 768 buffers (running statistics)" in window.inspector.stats.text()
    unfrozen = "21,417,610 parameters: 21,400,586 trainable, 17,024 buffers (running statistics)"
    assert unfrozen in window.summary.totals.text() and window.status_params.toolTip() == unfrozen
    key(window, Qt.Key.Key_Z, CTRL)
    QApplication.processEvents()
    assert project.dumps(g) == start and FROZEN in window.summary.totals.text()
    assert "110,784 frozen" in window.inspector.stats.text()
    # inside Layer1: instance "0" is a node of Layer1 (used once); Trainable on would also unfreeze the
    # conv in Basic64's other two uses, and the note says that, naming Basic64
    _enter(window, "layer1")
    _show_and_click(window, "0")
    note = window.inspector.training_box.note
    assert window.inspector.inner is not None and window.inspector.inner[1] == "layer1/0"
    assert "111,168: 73,984 trainable, 36,928 frozen, 256 buffers (running statistics)" in window.inspector.stats.text()
    assert note.isVisible() and "Basic64 train in all 3 of its uses" in note.text() and "Layer1" not in note.text()
    # inside Basic64: the conv's own option lives in the shared definition
    _enter(window, "0")
    _show_and_click(window, c)
    assert "36,928: 0 trainable, 36,928 frozen" in window.inspector.stats.text()
    assert note.isVisible() and "Applies to all 3 uses of Basic64" in note.text()


def test_layers_without_weights_have_no_training_options(make_window):
    window = make_window(templates.build("alexnet", (3, 224, 224), 10))
    box = window.inspector.training_box
    _show_and_click(window, "classifier_0")
    assert box.isVisible() and not box.trainable.isEnabled() and not box.lr_mult.isEnabled()
    assert box.note.isVisible() and "Dropout 'classifier_0' has no weights" in box.note.text()
    assert box.trainable.isChecked() and box.lr_mult.value() == 1.0  # its own (default) options, shown as they are
    _show_and_click(window, "classifier_1")  # the Fully connected after it: options back
    assert box.trainable.isEnabled() and box.lr_mult.isEnabled() and "no weights" not in box.note.text()
    # inside a block (ResNet-34's Basic64, entered): its ReLU likewise
    window2 = make_window(templates.build("resnet34", (3, 32, 32), 10))
    _enter(window2, "layer1")
    _enter(window2, "0")
    _show_and_click(window2, "relu1")
    box2 = window2.inspector.training_box
    assert window2.inspector.inner is not None
    assert box2.isVisible() and not box2.trainable.isEnabled() and not box2.lr_mult.isEnabled()
    assert "has no weights" in box2.note.text()
    _show_and_click(window2, "conv1")
    assert box2.trainable.isEnabled() and "no weights" not in box2.note.text()


def test_a_multi_selection_names_its_parts_together(make_window):
    window = make_window(templates.build("resnet34", (3, 32, 32), 10))
    _show_and_click(window, "conv1")
    window.view.centerOn(window.scene.node_items["bn1"])
    QApplication.processEvents()
    click(window, node_pos(window, "bn1"), CTRL)
    QApplication.processEvents()
    assert sorted(window.inspector.selection) == ["bn1", "conv1"]
    assert "Together: 9,664 parameters: 9,536 trainable, 128 buffers (running statistics)" in window.inspector.stats.text()
