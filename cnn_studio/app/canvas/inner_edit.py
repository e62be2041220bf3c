"""Editing a block's inside on the canvas (issue 13): the scene's "edit block" level.

Enter (Enter on a block card, Network > Blocks > Edit block inside, the context menu, or a
double-click on a layer inside an expanded block) and the canvas shows the block's *definition* as
a normal graph: its layers as ordinary cards (nested blocks as block cards), its inputs as
"block input 1..n" cards and its result as a "block output" card. Every usual gesture works there:
drop a layer from the palette (on a card, a port, a link, or free), draw and re-route links (from a
"block input" card to choose which inner ports an input feeds, to "block output" to choose the
output), delete layers and links, drag cards. Shapes come from the entered instance's real inputs
(its path in the analysis), problems show on the inner cards. Esc (or the breadcrumb) goes up.

Which level is shown is a list of instance ids from the top (``scene.edit_path``, e.g.
``["layer1", "0"]``); the definition at each level is looked up by walking it, so a structural undo
(Make unique undone, a grouping undone) never leaves the scene on a stale definition: a path that
no longer resolves is cut back to where it does.

Each edit runs the operation of :mod:`cnn_studio.core.block_edit` (or the usual canvas edit of
``edits.py`` on the inner graph) on a *copy* of the whole graph, checks the definitions
(``block_check``), and pushes one undo step holding the configs before and after
(``SnapshotStep``); a refusal is one line in the status bar and changes nothing. Definitions are
shared: an edit changes every instance, which the breadcrumb says ("shared by 3 uses", Make unique).
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyle

from ...core import block_edit as be
from ...core import blocks
from ...core.block_check import validate_definitions
from ...core.block_spec import BLOCK_TYPE
from ...core.errors import GraphEditError
from ...core.graph import Edge
from ...core.layers import fmt_shape
from ...core.layout import layered_positions
from .. import edits, fmt, theme
from ..block_commands import LIBRARY_PREFIX, SnapshotStep, shared_count
from ..commands import Macro
from .card_style import paint_card
from .items import NODE_W, PAD, EdgeItem, NodeItem, PortItem, _fonts

PSEUDO_IN, PSEUDO_OUT = "\x00in", "\x00out"  # never valid node ids
PORT_CARD_H = 40.0
PORT_GAP = 110.0  # between the block input/output cards and the layers


def in_id(i: int) -> str:
    return f"{PSEUDO_IN}{i}"


def is_pseudo(nid: str) -> bool:
    return nid.startswith("\x00")


def _input_index(nid: str) -> int:
    return int(nid[len(PSEUDO_IN):])


def display_positions(inner) -> dict[str, tuple[float, float]]:
    """Where the edit canvas draws a definition's layers: their stored positions, or the automatic
    layered layout when positions coincide (blocks built by code keep them all at 0, 0)."""
    pos = {nid: n.pos for nid, n in inner.nodes.items()}
    if len(set(pos.values())) < len(pos):
        return layered_positions(inner)
    return pos


class BlockPortCard(NodeItem):
    """A pseudo node of the edit canvas: "block input i" (an output port) or "block output" (an input port)."""

    def __init__(self, port_kind: str, index: int = 0) -> None:
        self.port_kind, self.index = port_kind, index
        self.pseudo = True
        self.shape_text = ""
        super().__init__(in_id(index) if port_kind == "in" else PSEUDO_OUT, "identity", {})
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable, False)
        self.inner_of = None
        self.edit_item = True

    def _sync_ports(self) -> None:
        if self.port_kind == "in" and self.output is None:
            self.output = PortItem(self, "out", 0)
            self.output.setPos(0, PORT_CARD_H / 2)
        if self.port_kind == "out" and not self.inputs:
            port = PortItem(self, "in", 0)
            port.setPos(0, -PORT_CARD_H / 2)
            self.inputs.append(port)

    def input_offset(self, i: int, n: int) -> QPointF:
        return QPointF(0, -PORT_CARD_H / 2)

    def output_anchor(self) -> QPointF:
        return self.pos() + QPointF(0, PORT_CARD_H / 2)

    def title(self) -> str:
        return f"block input {self.index + 1}" if self.port_kind == "in" else "block output"

    def _layout_text(self) -> None:
        tip = ("Drag from here to a layer's input port to feed it with this block input" if self.port_kind == "in"
               else "Drag a layer's output here to make it the block's output")
        self.setToolTip(f"<p><b>{self.title()}</b> {self.shape_text}<br>{tip}</p>")
        self.update()

    def set_shape(self, text: str) -> None:
        if text != self.shape_text:
            self.shape_text = text
            self._layout_text()

    def set_info(self, info, issues) -> bool:  # shapes come from set_shape
        return False

    def rect(self) -> QRectF:
        return QRectF(-NODE_W / 2 + 30, -PORT_CARD_H / 2, NODE_W - 60, PORT_CARD_H)

    def boundingRect(self) -> QRectF:
        return self.rect().adjusted(-3, -3, 3, 3)

    def shape(self) -> QPainterPath:
        p = QPainterPath()
        p.addRoundedRect(self.rect(), PORT_CARD_H / 2, PORT_CARD_H / 2)
        return p

    def paint(self, painter: QPainter, option, widget=None) -> None:
        c = theme.colours()
        rect = self.rect()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        paint_card(painter, rect, fill=c.background, selected=selected, drop_highlight=self.drop_highlight, dashed=True,
                   radius=PORT_CARD_H / 2)
        title_f, body_f, _ = _fonts()
        painter.setFont(title_f)
        painter.setPen(c.text)
        painter.drawText(QRectF(rect.left() + PAD, rect.top() + 3, rect.width() - 2 * PAD, 18), Qt.AlignmentFlag.AlignCenter, self.title())
        painter.setFont(body_f)
        painter.setPen(c.shape_text)
        painter.drawText(QRectF(rect.left() + PAD, rect.top() + 20, rect.width() - 2 * PAD, 16), Qt.AlignmentFlag.AlignCenter, self.shape_text or "?")


class InnerEditMixin:
    """The edit-block level of :class:`~.scene.CanvasScene` (see the module docstring)."""

    # ------------------------------------------------------------------ the level shown
    def edit_levels(self) -> list[tuple[str, str]] | None:
        """(definition name, instance path) per entered level, or None when the path no longer resolves."""
        out: list[tuple[str, str]] = []
        holder = self.top
        for k, inst in enumerate(self.edit_path):
            node = holder.nodes.get(inst)
            if node is None or node.type != BLOCK_TYPE or node.config.get("block") not in self.top.blocks:
                return None
            name = node.config["block"]
            out.append((name, "/".join(self.edit_path[: k + 1])))
            holder = self.top.blocks[name].graph
        return out

    def current_block(self) -> str | None:
        """The name of the definition shown, or None at the network level."""
        levels = self.edit_levels() if self.edit_path else None
        return levels[-1][0] if levels else None

    def _valid_edit_path(self) -> None:
        """Cut the path back to its longest prefix that still resolves (after an undo, Open...)."""
        while self.edit_path and self.edit_levels() is None:
            self.edit_path = self.edit_path[:-1]

    def enter_block(self, path: str, select: str | None = None) -> bool:
        """Show the definition of the instance at ``path`` ("layer1" or "layer1/0") for editing."""
        old = list(self.edit_path)
        self.edit_path = [p for p in path.split("/") if p]
        if not self.edit_path or self.edit_levels() is None:
            self.edit_path = old
            self.document.message.emit(f"'{path}' is not a block")
            return False
        self._rebuild()
        self.edit_path_changed.emit(list(self.edit_path))
        if select is not None:
            self.select_nodes([select])
        name = self.current_block()
        n = shared_count(self.top, name)
        self.document.message.emit(f"Editing block '{name}'" + (f", shared by {n} uses: an edit changes every use" if n > 1 else "") + " (Esc goes up)")
        return True

    def leave_to(self, depth: int) -> None:
        """Go up to ``depth`` entered levels (0: the network)."""
        if depth >= len(self.edit_path):
            return
        came_from = self.edit_path[depth] if depth < len(self.edit_path) else None
        self.edit_path = self.edit_path[:depth]
        self._rebuild()
        if came_from is not None:  # selected first: the view centres on the card just left
            self.select_nodes([came_from])
        self.edit_path_changed.emit(list(self.edit_path))

    def leave_block(self) -> bool:
        if not self.edit_path:
            return False
        self.leave_to(len(self.edit_path) - 1)
        return True

    def selected_block_path(self) -> str | None:
        """The path of the one selected block card at the shown level, for Edit block inside."""
        sel = [i for i in self.selectedItems() if isinstance(i, NodeItem) and i.type_id == BLOCK_TYPE and not getattr(i, "pseudo", False)]
        if len(sel) != 1:
            return None
        item = sel[0]
        if getattr(item, "inner_of", None) is not None and not getattr(item, "edit_item", False):
            return item.path  # a nested block inside an expanded frame
        return "/".join(self.edit_path + [item.node_id])

    # ------------------------------------------------------------------ build the items
    def _rebuild_inner(self) -> None:
        from .block_item import BlockItem

        d = self.top.blocks[self.current_block()]
        inner = d.graph
        self._layout_pos = display_positions(inner)
        prefix = "/".join(self.edit_path)
        for nid, node in inner.nodes.items():
            if node.type == BLOCK_TYPE:
                item = BlockItem(nid, node.type, node.config, self.top, self.expanded_blocks, f"{prefix}/{nid}")
            else:
                item = NodeItem(nid, node.type, node.config)
            item.inner_of, item.edit_item, item.path = d.name, True, f"{prefix}/{nid}"
            item.set_frozen(node.frozen, node.lr_mult)
            if self.read_only:
                item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable, False)
            item.setPos(QPointF(*self._layout_pos[nid]))
            self.addItem(item)
            self.node_items[nid] = item
        xs = [p[0] for p in self._layout_pos.values()] or [0.0]
        ys = [p[1] for p in self._layout_pos.values()] or [0.0]
        cx = sum(xs) / len(xs)
        n = d.num_inputs
        for i in range(n):
            card = BlockPortCard("in", i)
            card.setPos(QPointF(cx + (i - (n - 1) / 2) * (NODE_W + 30), min(ys) - PORT_GAP))
            self.addItem(card)
            self.node_items[card.node_id] = card
        out = BlockPortCard("out")
        out_x = self._layout_pos.get(d.output, (cx, 0))[0]
        out.setPos(QPointF(out_x, max(ys) + PORT_GAP))
        self.addItem(out)
        self.node_items[out.node_id] = out
        for e in inner.edges:
            self._on_inner_edge(e)
        for i, targets in enumerate(d.inputs):
            for nid, port in targets:
                self._on_inner_edge(Edge(in_id(i), 0, nid, port))
        if d.output in inner.nodes:
            self._on_inner_edge(Edge(d.output, 0, PSEUDO_OUT, 0))
        self._built_key = self._structure_key(d)

    def _on_inner_edge(self, edge: Edge) -> None:
        src, dst = self.node_items.get(edge.src), self.node_items.get(edge.dst)
        if src is None or dst is None:
            return
        item = EdgeItem(edge, src, dst)
        self.addItem(item)
        self.edge_items[edge] = item
        self._update_port_state(dst)
        self._update_port_state(src)

    @staticmethod
    def _structure_key(d) -> tuple:
        return (tuple(d.graph.nodes), tuple(d.graph.edges), tuple(map(tuple, d.inputs)), d.output,
                tuple((n.id, n.num_inputs()) for n in d.graph.nodes.values()))

    def _inner_block_changed(self, name: str) -> None:
        """A change made outside this level's undo steps (an Inspector edit of an inner layer)."""
        d = self.top.blocks.get(self.current_block() or "")
        if d is None:
            self._rebuild()
            return
        if self._structure_key(d) != self._built_key:
            self._rebuild()
            return
        for nid, node in d.graph.nodes.items():
            item = self.node_items.get(nid)
            if item is not None:
                item.set_config(node.config)
                item.set_frozen(node.frozen, node.lr_mult)
                if hasattr(item, "refresh_inside"):
                    item.refresh_inside()

    # ------------------------------------------------------------------ analysis
    def instance_info(self):
        """The NodeInfo of the entered instance (its ``block`` is the inner analysis), or None."""
        nodes = self.document.analysis.nodes
        info = None
        for comp in self.edit_path:
            info = nodes.get(comp)
            if info is None or info.block is None:
                return None
            nodes = info.block.nodes
        return info

    def entered_input_shapes(self) -> list:
        """The input shapes of the entered instance, from what feeds it at each level (known even
        when the block's inside has a problem, where the instance's own info has none)."""
        nodes = self.document.analysis.nodes
        holder, holder_def, outer = self.top, None, []
        shapes: list = []
        for comp in self.edit_path:
            node = holder.nodes.get(comp)
            if node is None:
                return []
            shapes = []
            for p in range(node.num_inputs()):
                e = holder.edge_into(comp, p)
                if e is not None:
                    src = nodes.get(e.src)
                    shapes.append(src.output_shape if src is not None else None)
                else:
                    k = be.port_feeder(holder_def, comp, p) if holder_def is not None else None
                    shapes.append(outer[k] if k is not None and k < len(outer) else None)
            info = nodes.get(comp)
            nodes = info.block.nodes if info is not None and info.block is not None else {}
            holder_def = self.top.blocks.get(node.config.get("block"))
            if holder_def is None:
                return []
            holder, outer = holder_def.graph, shapes
        return shapes

    def _apply_inner_analysis(self) -> None:
        info = self.instance_info()
        ba = info.block if info is not None else None
        shapes = self.entered_input_shapes()
        for nid, item in self.node_items.items():
            if isinstance(item, BlockPortCard):
                if item.port_kind == "in":
                    shape = shapes[item.index] if item.index < len(shapes) else None
                    item.set_shape(fmt.shape(shape) if shape else "")
                else:
                    item.set_shape(fmt.shape(info.output_shape) if info is not None and info.output_shape else "")
                continue
            ni = ba.nodes.get(nid) if ba is not None else None
            item.set_info(ni, list(ni.issues) if ni is not None else [])
        for edge, item in self.edge_items.items():
            if is_pseudo(edge.src):
                k = _input_index(edge.src)
                item.set_label(fmt_shape(shapes[k]) if k < len(shapes) and shapes[k] else "")
                continue
            ni = ba.nodes.get(edge.src) if ba is not None else None
            item.set_label(fmt_shape(ni.output_shape) if ni and ni.output_shape else "")

    # ------------------------------------------------------------------ one undo step per edit
    def inner_edit(self, text: str, change):
        """Run ``change(graph_copy, definition_name)`` on a copy; push one undo step, or show the
        refusal (one line) and change nothing. Returns what ``change`` returned, or None."""
        if self._refuse_if_read_only():
            return None
        name = self.current_block()
        work = self.top.copy()
        try:
            d = work.blocks[name]
            if len(set(n.pos for n in d.graph.nodes.values())) < len(d.graph):  # keep what the canvas shows
                for nid, p in display_positions(d.graph).items():
                    d.graph.move_node(nid, p)
            result = change(work, name)
            after = work.to_config()
            validate_definitions(after["blocks"], source=f"block '{name}'", top_nodes=after["nodes"])
        except GraphEditError as e:
            self.document.message.emit(str(e))
            return None
        before = self.top.to_config()
        if before == after:
            return None
        label = f"{text} inside block '{name}'"
        self.document.push(Macro(label, [SnapshotStep(self.top, before, after, label)]))
        return result

    def _run(self, graph, cmd) -> None:
        """Apply a canvas command built by edits.py to a graph of the work copy."""
        cmd.redo()

    # ------------------------------------------------------------------ drops
    def inner_drop(self, type_id: str, pos: QPointF) -> str | None:
        if type_id.startswith(LIBRARY_PREFIX):
            self.document.message.emit("Blocks from My blocks are dropped in the network; go up (Esc) first, then group")
            return None
        target = self.target_at(pos)
        at = (pos.x(), pos.y())

        def change(g, name):
            d = g.blocks[name]
            inner = d.graph
            fed = None  # (block input, node, port) when the drop lands on something a block input feeds
            if isinstance(target, PortItem) and target.kind == "in" and not getattr(target.node, "pseudo", False):
                k = be.port_feeder(d, target.node.node_id, target.index)
                if k is not None:
                    fed = (k, target.node.node_id, target.index)
            elif isinstance(target, EdgeItem) and target.edge.src.startswith(PSEUDO_IN):
                fed = (_input_index(target.edge.src), target.edge.dst, target.edge.dst_port)
            card = target.node if isinstance(target, PortItem) else target
            if fed is not None:  # block input -> new -> the port it fed
                k, nid, port = fed
                x, y = inner.nodes[nid].pos
                new = be.add_inner_node(g, name, type_id, None, (x, y - 90))
                be.feed_block_input(g, name, k, new, 0)
                be.unfeed_block_input(g, name, k, nid, port)
                be.connect_inner(g, name, new, nid, 0, port)
                return new
            if isinstance(card, BlockPortCard) and card.port_kind == "in":
                new = be.add_inner_node(g, name, type_id, None, at)
                be.feed_block_input(g, name, card.index, new, 0)
                return new
            if (isinstance(card, BlockPortCard) and card.port_kind == "out") or (isinstance(target, EdgeItem) and target.edge.dst == PSEUDO_OUT):
                x, y = inner.nodes[d.output].pos
                new = be.add_inner_node(g, name, type_id, None, (x, y + 90))
                be.connect_inner(g, name, d.output, new)
                be.set_block_output(g, name, new)
                return new
            if isinstance(target, PortItem) and target.kind == "in":
                cmd, new = edits.prepend_before(inner, type_id, target.node.node_id, target.index)
            elif isinstance(card, NodeItem):
                cmd, new = edits.append_after(inner, type_id, card.node_id)
                self._run(inner, cmd)
                if card.node_id == d.output and new in inner.nodes and inner.edge_into(new, 0) is not None:
                    be.set_block_output(g, name, new)  # appended after the output: the new layer ends the block
                return new
            elif isinstance(target, EdgeItem):
                cmd, new = edits.insert_on_edge(inner, type_id, target.edge)
            else:
                return be.add_inner_node(g, name, type_id, None, at)
            self._run(inner, cmd)
            return new

        from ...core.block_spec import is_known_type, spec_for

        new = self.inner_edit(f"Add {spec_for(type_id).title if is_known_type(type_id) else type_id}", change)
        if new is not None:
            self.select_nodes([new])
        return new

    def inner_append(self, type_id: str) -> str | None:
        """Palette double-click / Enter inside a block: after the one selected layer, else at the
        block's end (the new layer becomes its output)."""
        sel = [i for i in self.selectedItems() if isinstance(i, NodeItem) and getattr(i, "edit_item", False)]
        target = sel[0] if len(sel) == 1 else self.node_items.get(PSEUDO_OUT)
        if target is None:
            return None
        return self.inner_drop(type_id, target.scenePos())

    # ------------------------------------------------------------------ links
    def inner_edge_into(self, node_id: str, port: int) -> Edge | None:
        """The link into an inner port at the shown level: a real edge, a block input's feed, or the output."""
        d = self.top.blocks[self.current_block()]
        if node_id == PSEUDO_OUT:
            return Edge(d.output, 0, PSEUDO_OUT, 0)
        if is_pseudo(node_id) or node_id not in d.graph.nodes:
            return None
        e = d.graph.edge_into(node_id, port)
        if e is not None:
            return e
        k = be.port_feeder(d, node_id, port)
        return Edge(in_id(k), 0, node_id, port) if k is not None else None

    def inner_check(self, ends, rewire: Edge | None) -> str | None:
        src, sp, dst, dp = ends
        if rewire is not None and (src, sp, dst, dp) == (rewire.src, rewire.src_port, rewire.dst, rewire.dst_port):
            return None
        inner = self.top.blocks[self.current_block()].graph
        if dst == PSEUDO_OUT:
            return "a block input cannot be the block's output; put a layer (Identity) between them" if is_pseudo(src) else None
        if is_pseudo(dst):
            return "a block input takes no input"
        taken = self.inner_edge_into(dst, dp)
        if taken is not None and taken != rewire:
            return f"input {dp + 1} of '{dst}' is already connected; disconnect it first"
        if is_pseudo(src):
            return None
        if src == dst:
            return "a node cannot feed itself"
        return "that connection would create a cycle" if inner.reaches(dst, src) else None

    @staticmethod
    def _unlink(g, name, edge: Edge) -> None:
        if edge.dst == PSEUDO_OUT:
            raise GraphEditError(f"block '{name}' needs an output: drag another layer's output to 'block output' instead")
        if edge.src.startswith(PSEUDO_IN):
            be.unfeed_block_input(g, name, _input_index(edge.src), edge.dst, edge.dst_port)
        else:
            be.disconnect_inner(g, name, edge.src, edge.dst, edge.src_port, edge.dst_port)

    def inner_link(self, ends, rewire: Edge | None) -> None:
        src, sp, dst, dp = ends
        if rewire is not None and (src, sp, dst, dp) == (rewire.src, rewire.src_port, rewire.dst, rewire.dst_port):
            return

        def add(g, name):
            if dst == PSEUDO_OUT:
                be.set_block_output(g, name, src)
            elif src.startswith(PSEUDO_IN):
                be.feed_block_input(g, name, _input_index(src), dst, dp)
            else:
                be.connect_inner(g, name, src, dst, sp, dp)

        def change(g, name):
            if rewire is None:
                add(g, name)
            elif rewire.dst == PSEUDO_OUT:
                add(g, name) if dst == PSEUDO_OUT else self._unlink(g, name, rewire)
            elif rewire.src.startswith(PSEUDO_IN):  # feed the new port first: an input never feeds nothing
                add(g, name)
                self._unlink(g, name, rewire)
            else:
                self._unlink(g, name, rewire)
                add(g, name)

        what = "Make '%s' the output" % src if dst == PSEUDO_OUT else f"Connect '{self._label(src)}' to '{dst}'"
        self.inner_edit(("Reconnect: " if rewire is not None else "") + what, change)

    def inner_unlink(self, edge: Edge) -> None:
        self.inner_edit(f"Disconnect '{self._label(edge.src)}' from '{self._label(edge.dst)}'", lambda g, name: self._unlink(g, name, edge))

    @staticmethod
    def _label(nid: str) -> str:
        if nid == PSEUDO_OUT:
            return "block output"
        return f"block input {_input_index(nid) + 1}" if nid.startswith(PSEUDO_IN) else nid

    # ------------------------------------------------------------------ delete, move, make unique
    def inner_delete(self) -> bool:
        items = self.selectedItems()
        ids = [i.node_id for i in items if isinstance(i, NodeItem) and getattr(i, "edit_item", False) and not getattr(i, "pseudo", False)]
        edges_ = [i.edge for i in items if isinstance(i, EdgeItem) and i.edge.src not in ids and i.edge.dst not in ids]
        if not ids and not edges_:
            self.document.message.emit("Select layers or links to delete (the block input and output cards stay)")
            return False

        def change(g, name):
            for e in edges_:
                self._unlink(g, name, e)
            if ids:
                be.remove_inner_nodes(g, name, ids)
            return True

        text = f"Delete '{ids[0]}'" if len(ids) == 1 and not edges_ else (f"Delete {len(ids) + len(edges_)} items" if ids else "Disconnect")
        return self.inner_edit(text, change) is not None

    def inner_commit_moves(self) -> None:
        d = self.top.blocks.get(self.current_block() or "")
        if d is None:
            return
        moves = {}
        for nid, item in self.node_items.items():
            if nid in d.graph.nodes:
                p = (item.pos().x(), item.pos().y() - getattr(item, "view_dy", 0.0))
                if p != tuple(self._layout_pos.get(nid, d.graph.nodes[nid].pos)):
                    moves[nid] = p
        if not moves:
            return
        if self.read_only:
            self._rebuild()
            return
        n = len(moves)
        self.inner_edit(f"Move {n} layer{'s' if n != 1 else ''}", lambda g, name: be.move_inner_nodes(g, name, moves))

    def make_unique_here(self) -> str | None:
        """Give the entered instance its own copy of the definition (the path stays, its block changes)."""
        levels = self.edit_levels()
        if not levels or self._refuse_if_read_only():
            return None
        inst = self.edit_path[-1]
        where = levels[-2][0] if len(levels) > 1 else None
        before = self.top.to_config()
        work = self.top.copy()
        try:
            new = blocks.make_unique(work, inst, where=where)
        except GraphEditError as e:
            self.document.message.emit(str(e))
            return None
        label = f"Make block '{inst}' unique"
        self.document.push(Macro(label, [SnapshotStep(self.top, before, work.to_config(), label)]))
        self.edit_path_changed.emit(list(self.edit_path))
        self.document.message.emit(f"'{inst}' now has its own block '{new}'; edits here change only it")
        return new
