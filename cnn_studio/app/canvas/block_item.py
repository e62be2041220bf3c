"""The canvas card of a block instance (issue 13), collapsed or expanded in place.

Collapsed, a :class:`BlockItem` is one card a little taller than a layer card: the block's name and
instance id, its input shapes and MACs, how many uses share its definition, its output shape and
parameter count (all from the analysis: ``NodeInfo`` of the instance and its ``block`` inner
analysis). Expanded (double-click, or the toggle at the card's top right), the card grows into a
frame around its definition's layers, drawn as child cards (:class:`InnerNodeItem`, nested blocks as
inner :class:`BlockItem`) with their links; the frame's ports stay the instance's ports. Inner cards
can be selected (the Inspector then edits that layer of the definition) but not moved or wired: the
instance stays one node of the graph, so every scene gesture on it is the instance's.

Which instances are expanded is kept by the scene by path (``"res1"``, ``"res1/inner"``), so the state
survives the rebuild that follows a structural undo. Frozen and problem marks come from NodeItem.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyle

from ...core.block_spec import BLOCK_TYPE
from ...core.trainable import block_frozen_counts
from ...core.layout import layered_positions
from .. import fmt, theme
from .card_style import paint_card
from .items import NODE_H, NODE_W, PAD, RADIUS, NodeItem, _fonts
from .routing import route

BLOCK_H = 84.0  # collapsed card: one line more than a layer card
HEADER = BLOCK_H  # expanded frame: the header strip (the collapsed card's lines) above the inner cards
MARGIN = 22.0
TOGGLE = 16.0
GAP_X, GAP_Y = 24.0, 40.0  # between inner cards


def _size(item) -> tuple[float, float]:
    return (item._w, item._h) if isinstance(item, BlockItem) else (NODE_W, NODE_H)


def _place(inner, sizes: dict[str, tuple[float, float]]) -> dict[str, QPointF]:
    """Centres of the inner cards: rows in the order of the stored positions (or of the automatic
    layout when they coincide, as in blocks built by code), each row as tall as its tallest card
    (an expanded nested block), cards in a row pushed apart so none overlaps. y from 0 (the top)."""
    pos = {nid: n.pos for nid, n in inner.nodes.items()}
    if len(set(pos.values())) < len(pos):
        pos = layered_positions(inner)
    rows: dict[float, list[str]] = {}
    for nid, p in pos.items():
        rows.setdefault(round(p[1]), []).append(nid)
    out: dict[str, QPointF] = {}
    y = 0.0
    for key in sorted(rows):
        ids = sorted(rows[key], key=lambda n: pos[n][0])
        h = max(sizes[n][1] for n in ids)
        x_prev, w_prev = None, 0.0
        for nid in ids:
            x = pos[nid][0]
            if x_prev is not None:
                x = max(x, x_prev + (w_prev + sizes[nid][0]) / 2 + GAP_X)
            out[nid] = QPointF(x, y + h / 2)
            x_prev, w_prev = x, sizes[nid][0]
        y += h + GAP_Y
    return out


class InnerNodeItem(NodeItem):
    """A layer card inside an expanded block: selectable (Inspector), never moved or wired."""

    def __init__(self, node_id: str, type_id: str, config: dict, owner: "BlockItem") -> None:
        super().__init__(node_id, type_id, config)
        self.inner_of = owner.block_name
        self.path = f"{owner.path}/{node_id}"
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable, False)
        _inert_ports(self)


def _inert_ports(item: NodeItem) -> None:
    for port in item.inputs + ([item.output] if item.output is not None else []):
        port.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        port.setAcceptHoverEvents(False)


class BlockItem(NodeItem):
    def __init__(self, node_id: str, type_id: str, config: dict, graph, expanded: set[str], path: str | None = None, inner_of: str | None = None) -> None:
        self.graph = graph  # the top-level graph (its .blocks holds every definition)
        self.expanded_paths = expanded  # shared with the scene
        self.path = path or node_id
        self.inner_of = inner_of
        self.inner_items: dict[str, NodeItem] = {}
        self._inner_links: list[QGraphicsPathItem] = []
        self._w, self._h = NODE_W, BLOCK_H
        super().__init__(node_id, type_id, config)
        self._accent = theme.colours().node_selected
        if inner_of is not None:
            self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable, False)
            _inert_ports(self)
        self.setCacheMode(QGraphicsItem.CacheMode.NoCache)  # children change with the expansion
        self._build_inside()

    # ------------------------------------------------------------------ model
    @property
    def block_name(self) -> str:
        return str(self.config.get("block", ""))

    @property
    def expanded(self) -> bool:
        return self.path in self.expanded_paths

    def shared_by(self) -> int:
        from ...core.blocks import instances

        return len(instances(self.graph, self.block_name)) if self.block_name in self.graph.blocks else 0

    def set_config(self, config: dict) -> None:
        super().set_config(config)
        self._build_inside()

    def set_expanded(self, on: bool, force: bool = False) -> None:
        if on == self.expanded and not force:
            return
        (self.expanded_paths.add if on else self.expanded_paths.discard)(self.path)
        owner = self.parentItem()
        if isinstance(owner, BlockItem):  # a nested block: its owner's frame changes size (and rebuilds this card)
            owner.set_expanded(True, force=True)
            return
        self._build_inside()
        for e in list(self.edges):
            e.update_path()
        scene = self.scene()
        if scene is not None and hasattr(scene, "apply_block_offsets"):  # room below the frame (scene.py)
            scene.apply_block_offsets()

    def refresh_inside(self) -> None:
        """The definition changed: inner configs in place when the structure is the same, else rebuilt."""
        d = self.graph.blocks.get(self.block_name)
        if d is not None and self.expanded and set(d.graph.nodes) == set(self.inner_items):
            for nid, item in self.inner_items.items():
                item.set_config(d.graph.nodes[nid].config)
        else:
            self._build_inside()
        self._layout_text()

    def _build_inside(self) -> None:
        self.prepareGeometryChange()
        for item in list(self.inner_items.values()) + self._inner_links:
            item.setParentItem(None)
            if item.scene() is not None:
                item.scene().removeItem(item)
        self.inner_items, self._inner_links = {}, []
        d = self.graph.blocks.get(self.block_name)
        if not self.expanded or d is None:
            self._w, self._h = NODE_W, BLOCK_H
        else:
            for nid, node in d.graph.nodes.items():
                if node.type == BLOCK_TYPE:
                    item = BlockItem(nid, node.type, node.config, self.graph, self.expanded_paths, f"{self.path}/{nid}", inner_of=self.block_name)
                else:
                    item = InnerNodeItem(nid, node.type, node.config, self)
                item.setParentItem(self)
                item.setZValue(1)
                self.inner_items[nid] = item
            places = _place(d.graph, {nid: _size(it) for nid, it in self.inner_items.items()})
            xs = [places[n].x() - _size(it)[0] / 2 for n, it in self.inner_items.items()] + [places[n].x() + _size(it)[0] / 2 for n, it in self.inner_items.items()]
            bottom = max((places[n].y() + _size(it)[1] / 2 for n, it in self.inner_items.items()), default=0.0)
            left, right = (min(xs), max(xs)) if xs else (0.0, 0.0)
            self._w = max(NODE_W + 40, right - left + 2 * MARGIN)
            self._h = HEADER + MARGIN + bottom + MARGIN
            cx = (left + right) / 2
            for nid, item in self.inner_items.items():
                p = places[nid]
                item.setPos(QPointF(p.x() - cx, -self._h / 2 + HEADER + MARGIN + p.y()))
            pen = QPen(theme.colours().edge, 1.6)
            self._card_rects = {nid: it.mapRectToParent(it.shape().boundingRect()) for nid, it in self.inner_items.items()}
            for e in d.graph.edges:
                a, b = self.inner_items.get(e.src), self.inner_items.get(e.dst)
                if a is not None and b is not None:
                    self._link(a.output_anchor(), b.input_anchor(e.dst_port), pen, (e.src, e.dst))
            dashed = QPen(theme.colours().muted, 1.2, Qt.PenStyle.DashLine)
            for i, targets in enumerate(d.inputs):
                for nid, port in targets:
                    if nid in self.inner_items:
                        start = self.input_offset(i, len(d.inputs)) + QPointF(0, HEADER)  # below the header's text
                        self._link(start, self.inner_items[nid].input_anchor(port), dashed, (nid,))
            if d.output in self.inner_items:
                self._link(self.inner_items[d.output].output_anchor(), QPointF(0, self._h / 2), dashed, (d.output,))
        self._sync_ports()
        if self.info is not None:
            self._apply_inner_info()
        self.update()

    def _link(self, p0: QPointF, p1: QPointF, pen: QPen, ends=()) -> None:
        """An inner link, around the frame's other cards (routing.py) as links on the canvas are."""
        rects = [r for nid, r in self._card_rects.items() if nid not in ends]
        item = QGraphicsPathItem(route(p0, p1, rects), self)
        item.setPen(pen)
        item.setZValue(0.5)
        item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._inner_links.append(item)

    # ------------------------------------------------------------------ analysis
    def set_info(self, info, issues: list) -> bool:
        changed = super().set_info(info, issues)
        self._apply_inner_info()
        self._layout_text()  # shared-by may change without the numbers changing
        return changed

    def _apply_inner_info(self) -> None:
        inner = getattr(self.info, "block", None)
        if inner is None:
            return
        for nid, item in self.inner_items.items():
            info = inner.nodes.get(nid)
            item.set_info(info, [i for i in (getattr(info, "issues", None) or [])] if info is not None else [])

    # ------------------------------------------------------------------ geometry
    def input_offset(self, i: int, n: int) -> QPointF:  # instance method: the frame's height
        h = getattr(self, "_h", BLOCK_H)
        if n <= 1:
            return QPointF(0, -h / 2)
        span = min(NODE_W - 40, 36.0 * (n - 1))
        return QPointF(-span / 2 + span * i / (n - 1), -h / 2)

    def _sync_ports(self) -> None:
        super()._sync_ports()
        if self.output is not None:
            self.output.setPos(0, self._h / 2)

    def output_anchor(self) -> QPointF:
        return self.pos() + QPointF(0, self._h / 2)

    def rect(self) -> QRectF:
        return QRectF(-self._w / 2, -self._h / 2, self._w, self._h)

    def toggle_rect(self) -> QRectF:
        r = self.rect()
        return QRectF(r.right() - PAD - TOGGLE, r.top() + 7, TOGGLE, TOGGLE)

    def boundingRect(self) -> QRectF:
        return self.rect().adjusted(-3, -3, 3, 3)

    def shape(self) -> QPainterPath:
        p = QPainterPath()
        if self.expanded:  # the frame's border and header only: clicks inside reach the inner cards
            r = self.rect()
            p.addRect(QRectF(r.left(), r.top(), r.width(), HEADER))
            ring = QPainterPath()
            ring.addRect(r)
            hole = QPainterPath()
            hole.addRect(r.adjusted(8, HEADER, -8, -8))
            p = p.united(ring.subtracted(hole))
            return p
        p.addRoundedRect(self.rect(), RADIUS, RADIUS)
        return p

    # ------------------------------------------------------------------ text and drawing
    def _layout_text(self) -> None:
        title_f, body_f, small_f = _fonts()
        tm, bm, sm = QFontMetricsF(title_f), QFontMetricsF(body_f), QFontMetricsF(small_f)
        inner = NODE_W - 2 * PAD - 6
        nid = sm.elidedText(self.node_id, Qt.TextElideMode.ElideMiddle, inner * 0.36)
        title = tm.elidedText("\u25a3 " + self.block_name, Qt.TextElideMode.ElideRight, inner - 22 - sm.horizontalAdvance(nid) - 6)
        info = self.info
        ins = ", ".join(fmt.shape(s) for s in (info.input_shapes if info else [])) or "?"
        macs = f"{fmt.count(info.macs)} MACs" if info is not None else ""
        line2 = bm.elidedText(f"in {ins}", Qt.TextElideMode.ElideRight, inner - bm.horizontalAdvance(macs) - 8)
        n = self.shared_by()
        shared = f"shared by {n}" if n > 1 else "used once"
        if self.severity == "error":
            first = next(i for i in self.issues if i.severity == "error")
            shape, params = bm.elidedText("\u26a0 " + first.message, Qt.TextElideMode.ElideRight, inner), ""
        else:
            params = "" if info is None else f"{fmt.count(info.params)} params"
            if self.shows_frozen():
                params = "\u2744 " + params
            elif self.lr_mult != 1.0:
                params = f"lr \u00d7{self.lr_mult:g}  " + params
            out = ("\u2192 " + fmt.shape(info.output_shape)) if info and info.output_shape else "\u2192 ?"
            shape = bm.elidedText(out, Qt.TextElideMode.ElideRight, inner - bm.horizontalAdvance(params) - 8)
        self._texts = {"title": title, "id": nid, "in": line2, "macs": macs, "shared": shared, "shape": shape, "params": params}
        self.setToolTip(self._tooltip())
        self.update()

    def inner_frozen(self) -> tuple[int, int]:
        """(frozen, with weights) of the layers inside, by their own option or this instance's."""
        if self.info is None or self.block_name not in self.graph.blocks:
            return 0, 0
        return block_frozen_counts(self.graph, self.info, self.frozen)

    def shows_frozen(self) -> bool:
        """The frozen mark: the instance is frozen, or every layer with weights inside it is."""
        f, w = self.inner_frozen()
        return self.frozen or (w > 0 and f == w)

    def _tooltip(self) -> str:
        base = super()._tooltip()
        f, w = self.inner_frozen()
        if self.shows_frozen() and not self.frozen:
            base = base.replace("</p>", "<br>\u2744 frozen: every layer with weights inside is frozen</p>", 1)
        elif 0 < f < w:
            base = base.replace("</p>", f"<br>\u2744 partly frozen: {f} of {w} layers with weights frozen</p>", 1)
        n = self.shared_by()
        extra = (f"<br>Definition <b>{self.block_name}</b>, shared by {n} uses: an edit inside changes every use (Make unique to edit one alone)."
                 if n > 1 else f"<br>Definition <b>{self.block_name}</b>, used once.")
        return base.replace("</p>", extra + "<br><i>Double-click to expand or collapse.</i></p>", 1)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        c = theme.colours()
        rect = self.rect()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        frame = (c.background.darker(104) if c.background.lightness() > 128 else c.background.lighter(125)) if self.expanded else None
        paint_card(painter, rect, severity=self.severity, selected=selected, drop_highlight=self.drop_highlight, dashed=self.shows_frozen(),
                   fill=frame, base_width=1.4, issue_width=1.8)
        # a double accent bar marks a block (a layer card has one)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(self._accent if self.severity != "error" else c.error))
        painter.drawRect(QRectF(rect.left() + 1, rect.top() + RADIUS, 3, min(rect.height(), BLOCK_H if not self.expanded else HEADER) - 2 * RADIUS))
        painter.drawRect(QRectF(rect.left() + 6, rect.top() + RADIUS, 2, min(rect.height(), BLOCK_H if not self.expanded else HEADER) - 2 * RADIUS))

        title_f, body_f, small_f = _fonts()
        t = self._texts
        x0 = rect.left() + PAD + 4
        top = rect.top() + 7
        w = NODE_W - 2 * PAD
        painter.setFont(title_f)
        painter.setPen(c.text)
        painter.drawText(QRectF(x0, top - 1, w, 18), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, t["title"])
        painter.setFont(small_f)
        painter.setPen(c.muted)
        painter.drawText(QRectF(x0, top - 1, rect.width() - 2 * PAD - TOGGLE - 10, 18), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, t["id"])
        # the expand/collapse toggle: a plus or minus in a small box
        tr = self.toggle_rect()
        painter.setPen(QPen(c.muted, 1.2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(tr, 3, 3)
        painter.drawLine(QPointF(tr.left() + 4, tr.center().y()), QPointF(tr.right() - 4, tr.center().y()))
        if not self.expanded:
            painter.drawLine(QPointF(tr.center().x(), tr.top() + 4), QPointF(tr.center().x(), tr.bottom() - 4))
        painter.setFont(body_f)
        lines = [QRectF(x0, top + 19 + 17 * k, w - 4, 16) for k in range(3)]
        painter.setPen(c.muted)
        painter.drawText(lines[0], Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, t["in"])
        painter.drawText(lines[0], Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, t["macs"])
        painter.setPen(c.error if self.severity == "error" else c.shape_text)
        painter.drawText(lines[1], Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, t["shape"])
        if t["params"]:
            painter.setPen(c.muted)
            painter.drawText(lines[1], Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, t["params"])
        painter.setFont(small_f)
        painter.setPen(c.node_selected if t["shared"] != "used once" else c.muted)
        painter.drawText(lines[2], Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, t["shared"])

    # ------------------------------------------------------------------ interaction
    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.toggle_rect().adjusted(-3, -3, 3, 3).contains(event.pos()):
            self.set_expanded(not self.expanded)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        self.set_expanded(not self.expanded)
        event.accept()
