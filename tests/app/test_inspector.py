"""The inspector: keyboard edits of parameters (one undo step per edit), rename, errors on the node."""
from __future__ import annotations

from app_helpers import click, node_pos, norm
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest


def test_edit_filters_by_keyboard_is_one_undo_step(window):
    g = window.graph
    start = norm(g.to_config())
    click(window, node_pos(window, "c3"))
    assert window.inspector.node_id == "c3"
    spin = window.inspector.editors["out_channels"].spin
    assert (spin.minimum(), spin.maximum()) == (1, 65536)
    spin.setFocus()
    spin.selectAll()
    QTest.keyClicks(spin, "32")
    QTest.keyClick(spin, Qt.Key.Key_Return)
    assert g.nodes["c3"].config["out_channels"] == 32
    # re-analysed at once: the card and the summary show the new parameter count
    info = window.document.analysis.nodes["c3"]
    assert info.output_shape == (32, 10, 10) and info.params == 32 * 6 * 25 + 32
    assert window.scene.node_items["c3"].info.params == info.params
    stack = window.document.undo_stack
    assert stack.count() == 1  # typing '3' then '2' merged into one step
    # arrow-key ticks in the same editing session merge too; a new session is a new step
    QTest.keyClick(spin, Qt.Key.Key_Up)
    QTest.keyClick(spin, Qt.Key.Key_Up)
    assert g.nodes["c3"].config["out_channels"] == 34
    assert stack.count() == 2
    stack.undo()
    assert g.nodes["c3"].config["out_channels"] == 32 and spin.value() == 32
    stack.undo()
    assert g.nodes["c3"].config["out_channels"] == 16 and spin.value() == 16
    assert norm(g.to_config()) == start
    stack.redo()
    assert g.nodes["c3"].config["out_channels"] == 32


def test_every_editor_kind_writes_the_model(window):
    g = window.graph
    window.select_nodes(["c1"])
    ins = window.inspector
    # pair: split kernel into h x w
    kernel = ins.editors["kernel_size"]
    kernel.split.click()
    kernel.w.setValue(3)
    assert g.nodes["c1"].config["kernel_size"] == [5, 3]
    # padding: named mode
    ins.editors["padding"].mode.setCurrentText("same")
    assert g.nodes["c1"].config["padding"] == "same"
    # bool and choice
    ins.editors["bias"].box.click()
    assert g.nodes["c1"].config["bias"] is False
    ins.editors["padding_mode"].combo.setCurrentText("reflect")
    assert g.nodes["c1"].config["padding_mode"] == "reflect"
    # float on another layer; optional pair (pool stride) shows 'none' as '= kernel'
    window.select_nodes(["s2"])
    stride = ins.editors["stride"]
    assert stride.value() is None and stride.h.text() == "= kernel"
    stack = window.document.undo_stack
    n = stack.count()
    stride.h.setValue(1)
    assert g.nodes["s2"].config["stride"] == 1 and stack.count() == n + 1
    # back to where the session began: the merged step cancels out and leaves the stack
    stride.h.setValue(stride.h.minimum())
    assert g.nodes["s2"].config["stride"] is None and stack.count() == n


def test_float_editor_takes_scientific_notation(qtbot):
    from cnn_studio.app.inspector import make_editor
    from cnn_studio.core.layers import get_spec

    ed = make_editor(get_spec("batchnorm2d").param("eps"))
    qtbot.addWidget(ed)
    got = []
    ed.edited.connect(got.append)
    ed.set_value(1e-5)
    assert ed.spin.text() == "1e-05" and got == []
    ed.spin.lineEdit().selectAll()
    QTest.keyClicks(ed.spin, "0.001")
    assert got[-1] == 0.001


def test_rename_in_inspector_and_undo(window):
    g = window.graph
    start = norm(g.to_config())
    window.select_nodes(["c3"])
    edit = window.inspector.id_edit
    edit.setFocus()
    edit.selectAll()
    QTest.keyClicks(edit, "conv2")
    QTest.keyClick(edit, Qt.Key.Key_Return)
    assert "conv2" in g.nodes and "c3" not in g.nodes
    assert g.edge_into("conv2", 0).src == "s2" and g.out_edges("conv2")[0].dst == "c3_act"
    assert window.selected_node_ids() == ["conv2"] and window.inspector.node_id == "conv2"
    # a clashing id is refused with a message and the field goes back
    edit.selectAll()
    QTest.keyClicks(edit, "c1")
    QTest.keyClick(edit, Qt.Key.Key_Return)
    assert "c1" in window.statusBar().currentMessage() and edit.text() == "conv2"
    window.document.undo_stack.undo()
    assert norm(g.to_config()) == start


def test_invalid_parameter_marks_the_node_and_lists_the_issue(window):
    window.select_nodes(["c5"])
    spin = window.inspector.editors["kernel_size"].h
    spin.setFocus()
    spin.selectAll()
    QTest.keyClicks(spin, "9")
    QTest.keyClick(spin, Qt.Key.Key_Return)
    item = window.scene.node_items["c5"]
    assert item.severity == "error"
    assert "larger than its padded input" in item.toolTip()
    assert "\u26a0" in item._texts["shape"]
    # the error colour is used for the card, and the issue is listed and clickable
    a = window.document.analysis
    assert not a.ok and any(i.node_id == "c5" for i in a.errors)
    assert window.issues.list.count() >= 1
    assert "c5" in window.status_errors.text() or "error" in window.status_errors.text()
    window.select_nodes([])
    first = window.issues.list.item(0)
    window.issues.list.itemClicked.emit(first)
    assert window.selected_node_ids() == [first.data(Qt.ItemDataRole.UserRole + 1)]
    # downstream layers carry no error of their own; the summary shows '?' for them
    assert window.scene.node_items["flatten"].severity is None
    window.document.undo_stack.undo()
    assert item.severity is None and window.document.analysis.ok
    assert window.issues.list.count() == 0
