"""Renaming a layer inside a block from the Inspector's id field: the definition's layer is renamed in
every use (its ports kept on it, so the block still works), one undo step restores it; a taken or
invalid id is refused in one line and nothing changes."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app_helpers import norm
from test_inner_freeze import expand_and_click_inner, two_bodies


def _type_id(window, text):
    field = window.inspector.id_edit
    assert not field.isReadOnly()
    field.setFocus()
    field.selectAll()
    QTest.keyClicks(field, text)
    QTest.keyClick(field, Qt.Key.Key_Return)
    QApplication.processEvents()


def test_an_inner_layer_is_renamed_in_its_definition_and_undo_restores_it(make_window, qtbot):
    g, inst, second = two_bodies()
    window = make_window(g)
    g = window.graph
    start = norm(g.to_config())
    params = window.document.analysis.nodes[inst].params
    expand_and_click_inner(window, inst, "r1")  # r1 is where the block's input arrives
    d = g.blocks["Body"]
    assert any(n == "r1" for targets in d.inputs for n, _ in targets)
    n = window.document.undo_stack.count()
    _type_id(window, "entry_relu")
    d = g.blocks["Body"]
    assert "entry_relu" in d.graph.nodes and "r1" not in d.graph.nodes
    assert any(n == "entry_relu" for targets in d.inputs for n, _ in targets)  # the port moved with it
    assert window.document.analysis.ok and window.document.analysis.nodes[second].params == params
    assert window.inspector.node_id == "entry_relu" and window.inspector.inner is not None
    assert window.document.undo_stack.count() == n + 1
    # a taken id is refused, nothing changes
    messages = []
    window.document.message.connect(messages.append)
    _type_id(window, "c2")
    assert messages and "already exists" in messages[-1]
    assert "entry_relu" in g.blocks["Body"].graph.nodes and window.inspector.id_edit.text() == "entry_relu"
    assert window.document.undo_stack.count() == n + 1
    window.document.undo_stack.undo()
    QApplication.processEvents()
    assert norm(g.to_config()) == start
