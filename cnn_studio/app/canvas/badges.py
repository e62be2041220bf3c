"""Problem badges on the canvas cards: what the shown run's layer statistics found in a layer.

A :class:`StatsBadge` is a small pill drawn over a card's top-right corner ("41% dead", "saturated",
"vanishing gradients", "exploding gradients", "large updates"), a child item of the card, so it moves
with it and goes when the card goes. Its tooltip says what the problem means and what usually helps,
in the terms of the layer lessons (a ReLU that outputs zero passes no gradient, Leaky ReLU keeps a
small slope, tanh and sigmoid squash, batch norm keeps values in a good range).

:class:`BadgeController` keeps the badges of one scene in step with a list of flags (the Layer
statistics view's ``flags_changed``): it puts badges on the cards whose node id and type match the
run's, and puts them back when the scene rebuilds its cards (undo, open, a reset graph). An empty
list (File > New, another network, a run without statistics) removes them all.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, QRectF, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

from .items import NODE_H, NODE_W, _esc, _fonts

SEVERE = ("dead", "exploding_gradients")  # red; the others amber
RED, AMBER = QColor(220, 38, 38), QColor(217, 119, 6)

# what each problem means, in the words of the layer lessons (the flag's own message adds the numbers)
MEANING = {
    "dead": "A ReLU outputs zero for every negative input. A unit whose input is negative for every image "
            "always outputs zero, passes no gradient back and so never learns again: it has died. Leaky ReLU "
            "keeps a small slope below zero and fixes this \u201cdying neuron\u201d problem.",
    "saturated": "Tanh squashes values into [-1, 1] and sigmoid into [0, 1]. Far from zero both curves are flat, "
                 "so a unit that sits at a limit has a gradient close to zero and hardly learns.",
    "vanishing_gradients": "Each layer scales the gradient on its way back from the loss. Tanh and sigmoid shrink "
                           "it (a sigmoid's slope is at most 1/4), so after many layers almost nothing reaches the "
                           "first ones and they barely change.",
    "exploding_gradients": "Each layer scales the gradient on its way back from the loss. When the weights make "
                           "it grow layer by layer, the first layers get enormous gradients and one step can throw "
                           "their weights far off.",
    "large_updates": "One optimizer step should change a layer's weights by a small fraction of their size "
                     "(about 0.1 %). Much larger steps jump over good solutions.",
}


def badge_text(flags: list[dict]) -> str:
    """The pill's text: the most serious problem's short badge, "+N" for the others."""
    first = sorted(flags, key=lambda f: f["kind"] not in SEVERE)[0]
    return first["badge"] + (f" +{len(flags) - 1}" if len(flags) > 1 else "")


def badge_tooltip(node_id: str, flags: list[dict]) -> str:
    parts = [f"<b>Layer statistics of the shown run</b> &nbsp;<code>{_esc(node_id)}</code>"]
    for f in flags:
        colour = (RED if f["kind"] in SEVERE else AMBER).name()
        parts.append(f"<span style='color:{colour}'><b>{_esc(f['badge'])}</b></span>: {_esc(MEANING.get(f['kind'], ''))}")
        parts.append(f"<i>In this run</i>: {_esc(f['message'])}.")
    return "<p style='white-space:normal'>" + "<br>".join(parts) + "</p>"


class StatsBadge(QGraphicsItem):
    """A pill over a card's top-right corner (left of nothing the card draws there: the title and id
    sit below its middle line, the input port is in the middle of the top edge)."""

    def __init__(self, parent: QGraphicsItem, flags: list[dict]) -> None:
        super().__init__(parent)
        self.flags: list[dict] = []
        self.text = ""
        self._rect = QRectF()
        self.setAcceptHoverEvents(True)
        self.setZValue(3)  # above the ports
        self.set_flags(flags)

    def set_flags(self, flags: list[dict]) -> None:
        self.prepareGeometryChange()
        self.flags = list(flags)
        self.text = badge_text(flags)
        _, _, small = _fonts()
        fm = QFontMetricsF(small)
        w, h = min(fm.horizontalAdvance(self.text) + 12, NODE_W * 0.62), fm.height() + 4
        self._rect = QRectF(NODE_W / 2 - w - 6, -NODE_H / 2 - h + 4, w, h)  # above the id, over the border
        self.setToolTip(badge_tooltip(getattr(self.parentItem(), "node_id", ""), flags))
        self.update()

    @property
    def severe(self) -> bool:
        return any(f["kind"] in SEVERE for f in self.flags)

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-1, -1, 1, 1)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        colour = RED if self.severe else AMBER
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(colour.darker(120), 1.0))
        painter.setBrush(QBrush(colour))
        r = self._rect
        painter.drawRoundedRect(r, r.height() / 2, r.height() / 2)
        _, _, small = _fonts()
        painter.setFont(small)
        painter.setPen(QColor(255, 255, 255))
        text = QFontMetricsF(small).elidedText(self.text, Qt.TextElideMode.ElideRight, r.width() - 10)
        painter.drawText(r, Qt.AlignmentFlag.AlignCenter, text)


class BadgeController(QObject):
    """Badges of one canvas scene, from the flags of the shown run."""

    def __init__(self, scene, parent=None) -> None:
        super().__init__(parent or scene)
        self.scene = scene
        self.flags: list[dict] = []
        self.types: dict[str, str] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.apply)
        # cards are made again on undo, open and resets: put the badges back once the scene has them
        scene.changed.connect(self._on_scene_changed)

    def set_flags(self, flags: list[dict], types: dict | None = None) -> None:
        self.flags = list(flags)
        self.types = dict(types or {})
        self.apply()

    def _on_scene_changed(self, _rects) -> None:
        if self.flags and any(self._wanted(item) and self.badge(item.node_id) is None
                              for item in self.scene.node_items.values()):
            self._timer.start()

    def _by_node(self) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for f in self.flags:
            out.setdefault(f["node"], []).append(f)
        return out

    def _wanted(self, item) -> bool:
        t = self.types.get(item.node_id)
        return item.node_id in {f["node"] for f in self.flags} and (t is None or t == item.type_id)

    def apply(self) -> None:
        """Badges on exactly the cards with a problem (same id and type as in the run), none elsewhere."""
        by_node = self._by_node()
        for nid, item in self.scene.node_items.items():
            badge = self.badge(nid)
            flags = by_node.get(nid) if self._wanted(item) else None
            if flags:
                if badge is None:
                    StatsBadge(item, flags)
                elif badge.flags != flags:
                    badge.set_flags(flags)
            elif badge is not None:
                badge.setParentItem(None)
                self.scene.removeItem(badge)

    def badge(self, node_id: str) -> StatsBadge | None:
        item = self.scene.node_items.get(node_id)
        if item is None:
            return None
        return next((c for c in item.childItems() if isinstance(c, StatsBadge)), None)

    def badges(self) -> dict[str, StatsBadge]:
        return {nid: b for nid in self.scene.node_items if (b := self.badge(nid)) is not None}
