"""Links that would pass behind cards go around them.

Templates stack a block's layers (and a flat ResNet's) in one column, so a skip link (block input ->
Add) drawn as the plain top-to-bottom curve runs straight down behind the cards between its ends and
reads as a chain of real connections. :func:`route` keeps the plain curve when it crosses no other
card, and otherwise bends out to the side (the nearer side that is clear), runs down past the cards
and comes back into the input port from above, as Netron draws skips.

Cost: an edge is routed when its path is (re)computed (a rebuild, a move of one of its cards, a
commit of moves), never per paint; only the cards whose rectangles meet the curve's bounding box
are sampled against it.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QPainterPath

SIDE_GAP = 26.0  # between a detour and the cards it passes
SAMPLES = 24


def bezier(p0: QPointF, p1: QPointF) -> QPainterPath:
    """A top-to-bottom cubic: leaves p0 downwards and enters p1 from above."""
    dy = max(30.0, abs(p1.y() - p0.y()) * 0.5)
    if p1.y() < p0.y():  # going back up: swing wide so the curve stays readable
        dy = max(60.0, abs(p1.y() - p0.y()) * 0.4 + 40)
    path = QPainterPath(p0)
    path.cubicTo(p0 + QPointF(0, dy), p1 - QPointF(0, dy), p1)
    return path


def crossed(path: QPainterPath, rects, samples: int = SAMPLES) -> list[QRectF]:
    """The rectangles among ``rects`` that a point of ``path`` (sampled) falls inside."""
    box = path.boundingRect().adjusted(-1, -1, 1, 1)
    near = [r for r in rects if r.intersects(box)]
    if not near:
        return []
    pts = [path.pointAtPercent(k / samples) for k in range(1, samples)]
    return [r for r in near if any(r.contains(p) for p in pts)]


def _detour(p0: QPointF, p1: QPointF, x: float, top: float, bottom: float) -> QPainterPath:
    """p0 down, across to x above ``top``, down to below ``bottom``, across and into p1 from above."""
    a = max(8.0, min(60.0, top - p0.y() - 2))  # the first bend ends before the first card passed
    b = max(8.0, min(60.0, p1.y() - bottom - 2))
    path = QPainterPath(p0)
    path.cubicTo(QPointF(p0.x(), p0.y() + a * 0.6), QPointF(x, p0.y() + a * 0.4), QPointF(x, p0.y() + a))
    path.lineTo(QPointF(x, p1.y() - b))
    path.cubicTo(QPointF(x, p1.y() - b * 0.4), QPointF(p1.x(), p1.y() - b * 0.6), p1)
    return path


def _clear_x(x: float, side: int, y0: float, y1: float, rects) -> float:
    """Push x sideways until the vertical run from y0 to y1 at x meets no rectangle."""
    for _ in range(len(rects) + 1):
        hit = [r for r in rects if r.top() < y1 and r.bottom() > y0 and r.left() - SIDE_GAP / 2 < x < r.right() + SIDE_GAP / 2]
        if not hit:
            return x
        x = (max(r.right() for r in hit) + SIDE_GAP) if side > 0 else (min(r.left() for r in hit) - SIDE_GAP)
    return x


def route(p0: QPointF, p1: QPointF, rects) -> QPainterPath:
    """The path of a link from the output anchor p0 to the input anchor p1 that passes behind none
    of ``rects`` (the other cards' rectangles, the link's own two cards left out) where it can."""
    plain = bezier(p0, p1)
    rects = list(rects)
    blockers = crossed(plain, rects)
    if not blockers or p1.y() - p0.y() < 40:  # clear, or going back up: the plain curve
        return plain
    top = min(r.top() for r in blockers)
    bottom = max(r.bottom() for r in blockers)
    best = None
    for side in (1, -1):
        x = (max(r.right() for r in blockers) + SIDE_GAP) if side > 0 else (min(r.left() for r in blockers) - SIDE_GAP)
        x = _clear_x(x, side, top, bottom, rects)
        path = _detour(p0, p1, x, top, bottom)
        cost = (len(crossed(path, rects, 48)), abs(x - p0.x()) + abs(x - p1.x()))
        if best is None or cost < best[0]:
            best = (cost, path)
    if best[0][0] >= len(blockers):  # no better than the plain curve
        return plain
    return best[1]
