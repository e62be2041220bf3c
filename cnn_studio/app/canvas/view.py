"""The canvas view: zoom (wheel, Ctrl+/Ctrl-), pan (middle mouse, or Space + drag), fit (Ctrl+0),
rubber-band selection, and drops from the layer palette.

Drops are handled here, on the view, and reduce to :meth:`CanvasScene.drop_layer`. A test delivers a
real ``QDropEvent`` carrying the palette's own mime data (``PaletteWidget.mime_for``) to the
viewport at a chosen point; QTest cannot drive the nested event loop of ``QDrag.exec``.
"""
from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QGraphicsView

from ...core.project import SUFFIX
from ..edits import LAYER_MIME
from .scene import CanvasScene

ZOOM_MIN, ZOOM_MAX = 0.03, 3.0  # 3 %: Fit to View holds a flat ResNet-18 (7,000 px tall) in a short canvas
READABLE_ZOOM = 0.8  # a network that opens: card text reads comfortably
# Fit to View (Ctrl+0) shows the whole network, however small that makes it (down to ZOOM_MIN): it
# is what the user asked for. Opening a network (fit(readable=True)) goes no lower than
# READABLE_ZOOM and shows the input end of a large network instead.
FIT_MIN_ZOOM = ZOOM_MIN


def layer_type_from_mime(mime) -> str | None:
    if mime is None or not mime.hasFormat(LAYER_MIME):
        return None
    return bytes(mime.data(LAYER_MIME)).decode("utf-8", "replace").strip() or None


def project_paths_from_mime(mime) -> list[str]:
    if mime is None or not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile().endswith(SUFFIX)]


class CanvasView(QGraphicsView):
    zoom_changed = Signal(float)
    project_dropped = Signal(str)

    def __init__(self, scene: CanvasScene, parent=None) -> None:
        super().__init__(scene, parent)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState, True)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setObjectName("canvas")
        self._pan_from: QPoint | None = None
        self._space = False
        self.context_actions: list = []  # set by the main window: shown on right-click
        from .breadcrumb import BreadcrumbBar

        self.breadcrumb = BreadcrumbBar(scene, self)  # shown while a block's inside is edited
        scene.edit_path_changed.connect(self._on_scene_edit_path_changed)

    def _on_scene_edit_path_changed(self, path: list) -> None:
        """Entering or leaving a block: the breadcrumb takes a strip above the canvas; show the level
        whole, readable (centred on the block just left)."""
        self._place_breadcrumb()
        self.fit(readable=True)
        from .items import NodeItem

        sel = [i for i in self.scene().selectedItems() if isinstance(i, NodeItem)]  # inner levels too
        if len(sel) == 1:
            self.centerOn(sel[0])

    def contextMenuEvent(self, event) -> None:
        if not self.context_actions:
            return super().contextMenuEvent(event)
        from PySide6.QtWidgets import QMenu

        from .items import EdgeItem, NodeItem, PortItem

        scene = self.scene()
        target = scene.target_at(self.mapToScene(event.pos()))
        if isinstance(target, PortItem):
            target = target.node
        if isinstance(target, (NodeItem, EdgeItem)) and not target.isSelected():
            scene.clearSelection()
            target.setSelected(True)
        menu = QMenu(self)
        for a in self.context_actions:
            if a is None:
                menu.addSeparator()
            else:
                menu.addAction(a)
        menu.exec(event.globalPos())
        event.accept()

    def _place_breadcrumb(self) -> None:
        bar = self.breadcrumb
        if bar.isVisible():
            h = bar.sizeHint().height()
            self.setViewportMargins(0, h, 0, 0)
            sb = self.verticalScrollBar()
            w = self.width() - 2 * self.frameWidth() - (sb.width() if sb.isVisible() else 0)  # the scroll bar runs to the top
            bar.setGeometry(self.frameWidth(), self.frameWidth(), w, h)
        else:
            self.setViewportMargins(0, 0, 0, 0)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place_breadcrumb()

    # ------------------------------------------------------------------ zoom
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, z: float, anchor_view: QPoint | None = None) -> None:
        z = max(ZOOM_MIN, min(ZOOM_MAX, z))
        factor = z / self.zoom()
        if abs(factor - 1) < 1e-6:
            return
        if anchor_view is None:
            old = self.transformationAnchor()
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
            self.scale(factor, factor)
            self.setTransformationAnchor(old)
        else:
            self.scale(factor, factor)
        self.zoom_changed.emit(self.zoom())

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom() * 1.25)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom() / 1.25)

    def fit(self, readable: bool = False) -> None:
        """Show every layer (at most at 100 %, at least at ZOOM_MIN). With ``readable`` (a network
        that opens, a block entered or left) go no lower than READABLE_ZOOM: a network larger than
        the view at that zoom shows its input end first (the top, and the input's column when it
        is too wide as well)."""
        rect = self.scene().itemsBoundingRect()
        if rect.isNull():
            return
        rect = rect.adjusted(-30, -30, 30, 30)
        vp = self.viewport().rect()
        if vp.width() < 10 or vp.height() < 10:
            return
        z = min(vp.width() / rect.width(), vp.height() / rect.height(), 1.0)
        z = max(z, READABLE_ZOOM if readable else FIT_MIN_ZOOM)
        z = max(ZOOM_MIN, min(ZOOM_MAX, z))
        self.resetTransform()
        self.scale(z, z)
        visible_w, visible_h = vp.width() / z, vp.height() / z
        cx, cy = rect.center().x(), rect.center().y()
        if rect.height() > visible_h:
            cy = rect.top() + visible_h / 2
        if rect.width() > visible_w:
            top = self._input_end()
            cx = top.x() if top is not None else rect.left() + visible_w / 2
        self.centerOn(cx, cy)
        self.zoom_changed.emit(self.zoom())

    def _input_end(self) -> QPointF | None:
        """The centre of the topmost layer card (where a network's input is)."""
        items = list(getattr(self.scene(), "node_items", {}).values())
        if not items:
            return None
        top = min(items, key=lambda it: (it.sceneBoundingRect().top(), it.sceneBoundingRect().left()))
        return top.sceneBoundingRect().center()

    def center_on_node(self, node_id: str) -> None:
        item = self.scene().node_items.get(node_id)
        if item is not None:
            self.centerOn(item)

    def wheelEvent(self, event) -> None:
        dy = event.angleDelta().y()
        if dy == 0:
            return super().wheelEvent(event)
        self.set_zoom(self.zoom() * (1.0015 ** dy), event.position().toPoint())
        event.accept()

    # ------------------------------------------------------------------ pan
    def _start_pan(self, pos: QPoint) -> None:
        self._pan_from = pos
        self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.MiddleButton or (self._space and event.button() == Qt.MouseButton.LeftButton):
            self._start_pan(event.position().toPoint())
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._pan_from is not None:
            p = event.position().toPoint()
            d = p - self._pan_from
            self._pan_from = p
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - d.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - d.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event) -> None:
        scene = self.scene()
        if event.key() == Qt.Key.Key_Escape and scene.edit_path and scene._link is None:
            scene.leave_block()  # up one level from a block's inside
            event.accept()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and scene.selected_block_path() is not None:
            scene.enter_block(scene.selected_block_path())  # edit the selected block's inside
            event.accept()
            return
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self._pan_from = None
            self.viewport().unsetCursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event) -> None:
        self._space = False
        super().focusOutEvent(event)

    # ------------------------------------------------------------------ drops from the palette
    def dragEnterEvent(self, event) -> None:
        mime = event.mimeData()
        if layer_type_from_mime(mime) and not self.scene().read_only:
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        elif project_paths_from_mime(mime):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        mime = event.mimeData()
        if layer_type_from_mime(mime) and not self.scene().read_only:
            self.scene().highlight_drop_target(self.mapToScene(event.position().toPoint()))
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        elif project_paths_from_mime(mime):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dragLeaveEvent(self, event) -> None:
        self.scene().clear_drop_highlight()
        event.accept()

    def dropEvent(self, event) -> None:
        mime = event.mimeData()
        type_id = layer_type_from_mime(mime)
        if type_id:
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            self.setFocus()
            self.scene().drop_layer(type_id, self.mapToScene(event.position().toPoint()))
            return
        paths = project_paths_from_mime(mime)
        if paths:
            event.accept()
            self.project_dropped.emit(paths[0])
            return
        event.ignore()

    def visible_scene_rect(self) -> QRectF:
        return self.mapToScene(self.viewport().rect()).boundingRect()

    def map_scene_to_viewport(self, p: QPointF) -> QPoint:
        return self.mapFromScene(p)
