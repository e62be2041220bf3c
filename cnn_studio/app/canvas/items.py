"""Graphics items of the canvas: layer cards with ports, links and the link being drawn.

Items only draw; they never change the model. A card's ``pos()`` is the node's centre (the same
convention as ``Node.pos`` and the automatic layout). Text is laid out (elided) once when the data
changes, not on every paint, and cards are cached as device pixmaps, so dragging a card over a large
graph repaints cheaply.
"""
from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QFont, QFontMetricsF, QPainter, QPainterPath, QPainterPathStroker, QPen, QPolygonF
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QStyle, QStyleOptionGraphicsItem

from ...core.block_spec import spec_for
from .. import fmt, theme
from ..icons import category_colour, icon_path
from .card_style import RADIUS, paint_card
from .routing import bezier, route

NODE_W = 196.0
NODE_H = 66.0
PORT_R = 5.0
PORT_HIT_R = 10.0
PAD = 10.0

Z_EDGE, Z_NODE, Z_DRAG = -1.0, 1.0, 10.0


@lru_cache(maxsize=None)
def _renderer(type_id: str) -> QSvgRenderer:
    return QSvgRenderer(str(icon_path(type_id)))


_FONT_CACHE: dict = {}


def _fonts() -> tuple[QFont, QFont, QFont]:
    """Title, body and small fonts derived from the application font (cached per app font)."""
    base = QFont()
    key = base.key()
    hit = _FONT_CACHE.get(key)
    if hit is not None:
        return hit
    size = base.pointSizeF() if base.pointSizeF() > 0 else 9.0
    title = QFont(base)
    title.setPointSizeF(size)
    title.setBold(True)
    body = QFont(base)
    body.setPointSizeF(size * 0.92)
    small = QFont(base)
    small.setPointSizeF(size * 0.85)
    _FONT_CACHE.clear()
    _FONT_CACHE[key] = (title, body, small)
    return title, body, small


class PortItem(QGraphicsItem):
    """An input (top edge) or output (bottom edge) connector. Mouse gestures go to the scene."""

    def __init__(self, node: "NodeItem", kind: str, index: int) -> None:
        super().__init__(node)
        self.node = node
        self.kind = kind  # "in" or "out"
        self.index = index
        self.hover = False
        self.connected = False
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setZValue(2)

    def boundingRect(self) -> QRectF:
        r = PORT_HIT_R
        return QRectF(-r, -r, 2 * r, 2 * r)

    def shape(self) -> QPainterPath:
        p = QPainterPath()
        p.addEllipse(self.boundingRect())
        return p

    def paint(self, painter: QPainter, option, widget=None) -> None:
        c = theme.colours()
        r = PORT_R + (1.5 if self.hover else 0)
        colour = c.port_hover if self.hover else c.port
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(colour, 1.6))
        painter.setBrush(QBrush(colour if (self.connected or self.hover) else c.node_fill))
        painter.drawEllipse(QPointF(0, 0), r, r)

    def hoverEnterEvent(self, event) -> None:
        self.hover = True
        self.update()

    def hoverLeaveEvent(self, event) -> None:
        self.hover = False
        self.update()

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.scene() is not None and self.scene().begin_link(self, event.scenePos()):
            event.accept()
        else:
            event.ignore()

    def mouseMoveEvent(self, event) -> None:
        self.scene().update_link(event.scenePos())

    def mouseReleaseEvent(self, event) -> None:
        self.scene().finish_link(event.scenePos())


class NodeItem(QGraphicsObject):
    """A layer card: type title + id, key parameters, output shape and parameter count."""

    def __init__(self, node_id: str, type_id: str, config: dict) -> None:
        super().__init__()
        self.node_id = node_id
        self.type_id = type_id
        self.spec = spec_for(type_id)  # block instances too (block_item.BlockItem draws those)
        self.config = dict(config)
        self.info = None
        self.issues: list = []
        self.severity: str | None = None
        self.drop_highlight = False
        self.frozen, self.lr_mult = False, 1.0  # training options (transfer.py marks them)
        self.edges: set[EdgeItem] = set()
        self._accent = category_colour(self.spec.category)
        self._texts: dict[str, str] = {}
        self._key = None
        self.inputs: list[PortItem] = []
        self.output: PortItem | None = None
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setAcceptHoverEvents(True)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(Z_NODE)
        self._sync_ports()
        self._layout_text()

    # ------------------------------------------------------------------ data
    def set_config(self, config: dict) -> None:
        self.config = dict(config)
        self._sync_ports()
        self._layout_text()

    def set_frozen(self, frozen: bool, lr_mult: float = 1.0) -> None:
        """Mark the card as frozen (a snowflake and a dashed outline) or with its lr multiplier."""
        if (frozen, lr_mult) != (self.frozen, self.lr_mult):
            self.frozen, self.lr_mult = frozen, lr_mult
            self._layout_text()

    def set_info(self, info, issues: list) -> bool:
        """Update from the analysis; returns True when anything visible changed."""
        errors = [i for i in issues if i.severity == "error"]
        severity = "error" if errors else ("warning" if issues else None)
        key = (
            info.output_shape if info else None,
            info.params if info else None,
            tuple(str(i) for i in issues),
            fmt.rf(info) if info else None,
        )
        if key == self._key:
            return False
        self._key = key
        self.info, self.issues, self.severity = info, list(issues), severity
        self._layout_text()
        return True

    def _sync_ports(self) -> None:
        n_in = self.spec.num_inputs(self.config)
        while len(self.inputs) > n_in:
            port = self.inputs.pop()
            port.setParentItem(None)
            if port.scene() is not None:
                port.scene().removeItem(port)
        while len(self.inputs) < n_in:
            self.inputs.append(PortItem(self, "in", len(self.inputs)))
        for i, port in enumerate(self.inputs):
            port.setPos(self.input_offset(i, n_in))
        if self.spec.role != "output" and self.output is None:
            self.output = PortItem(self, "out", 0)
            self.output.setPos(0, NODE_H / 2)

    @staticmethod
    def input_offset(i: int, n: int) -> QPointF:
        if n <= 1:
            return QPointF(0, -NODE_H / 2)
        span = min(NODE_W - 40, 36.0 * (n - 1))
        return QPointF(-span / 2 + span * i / (n - 1), -NODE_H / 2)

    def input_anchor(self, port: int) -> QPointF:
        n = max(1, len(self.inputs))
        return self.pos() + self.input_offset(min(port, n - 1), n)

    def output_anchor(self) -> QPointF:
        return self.pos() + QPointF(0, NODE_H / 2)

    def _layout_text(self) -> None:
        title_f, body_f, small_f = _fonts()
        tm, bm, sm = QFontMetricsF(title_f), QFontMetricsF(body_f), QFontMetricsF(small_f)
        inner = NODE_W - 2 * PAD - 6
        nid = sm.elidedText(self.node_id, Qt.TextElideMode.ElideMiddle, inner * 0.42)
        title_w = inner - 22 - sm.horizontalAdvance(nid) - 6
        title = tm.elidedText(self.spec.title, Qt.TextElideMode.ElideRight, title_w)
        desc = describe(self.spec, self.config)
        desc = bm.elidedText(desc, Qt.TextElideMode.ElideRight, inner)
        info = self.info
        if self.severity == "error":
            first = next(i for i in self.issues if i.severity == "error")
            msg = first.message + (f" ({first.field})" if first.field else "")
            shape = bm.elidedText("\u26a0 " + msg, Qt.TextElideMode.ElideRight, inner)
            params = ""
        else:
            params = "" if info is None else (f"{fmt.count(info.params)} params" if info.params else "no weights")
            if self.frozen:
                params = "\u2744 " + params  # frozen: its weights do not train
            elif self.lr_mult != 1.0:
                params = f"lr \u00d7{self.lr_mult:g}  " + params
            shape_w = inner - bm.horizontalAdvance(params) - 8
            shape = bm.elidedText(("\u2192 " + fmt.shape(info.output_shape)) if info and info.output_shape else "\u2192 ?", Qt.TextElideMode.ElideRight, shape_w)
        self._texts = {"title": title, "id": nid, "desc": desc, "shape": shape, "params": params}
        self.setToolTip(self._tooltip())
        self.update()

    def _tooltip(self) -> str:
        spec = self.spec
        lines = [f"<b>{spec.title}</b> &nbsp;<code>{self.node_id}</code>"]
        if self.info is not None and self.info.output_shape is not None:
            i = self.info
            lines.append(
                f"output {fmt.shape(i.output_shape)} &middot; {fmt.full(i.params)} params &middot; {fmt.count(i.macs)} MACs &middot; RF {fmt.rf(i)}"
            )
        if self.frozen:
            lines.append("\u2744 frozen: its weights stay as they are while the rest trains")
        elif self.lr_mult != 1.0:
            lines.append(f"learns at {self.lr_mult:g} \u00d7 the run's learning rate")
        for issue in self.issues:
            colour = theme.colours().error if issue.severity == "error" else theme.colours().warning
            lines.append(f"<span style='color:{colour.name()}'>{issue.severity.capitalize()}: {_esc(str(issue))}</span>")
        lines.append(f"<span>{_esc(_first_sentences(spec.help, 2))}</span>")
        return "<p style='white-space:normal'>" + "<br>".join(lines) + "</p>"

    # ------------------------------------------------------------------ drawing
    def boundingRect(self) -> QRectF:
        return QRectF(-NODE_W / 2 - 3, -NODE_H / 2 - 3, NODE_W + 6, NODE_H + 6)

    def shape(self) -> QPainterPath:
        p = QPainterPath()
        p.addRoundedRect(QRectF(-NODE_W / 2, -NODE_H / 2, NODE_W, NODE_H), RADIUS, RADIUS)
        return p

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        c = theme.colours()
        rect = QRectF(-NODE_W / 2, -NODE_H / 2, NODE_W, NODE_H)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        paint_card(painter, rect, severity=self.severity, selected=selected, drop_highlight=self.drop_highlight, dashed=self.frozen)
        # category accent along the left edge
        accent = QPainterPath()
        accent.addRoundedRect(QRectF(rect.left() + 0.5, rect.top() + 0.5, 10, rect.height() - 1), RADIUS - 1, RADIUS - 1)
        clip = QPainterPath()
        clip.addRect(QRectF(rect.left(), rect.top(), 5, rect.height()))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(self._accent if self.severity != "error" else c.error))
        painter.drawPath(accent.intersected(clip))

        title_f, body_f, small_f = _fonts()
        x0 = rect.left() + PAD + 4
        top = rect.top() + 7
        _renderer(self.type_id).render(painter, QRectF(x0, top, 16, 16))
        t = self._texts
        painter.setFont(title_f)
        painter.setPen(c.text)
        painter.drawText(QRectF(x0 + 22, top - 1, NODE_W, 18), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, t["title"])
        painter.setFont(small_f)
        painter.setPen(c.muted)
        painter.drawText(QRectF(rect.left(), top - 1, NODE_W - PAD, 18), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, t["id"])
        painter.setFont(body_f)
        painter.drawText(QRectF(x0, top + 19, NODE_W - 2 * PAD, 16), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, t["desc"])
        line3 = QRectF(x0, top + 36, NODE_W - 2 * PAD - 4, 16)
        painter.setPen(c.error if self.severity == "error" else c.shape_text)
        painter.drawText(line3, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, t["shape"])
        if t["params"]:
            painter.setPen(c.muted)
            painter.drawText(line3, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, t["params"])

    # ------------------------------------------------------------------ interaction
    def itemChange(self, change, value):
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            scene = self.scene()
            if scene is not None and hasattr(scene, "card_rects"):
                scene.forget_card_rects()
            for e in self.edges:
                e.update_path()
        elif change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            self.setZValue(Z_NODE + (0.5 if value else 0))
        return super().itemChange(change, value)

    def set_drop_highlight(self, on: bool) -> None:
        if on != self.drop_highlight:
            self.drop_highlight = on
            self.update()


class EdgeItem(QGraphicsItem):
    """A link: a cubic Bézier from an output port down to an input port, with the tensor shape it
    carries as a label. The hit shape is a wide stroke, cached with the path."""

    HIT_WIDTH = 14.0

    def __init__(self, edge, src: NodeItem, dst: NodeItem) -> None:
        super().__init__()
        self.edge = edge
        self.src = src
        self.dst = dst
        self.label = ""
        self.drop_highlight = False
        self.hover = False
        self._path = QPainterPath()
        self._shape = QPainterPath()
        self._label_rect = QRectF()
        self._bounds = QRectF()
        self._arrow = QPolygonF()
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(Z_EDGE)
        src.edges.add(self)
        dst.edges.add(self)
        self.update_path()

    def detach(self) -> None:
        self.src.edges.discard(self)
        self.dst.edges.discard(self)

    def set_label(self, text: str) -> None:
        if text != self.label:
            self.label = text
            self.update_path()

    def update_path(self) -> None:
        p0 = self.src.output_anchor()
        p1 = self.dst.input_anchor(self.edge.dst_port)
        self.prepareGeometryChange()
        scene = self.scene()  # around the other cards (routing.py); plain until the item is in a scene
        rects = scene.card_rects(self.src, self.dst) if scene is not None and hasattr(scene, "card_rects") else ()
        self._path = route(p0, p1, rects)
        stroker = QPainterPathStroker()
        stroker.setWidth(self.HIT_WIDTH)
        stroker.setCapStyle(Qt.PenCapStyle.RoundCap)
        self._shape = stroker.createStroke(self._path)
        # arrow head at the input port
        a = 5.0
        self._arrow = QPolygonF([p1 + QPointF(0, -PORT_R + 0.5), p1 + QPointF(-a, -PORT_R - 7), p1 + QPointF(a, -PORT_R - 7)])
        bounds = self._shape.boundingRect()
        if self.label:
            _, _, small_f = _fonts()
            fm = QFontMetricsF(small_f)
            w, h = fm.horizontalAdvance(self.label) + 10, fm.height() + 2
            mid = self._path.pointAtPercent(0.5)
            self._label_rect = QRectF(mid.x() + 6, mid.y() - h / 2, w, h)
            bounds = bounds.united(self._label_rect)
        else:
            self._label_rect = QRectF()
        self._bounds = bounds.adjusted(-2, -2, 2, 2)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        return self._shape

    def path(self) -> QPainterPath:
        return self._path

    def paint(self, painter: QPainter, option, widget=None) -> None:
        c = theme.colours()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        selected = self.isSelected()
        colour = c.drop_target if self.drop_highlight else (c.edge_selected if (selected or self.hover) else c.edge)
        width = 3.0 if (selected or self.drop_highlight) else (2.2 if self.hover else 1.6)
        painter.setPen(QPen(colour, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawPolygon(self._arrow)
        if self.label and not self._label_rect.isNull():
            _, _, small_f = _fonts()
            painter.setFont(small_f)
            painter.setBrush(c.edge_label_bg)
            painter.setPen(QPen(c.node_border, 0.8))
            painter.drawRoundedRect(self._label_rect, 4, 4)
            painter.setPen(c.muted if not selected else c.edge_selected)
            painter.drawText(self._label_rect, Qt.AlignmentFlag.AlignCenter, self.label)

    def hoverEnterEvent(self, event) -> None:
        self.hover = True
        self.update()

    def hoverLeaveEvent(self, event) -> None:
        self.hover = False
        self.update()

    def set_drop_highlight(self, on: bool) -> None:
        if on != self.drop_highlight:
            self.drop_highlight = on
            self.update()


class LinkDragItem(QGraphicsItem):
    """The rubber-band Bézier that follows the mouse while a link is drawn."""

    def __init__(self, anchor: QPointF, from_output: bool) -> None:
        super().__init__()
        self.anchor = anchor
        self.from_output = from_output
        self.end = anchor
        self.valid = None  # None: nowhere; True / False over a port
        self._path = QPainterPath()
        self.setZValue(Z_DRAG)
        self.set_end(anchor)

    def set_end(self, pos: QPointF, valid: bool | None = None) -> None:
        self.prepareGeometryChange()
        self.end, self.valid = pos, valid
        self._path = bezier(self.anchor, pos) if self.from_output else bezier(pos, self.anchor)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._path.boundingRect().adjusted(-4, -4, 4, 4)

    def path(self) -> QPainterPath:
        return self._path

    def paint(self, painter: QPainter, option, widget=None) -> None:
        c = theme.colours()
        colour = c.drop_target if self.valid else (c.error if self.valid is False else c.edge_selected)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(colour, 2.2, Qt.PenStyle.DashLine, Qt.PenCapStyle.RoundCap))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)


def describe(spec, config: dict) -> str:
    """Key parameters for the card: spec.describe, the image size for Input, else what differs
    from the defaults."""
    if spec.role == "input":
        return f"image {config.get('channels')}x{config.get('height')}x{config.get('width')}"
    if spec.key_params:
        parts = []
        for i, name in enumerate(spec.key_params):
            p = spec.param(name)
            v = config.get(name, p.default)
            if v is None or (i > 0 and v == p.default and name != "kernel_size"):
                continue  # the main value and kernel always show; others only when not default
            if p.kind in ("pair", "padding") and not isinstance(v, str):
                v = "x".join(str(x) for x in v) if isinstance(v, (list, tuple)) else f"{v}x{v}" if name in ("kernel_size", "output_size") else v
            parts.append(f"{p.title.lower()} {v}")
        if parts:
            return ", ".join(parts)
    if not spec.params:
        return "no parameters"
    changed = []
    for p in spec.params:
        v = config.get(p.name, p.default)
        if v != p.default:
            changed.append(f"{p.title.lower()} {v}")
    return ", ".join(changed) if changed else "default settings"


def _first_sentences(text: str, n: int) -> str:
    parts = text.split(". ")
    out = ". ".join(parts[:n])
    return out if out.endswith(".") else out + "."


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
