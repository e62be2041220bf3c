"""Shared steps of the block and training-option app tests: a laid-out LeNet-5, the point to click on a
checkbox's box, and grouping nodes into a named block with real clicks and keys (Ctrl-click, Ctrl+G,
type the name, Enter)."""
from __future__ import annotations

from app_helpers import click, key, node_pos
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from cnn_studio.core import templates
from cnn_studio.core.layout import apply_layout

CTRL = Qt.KeyboardModifier.ControlModifier


def lenet():
    g = templates.build("lenet5_relu", (1, 28, 28), 10)
    apply_layout(g)
    return g


def box_point(checkbox) -> QPoint:
    return QPoint(8, checkbox.height() // 2)


def group(window, ids, name):
    """Select ``ids`` by clicking (Ctrl-click after the first), press Ctrl+G, type ``name`` and Enter;
    returns the new block instance's id."""
    window.scene.clearSelection()
    for i, nid in enumerate(ids):
        window.view.centerOn(window.scene.node_items[nid])
        QApplication.processEvents()
        click(window, node_pos(window, nid), CTRL if i else Qt.KeyboardModifier.NoModifier)
    assert sorted(window.selected_node_ids()) == sorted(ids)
    key(window, Qt.Key.Key_G, CTRL)
    dialog = window.blocks.dialog
    dialog.edit.selectAll()
    QTest.keyClicks(dialog.edit, name)
    QTest.keyClick(dialog.edit, Qt.Key.Key_Return)
    QApplication.processEvents()
    return next(n.id for n in window.graph.nodes.values() if n.type == "block" and n.config["block"] == name)
