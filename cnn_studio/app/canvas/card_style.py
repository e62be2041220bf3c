"""The one card outline of the canvas: fill, border colour and width by problem severity, the drop
target and selection highlights, and the dashed outline of a frozen card. Layer cards
(items.NodeItem), block cards and frames (block_item.BlockItem) and the edit canvas's block
input/output cards (inner_edit.BlockPortCard) all paint their outline here, so they cannot drift
apart."""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen

from .. import theme

RADIUS = 9.0


def card_colours(severity: str | None, selected: bool, drop_highlight: bool, base_width: float = 1.0, issue_width: float = 1.6):
    """(fill, border colour, border width) of a card."""
    c = theme.colours()
    fill, border, width = c.node_fill, c.node_border, base_width
    if severity == "error":
        fill, border, width = c.error_fill, c.error, issue_width
    elif severity == "warning":
        fill, border, width = c.warning_fill, c.warning, issue_width
    if drop_highlight:
        border, width = c.drop_target, 2.6
    elif selected:
        border, width = c.node_selected, 2.4
    return fill, border, width


def paint_card(painter: QPainter, rect: QRectF, *, severity: str | None = None, selected: bool = False, drop_highlight: bool = False,
               dashed: bool = False, fill: QColor | None = None, base_width: float = 1.0, issue_width: float = 1.6,
               radius: float = RADIUS) -> None:
    """Draw a card's rounded outline and fill. ``dashed``: a frozen card (solid again while selected);
    ``fill`` replaces the severity fill (an expanded block's frame)."""
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    own_fill, border, width = card_colours(severity, selected, drop_highlight, base_width, issue_width)
    painter.setPen(QPen(border, width, Qt.PenStyle.DashLine if dashed and not selected else Qt.PenStyle.SolidLine))
    painter.setBrush(QBrush(fill if fill is not None else own_fill))
    painter.drawRoundedRect(rect, radius, radius)
