"""Helpers that act on the app as a user would: drops from the palette, mouse drags on ports and
cards, keys; plus ``norm`` to compare graph configs."""
from __future__ import annotations

import copy

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox


def norm(cfg: dict) -> dict:
    """A copy of a graph config for comparison. Exact, order included: undo puts nodes and links
    back at the positions they had."""
    return copy.deepcopy(cfg)


# ------------------------------------------------------------------------------------- helpers
def vp(window, scene_pos) -> QPoint:
    """Viewport coordinates of a scene point."""
    if not isinstance(scene_pos, QPointF):
        scene_pos = QPointF(*scene_pos)
    return window.view.mapFromScene(scene_pos)


def node_pos(window, node_id) -> QPoint:
    return vp(window, window.scene.node_items[node_id].scenePos())


def port_pos(window, node_id, kind="out", index=0) -> QPoint:
    item = window.scene.node_items[node_id]
    port = item.output if kind == "out" else item.inputs[index]
    return vp(window, port.scenePos())


def edge_mid(window, edge) -> QPoint:
    item = window.scene.edge_items[edge]
    return vp(window, item.path().pointAtPercent(0.5))


def drop(window, type_id: str, pos: QPoint) -> None:
    """Deliver drag-enter, drag-move and drop events carrying the palette's mime data, as the
    window system would at the end of a drag from the palette."""
    mime: QMimeData = window.palette_widget.tree.mimeData([window.palette_widget.items[type_id]])
    drop_mime(window, mime, pos)


def drop_mime(window, mime: QMimeData, pos: QPoint) -> None:
    """Qt routes a drop to the widget that accepted the drag-enter, so a drop always follows one."""
    target = window.view.viewport()
    posf = QPointF(pos)
    actions = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(pos, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    move = QDragMoveEvent(pos, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, move)
    ev = QDropEvent(posf, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, ev)
    assert ev.isAccepted()


def mouse_drag(window, start: QPoint, end: QPoint, steps: int = 5, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    target = window.view.viewport()
    QTest.mousePress(target, Qt.MouseButton.LeftButton, modifier, start)
    for i in range(1, steps + 1):
        p = start + (end - start) * (i / steps)
        QTest.mouseMove(target, p)
    QTest.mouseRelease(target, Qt.MouseButton.LeftButton, modifier, end)


def click(window, pos: QPoint, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, modifier, pos)


def key(window, k, modifier=Qt.KeyboardModifier.NoModifier, widget=None) -> None:
    QTest.keyClick(widget or window.view, k, modifier)


Save, Discard, Cancel, Yes, No = (QMessageBox.StandardButton.Save, QMessageBox.StandardButton.Discard, QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No)
