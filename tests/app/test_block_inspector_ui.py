"""A block card's Inspector (QA item 7): its Parameters row, and no "no parameters" line beside it."""
from __future__ import annotations

from app_helpers import click, key, node_pos
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QLabel

from cnn_studio.core import templates
from cnn_studio.core.layout import apply_layout

CTRL = Qt.KeyboardModifier.ControlModifier


def _lenet():
    g = templates.build("lenet5_relu", (1, 28, 28), 10)
    apply_layout(g)
    return g


def _box_point(checkbox) -> QPoint:
    return QPoint(8, checkbox.height() // 2)


def _group(window, ids, name):
    window.scene.clearSelection()
    for i, nid in enumerate(ids):
        window.view.centerOn(window.scene.node_items[nid])
        QApplication.processEvents()
        click(window, node_pos(window, nid), CTRL if i else Qt.KeyboardModifier.NoModifier)
    assert sorted(window.selected_node_ids()) == sorted(ids)
    key(window, Qt.Key.Key_G, CTRL)
    dialog = window.blocks.dialog
    dialog.edit.selectAll()
    from PySide6.QtTest import QTest

    QTest.keyClicks(dialog.edit, name)
    QTest.keyClick(dialog.edit, Qt.Key.Key_Return)
    QApplication.processEvents()
    return next(n.id for n in window.graph.nodes.values() if n.type == "block" and n.config["block"] == name)


def test_block_inspector_shows_its_parameters_not_no_parameters(make_window, qtbot):
    window = make_window(_lenet())
    inst = _group(window, ["c1", "c1_act"], "Stem")
    assert window.selected_node_ids() == [inst]
    texts = [w.text() for w in window.inspector.findChildren(QLabel) if w.isVisible()]
    assert not any("no parameters" in t or "no settings" in t for t in texts), texts
    params = window.document.analysis.nodes[inst].params
    assert params == 6 * (5 * 5 + 1)  # c1's weights, on a 1-channel input
    assert any("<b>Parameters</b></td><td>156<" in t for t in texts), [t for t in texts if "table" in t]
    # a layer without settings says so, without contradicting its Parameters row
    window.select_nodes(["c3_act"])
    QApplication.processEvents()
    texts = [w.text() for w in window.inspector.findChildren(QLabel) if w.isVisible()]
    assert any("no settings" in t for t in texts) and not any("no parameters" in t for t in texts), texts
