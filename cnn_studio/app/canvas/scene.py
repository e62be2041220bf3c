"""The canvas scene: mirrors the document's graph from its events and turns gestures into undo
commands (Orange's scheme / scene / commands split).

Structure follows ``graph.events`` one item at a time (never a rebuild on an edit; only
``graph_reset`` rebuilds); shapes, parameter counts, issues and link labels follow
``Document.analysis_changed`` and touch only the items whose text or colour changed.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QPainter, QPen, QTransform
from PySide6.QtWidgets import QGraphicsScene

from ...core.errors import GraphEditError
from ...core.graph import Edge
from ...core.layers import fmt_shape
from .. import edits, theme
from ..commands import delete_command
from ..document import Document
from ...core.block_spec import BLOCK_TYPE
from ..block_commands import LIBRARY_PREFIX
from .block_item import BLOCK_H, BlockItem
from .inner_edit import BlockPortCard, InnerEditMixin
from .links import LinkMixin
from .items import NODE_W, EdgeItem, LinkDragItem, NodeItem, PortItem

GRID = 24.0
SCENE_MARGIN = 1500.0


class CanvasScene(InnerEditMixin, LinkMixin, QGraphicsScene):
    node_activated = Signal(str)  # double-click on a card
    selection_ids_changed = Signal(list)  # ids of the selected nodes
    inner_selected = Signal(str, str, str)  # one layer inside an expanded block: definition, inner id, path
    edit_path_changed = Signal(list)  # the entered block instances (inner_edit.py); [] at the network level

    def __init__(self, document: Document, parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self.top = document.graph
        self.edit_path: list[str] = []  # instance ids from the top while a block's inside is edited
        self._layout_pos: dict = {}
        self._built_key = None
        self.node_items: dict[str, NodeItem] = {}
        self.edge_items: dict[Edge, EdgeItem] = {}
        self.read_only = False
        self._link: dict | None = None
        self._link_item: LinkDragItem | None = None
        self._highlight = None
        self._applying_selection = False
        self.expanded_blocks: set[str] = set()  # paths of expanded block instances (block_item.py)
        self._handlers = []
        for name in ("node_added", "node_removed", "node_changed", "node_moved", "edge_added", "edge_removed", "graph_reset", "block_changed"):
            fn = getattr(self, f"_on_graph_{name}")
            if name not in ("graph_reset", "block_changed"):
                fn = self._top_level_only(fn)
            self.top.events.connect(name, fn)
            self._handlers.append((name, fn))
        document.analysis_changed.connect(self._on_document_analysis_changed)
        self.selectionChanged.connect(self._on_scene_selection_changed)
        self._rect_timer = QTimer(self)
        self._rect_timer.setSingleShot(True)
        self._rect_timer.setInterval(0)
        self._rect_timer.timeout.connect(self.update_scene_rect)
        self._card_rects = None
        self._bulk = False
        self._reroute_timer = QTimer(self)
        self._reroute_timer.setSingleShot(True)
        self._reroute_timer.setInterval(0)
        self._reroute_timer.timeout.connect(self.reroute_links)
        self._rebuild()

    @property
    def graph(self):
        """The graph shown: the network, or the inner graph of the block being edited (inner_edit.py)."""
        if self.edit_path:
            name = self.current_block()
            if name is not None:
                return self.top.blocks[name].graph
        return self.top

    def _top_level_only(self, fn):
        def handler(*args):
            if not self.edit_path:  # while a block's inside is shown, network edits wait for the way back up
                fn(*args)
        return handler

    def close(self) -> None:
        self._reroute_timer.stop()
        for name, fn in self._handlers:
            self.top.events.disconnect(name, fn)
        self._handlers.clear()
        try:
            self.document.analysis_changed.disconnect(self._on_document_analysis_changed)
        except (RuntimeError, TypeError):
            pass

    # ------------------------------------------------------------------ mirror the model
    def _rebuild(self) -> None:
        self._cancel_link()
        # forget the items before deleting them: clear() emits selectionChanged, whose listeners may
        # re-analyse (a structural undo of a block op) and would reach deleted items through the dicts
        # ... but keep the Python side of the items alive until clear() is done: a wrapper collected
        # before its item is deleted comes back from selectedItems() without its attributes
        old = list(self.node_items.values()) + list(self.edge_items.values())
        self.node_items.clear()
        self.edge_items.clear()
        self._highlight = None
        self.clear()
        del old
        entered = list(self.edit_path)
        self._valid_edit_path()
        self._bulk = True
        try:
            if self.edit_path:
                self._rebuild_inner()
            else:
                for node in self.graph.nodes.values():
                    self._on_graph_node_added(node)
                for e in self.graph.edges:
                    self._on_graph_edge_added(e)
            self._apply_analysis(self.document.analysis)
            self.apply_block_offsets()
        finally:
            self._bulk = False
        self.reroute_links()
        self.update_scene_rect()
        if self.edit_path != entered:  # an undo (or Open) took the entered block away: the breadcrumb follows
            self.edit_path_changed.emit(list(self.edit_path))

    # ------------------------------------------------------------------ link routing (routing.py)
    def forget_card_rects(self) -> None:
        self._card_rects = None

    def card_rects(self, *exclude) -> list[QRectF]:
        """The scene rectangles of the cards shown (an expanded frame is one), but ``exclude``:
        what a link is routed around. Cached until a card moves or the cards change."""
        cache = getattr(self, "_card_rects", None)
        if cache is None:
            cache = self._card_rects = [(it, it.mapRectToScene(it.shape().boundingRect())) for it in self.node_items.values()]
        return [r for it, r in cache if it not in exclude]

    def reroute_links(self) -> None:
        """Recompute every link's path against the cards as they now stand (after a rebuild, a
        card added, removed or moved, a frame expanded)."""
        self._card_rects = None
        if getattr(self, "_bulk", False):
            return  # _rebuild routes once at its end
        self._reroute_timer.stop()
        for item in self.edge_items.values():
            item.update_path()

    def apply_block_offsets(self) -> None:
        """Make room for expanded blocks without moving the model: an expanded frame is HEIGHT taller
        than its card, so it sits HEIGHT/2 lower and every card below it is drawn HEIGHT lower
        (``item.view_dy``; commit_moves subtracts it, so a drag still stores model positions)."""
        nodes = self.graph.nodes
        offs = {nid: 0.0 for nid in self.node_items if nid in nodes}
        model_pos = {nid: (self._layout_pos.get(nid, nodes[nid].pos) if self.edit_path else nodes[nid].pos) for nid in offs}
        grown = [it for it in self.node_items.values() if isinstance(it, BlockItem) and it.expanded and it.node_id in offs]
        for b in sorted(grown, key=lambda it: model_pos[it.node_id][1]):
            extra = b._h - BLOCK_H
            by = model_pos[b.node_id][1]
            offs[b.node_id] += extra / 2
            for nid in offs:
                if nid != b.node_id and model_pos[nid][1] > by + 1:
                    offs[nid] += extra
        for nid, dy in offs.items():
            item = self.node_items[nid]
            item.view_dy = dy
            x, y = model_pos[nid]
            p = QPointF(x, y + dy)
            if item.pos() != p:
                item.setPos(p)
        self.reroute_links()
        self._rect_timer.start()

    def schedule_reroute(self) -> None:
        """Reroute every link once the current burst of changes is over (a commit of many moves)."""
        self._card_rects = None
        self._reroute_timer.start()

    def _on_graph_graph_reset(self) -> None:
        self._rebuild()

    def _on_graph_block_changed(self, name: str) -> None:
        if self.edit_path:
            self._inner_block_changed(name)
            return
        for item in self.node_items.values():
            if isinstance(item, BlockItem):
                item.refresh_inside()

    def _on_graph_node_added(self, node) -> None:
        if node.type == BLOCK_TYPE:
            item = BlockItem(node.id, node.type, node.config, self.graph, self.expanded_blocks)
        else:
            item = NodeItem(node.id, node.type, node.config)
        item.setPos(QPointF(*node.pos))
        if self.read_only:
            item.setFlag(NodeItem.GraphicsItemFlag.ItemIsMovable, False)
        self.addItem(item)
        self.node_items[node.id] = item
        if self.expanded_blocks:
            self.apply_block_offsets()
        self.schedule_reroute()
        self._rect_timer.start()

    def _on_graph_node_removed(self, node) -> None:
        item = self.node_items.pop(node.id, None)
        if item is not None:
            if self._highlight is item:
                self._highlight = None
            self.removeItem(item)
        self.schedule_reroute()
        self._rect_timer.start()

    def _on_graph_node_changed(self, node) -> None:
        item = self.node_items.get(node.id)
        if item is not None:
            item.set_config(node.config)
            for e in list(item.edges):
                e.update_path()

    def _on_graph_node_moved(self, node) -> None:
        item = self.node_items.get(node.id)
        if item is not None:
            p = QPointF(*node.pos) + QPointF(0, getattr(item, "view_dy", 0.0))
            if item.pos() != p:
                item.setPos(p)
            if any(isinstance(i, BlockItem) and i.expanded for i in self.node_items.values()):
                self.apply_block_offsets()
        self.schedule_reroute()
        self._rect_timer.start()

    def _on_graph_edge_added(self, edge: Edge) -> None:
        src, dst = self.node_items.get(edge.src), self.node_items.get(edge.dst)
        if src is None or dst is None:
            return
        item = EdgeItem(edge, src, dst)
        info = self.document._analysis.nodes.get(edge.src)  # label may lag one analysis; refreshed right after
        item.set_label(fmt_shape(info.output_shape) if info and info.output_shape else "")
        self.addItem(item)
        self.edge_items[edge] = item
        if not getattr(self, "_bulk", False):
            item.update_path()  # now in the scene: around the cards
        self._update_port_state(dst)
        self._update_port_state(src)

    def _on_graph_edge_removed(self, edge: Edge) -> None:
        item = self.edge_items.pop(edge, None)
        if item is not None:
            item.detach()
            if self._highlight is item:
                self._highlight = None
            self.removeItem(item)
            self._update_port_state(item.dst)
            self._update_port_state(item.src)

    def _update_port_state(self, node_item: NodeItem) -> None:
        if node_item.scene() is not self:
            return
        for port in node_item.inputs:
            connected = self._edge_into(node_item.node_id, port.index) is not None
            if port.connected != connected:
                port.connected = connected
                port.update()
        if node_item.output is not None:
            connected = any(e.edge.src == node_item.node_id for e in node_item.edges)
            if node_item.output.connected != connected:
                node_item.output.connected = connected
                node_item.output.update()

    def _on_document_analysis_changed(self, analysis) -> None:
        self._apply_analysis(analysis)

    def _edge_into(self, node_id: str, port: int) -> Edge | None:
        if self.edit_path:
            return self.inner_edge_into(node_id, port)
        return self.graph.edge_into(node_id, port) if node_id in self.graph.nodes else None

    def _apply_analysis(self, analysis) -> None:
        if self.edit_path:
            self._apply_inner_analysis()
            return
        by_node: dict[str, list] = {}
        for issue in analysis.issues:
            if issue.node_id is not None:
                by_node.setdefault(issue.node_id, []).append(issue)
        for nid, item in self.node_items.items():
            item.set_info(analysis.nodes.get(nid), by_node.get(nid, ()))
        for edge, item in self.edge_items.items():
            info = analysis.nodes.get(edge.src)
            item.set_label(fmt_shape(info.output_shape) if info and info.output_shape else "")

    def update_scene_rect(self) -> None:
        r = self.itemsBoundingRect()
        if r.isNull():
            r = QRectF(-400, -300, 800, 600)
        self.setSceneRect(r.adjusted(-SCENE_MARGIN, -SCENE_MARGIN, SCENE_MARGIN, SCENE_MARGIN))

    def apply_theme(self) -> None:
        for item in self.items():
            item.update()
        self.invalidate(self.sceneRect(), QGraphicsScene.SceneLayer.BackgroundLayer)
        self.update()

    # ------------------------------------------------------------------ selection
    def selected_node_ids(self) -> list[str]:
        return [i.node_id for i in self.selectedItems() if isinstance(i, NodeItem) and getattr(i, "inner_of", None) is None]

    def selected_edges(self) -> list[Edge]:
        return [i.edge for i in self.selectedItems() if isinstance(i, EdgeItem)]

    def select_nodes(self, ids, clear: bool = True) -> None:
        self._applying_selection = True
        try:
            if clear:
                self.clearSelection()
            for nid in ids:
                item = self.node_items.get(nid)
                if item is not None:
                    item.setSelected(True)
        finally:
            self._applying_selection = False
        self._on_scene_selection_changed()

    def _on_scene_selection_changed(self) -> None:
        if not self._applying_selection:
            self.selection_ids_changed.emit(self.selected_node_ids())
            inner = [i for i in self.selectedItems() if getattr(i, "inner_of", None) is not None]
            if len(inner) == 1 and not self.selected_node_ids():
                self.inner_selected.emit(inner[0].inner_of, inner[0].node_id, inner[0].path)

    # ------------------------------------------------------------------ read-only
    def set_read_only(self, on: bool) -> None:
        self.read_only = on
        for item in self.node_items.values():
            item.setFlag(NodeItem.GraphicsItemFlag.ItemIsMovable, not on and not getattr(item, "pseudo", False))

    def _refuse_if_read_only(self) -> bool:
        if self.read_only:
            self.document.message.emit("The network is locked while it is in use (e.g. training)")
        return self.read_only

    # ------------------------------------------------------------------ hit testing
    def target_at(self, pos: QPointF):
        """The port, card or link under ``pos`` (ports first), or None."""
        found_node = found_edge = None
        for item in self.items(pos, Qt.ItemSelectionMode.IntersectsItemShape, Qt.SortOrder.DescendingOrder, QTransform()):
            if not item.isVisible() or item is self._link_item:
                continue
            if isinstance(item, PortItem):
                return item
            if isinstance(item, NodeItem) and (getattr(item, "inner_of", None) is None or getattr(item, "edit_item", False)) and found_node is None:
                found_node = item
            elif isinstance(item, EdgeItem) and found_edge is None:
                found_edge = item
        return found_node or found_edge

    # ------------------------------------------------------------------ drop a layer
    def drop_layer(self, type_id: str, pos: QPointF) -> str | None:
        """Create a layer where the palette entry was dropped: on a card (or its output) it is
        appended after it, on an input port it feeds that port, on a link it is inserted into it,
        elsewhere it is a free layer. Returns the new node's id."""
        self.clear_drop_highlight()
        if self._refuse_if_read_only():
            return None
        if self.edit_path:  # inside a block (inner_edit.py)
            return self.inner_drop(type_id, pos)
        if type_id.startswith(LIBRARY_PREFIX):  # "My blocks" in the palette: one block instance
            return self.drop_library_block(type_id[len(LIBRARY_PREFIX):], pos)
        target = self.target_at(pos)
        g = self.graph
        try:
            if isinstance(target, PortItem) and target.kind == "in":
                cmd, new_id = edits.prepend_before(g, type_id, target.node.node_id, target.index)
            elif isinstance(target, (PortItem, NodeItem)):
                node = target.node if isinstance(target, PortItem) else target
                cmd, new_id = edits.append_after(g, type_id, node.node_id)
            elif isinstance(target, EdgeItem):
                cmd, new_id = edits.insert_on_edge(g, type_id, target.edge)
            else:
                cmd, new_id = edits.add_node(g, type_id, (pos.x(), pos.y()))
        except GraphEditError as e:
            # refused as a link: still create the layer, beside the target, and say why
            self.document.message.emit(str(e))
            near = target.node if isinstance(target, PortItem) else target
            p = (near.pos().x() + NODE_W + 30, near.pos().y()) if isinstance(near, NodeItem) else (pos.x(), pos.y())
            try:
                cmd, new_id = edits.add_node(g, type_id, p)
            except GraphEditError as e2:
                self.document.message.emit(str(e2))
                return None
        self.document.push(cmd)
        self.select_nodes([new_id])
        return new_id

    def drop_library_block(self, name: str, pos: QPointF) -> str | None:
        """Add saved block ``name`` as one instance at ``pos`` (block_commands.library_drop_command)."""
        from ..block_commands import library_drop_command

        target = self.target_at(pos)
        node = target.node if isinstance(target, PortItem) else target
        after = None
        if isinstance(node, NodeItem) and node.output is not None:  # dropped on a card: below it, fed by it
            after, pos = node.node_id, QPointF(node.pos().x(), node.pos().y() + 150)
        result = self.document.try_edit(lambda: library_drop_command(self.graph, name, (pos.x(), pos.y()), after=after))
        if result is None:
            return None
        self.select_nodes([result[1]])
        return result[1]

    def highlight_drop_target(self, pos: QPointF) -> None:
        target = self.target_at(pos)
        if isinstance(target, PortItem):
            target = target.node
        if target is not self._highlight:
            self.clear_drop_highlight()
            if target is not None:
                target.set_drop_highlight(True)
            self._highlight = target

    def clear_drop_highlight(self) -> None:
        if self._highlight is not None:
            self._highlight.set_drop_highlight(False)
            self._highlight = None

    # ------------------------------------------------------------------ moves
    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        self.commit_moves()

    def commit_moves(self) -> None:
        """Turn the cards a drag moved into one undo step."""
        if self.edit_path:
            self.inner_commit_moves()
            return
        moves = {}
        for nid, item in self.node_items.items():
            node = self.graph.nodes.get(nid)
            if node is None:
                continue
            p = (item.pos().x(), item.pos().y() - getattr(item, "view_dy", 0.0))  # model position (block_item room)
            if p != node.pos:
                moves[nid] = (node.pos, p)
        if not moves:
            return
        if self.read_only:
            for nid, (old, _) in moves.items():
                self.node_items[nid].setPos(QPointF(*old) + QPointF(0, getattr(self.node_items[nid], "view_dy", 0.0)))
            return
        from ..commands import MoveNodesCommand

        self.document.push(MoveNodesCommand(self.graph, moves))

    def mouseDoubleClickEvent(self, event) -> None:
        item = self.itemAt(event.scenePos(), QTransform())
        while item is not None and not isinstance(item, NodeItem):
            item = item.parentItem()
        if isinstance(item, BlockItem):  # a block card expands or collapses in place
            item.set_expanded(not item.expanded)
            event.accept()
            return
        if isinstance(item, NodeItem) and getattr(item, "inner_of", None) is not None and not getattr(item, "edit_item", False):
            owner = item.parentItem()  # a layer inside an expanded block: edit that block's inside
            if isinstance(owner, BlockItem):
                self.enter_block(owner.path, select=item.node_id)
            event.accept()
            return
        if isinstance(item, BlockPortCard):
            event.accept()
            return
        if isinstance(item, NodeItem):
            self.node_activated.emit(item.node_id)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    # ------------------------------------------------------------------ edit actions
    def delete_selection(self) -> bool:
        if self._refuse_if_read_only():
            return False
        if self.edit_path:
            return self.inner_delete()
        ids, edges_ = self.selected_node_ids(), self.selected_edges()
        if not ids and not edges_:
            self.document.message.emit("Select layers or links to delete")
            return False
        return self.document.try_edit(lambda: delete_command(self.graph, ids, edges_)) is not None

    def copy_payload(self) -> dict | None:
        if self.edit_path:
            self.document.message.emit("Copy and paste work in the network; press Esc to go up first")
            return None
        try:
            return edits.copy_payload(self.graph, self.selected_node_ids())
        except GraphEditError as e:
            self.document.message.emit(str(e))
            return None

    def paste_payload(self, payload: dict, offset=None) -> list[str]:
        if self._refuse_if_read_only():
            return []
        if self.edit_path:
            self.document.message.emit("Copy and paste work in the network; press Esc to go up first")
            return []
        result = self.document.try_edit(lambda: edits.paste_command(self.graph, payload, offset))
        if result is None:
            return []
        ids = result[1]
        self.select_nodes(ids)
        return ids

    def auto_layout(self) -> bool:
        if self._refuse_if_read_only():
            return False
        if self.edit_path:
            return self.inner_edit("Arrange layers", lambda g, name: edits.layout_command(g.blocks[name].graph).redo() or True) is not None
        return self.document.try_edit(lambda: edits.layout_command(self.graph)) is not None

    # ------------------------------------------------------------------ background
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        c = theme.colours()
        painter.fillRect(rect, c.background)
        scale = painter.worldTransform().m11()
        if GRID * scale < 9:
            return
        pen = QPen(c.grid, 2.0 / max(scale, 0.3))
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        left = int(rect.left() // GRID) * GRID
        top = int(rect.top() // GRID) * GRID
        points = []
        y = top
        while y < rect.bottom():
            x = left
            while x < rect.right():
                points.append(QPointF(x, y))
                x += GRID
            y += GRID
        if points:
            painter.drawPoints(points)
