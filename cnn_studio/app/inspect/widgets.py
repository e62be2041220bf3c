"""Building blocks of the inspection views: an image canvas (pyqtgraph, one ImageItem created once,
RGB uint8 pushed with ``setImage(autoLevels=False)``), the views' plots (:func:`still_plot`,
:func:`plot_pane`), a drawing pad, a thumbnail gallery, and the file-dialog and PNG helpers every
view uses."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

HIGHLIGHT = QColor(255, 64, 64)
SELECT = QColor(255, 255, 255)


AXIS_PEN = (60, 60, 60)  # axes on the views' white plots
AXIS_TEXT = (30, 30, 30)


def still_plot(plot: pg.PlotItem, *, mouse: bool = False, dark_axes: bool = True) -> pg.PlotItem:
    """A plot to read rather than explore: no "A" button, no pyqtgraph context menu, no mouse zoom
    or pan unless ``mouse``; dark axes and tick labels (for a white background) unless not
    ``dark_axes``."""
    plot.setMouseEnabled(x=mouse, y=mouse)
    plot.hideButtons()
    plot.setMenuEnabled(False)
    if dark_axes:
        for ax in ("left", "bottom"):
            a = plot.getAxis(ax)
            a.setPen(pg.mkPen(*AXIS_PEN))
            a.setTextPen(pg.mkPen(*AXIS_TEXT))
    return plot


def plot_pane(min_size: tuple[int, int], bottom: pg.AxisItem | None = None, background="w") -> tuple[pg.GraphicsLayoutWidget, pg.PlotItem]:
    """A plot widget of the views: one :func:`still_plot` (x axis ``bottom`` if given, else one whose
    tick labels thin out when narrow) in a widget of at least ``min_size``."""
    from ..axes import ReadableAxis

    widget = pg.GraphicsLayoutWidget()
    widget.setBackground(background)
    widget.setMinimumSize(*min_size)
    plot = widget.addPlot(axisItems={"bottom": bottom if bottom is not None else ReadableAxis("bottom")})
    still_plot(plot, dark_axes=background == "w")
    return widget, plot


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb[:, :, :3], dtype=np.uint8)
    h, w, _ = rgb.shape
    img = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return img.copy()  # own the pixels: the numpy buffer may go away


def rgb_pixmap(rgb: np.ndarray, size: int) -> QPixmap:
    """A thumbnail: nearest-neighbour upscaling keeps small images crisp."""
    img = rgb_to_qimage(rgb)
    return QPixmap.fromImage(img.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation))


def rect_pen(colour: QColor, width: float = 2.0) -> QPen:
    pen = QPen(colour)
    pen.setWidthF(width)
    pen.setCosmetic(True)  # stays 2 screen pixels wide at any zoom
    return pen


class ClickableImage(pg.ImageItem):
    """An ImageItem (row-major) that reports clicks and hovers in image pixel coordinates."""

    clicked = Signal(float, float)  # x, y
    hovered = Signal(float, float)  # x, y; (-1, -1) when the pointer leaves

    def __init__(self):
        super().__init__(axisOrder="row-major")
        self.setAcceptHoverEvents(True)

    def mouseClickEvent(self, ev):
        if ev.button() != Qt.MouseButton.LeftButton:
            return
        ev.accept()
        p = ev.pos()
        self.clicked.emit(float(p.x()), float(p.y()))

    def hoverEvent(self, ev):
        if ev.isExit():
            self.hovered.emit(-1.0, -1.0)
            return
        p = ev.pos()
        self.hovered.emit(float(p.x()), float(p.y()))


class SlantedAxis(pg.AxisItem):
    """A bottom axis whose tick labels are drawn at 45 degrees, so long class names fit under
    narrow columns; its height follows the longest label."""

    def __init__(self, orientation: str = "bottom", angle: float = -45.0, **kw):
        super().__init__(orientation, **kw)
        self.angle = angle
        self._labels: list[str] = []

    def setTicks(self, ticks):
        super().setTicks(ticks)
        self._labels = [str(t) for level in (ticks or []) for _, t in level]
        from PySide6.QtGui import QFontMetricsF

        fm = QFontMetricsF(self.style["tickFont"] or self.font())
        longest = max((fm.horizontalAdvance(t) for t in self._labels), default=0.0)
        import math

        a = math.radians(abs(self.angle))
        self.setHeight(int(longest * math.sin(a) + fm.height() * math.cos(a) + 12))

    def drawPicture(self, p, axisSpec, tickSpecs, textSpecs):
        super().drawPicture(p, axisSpec, tickSpecs, [])
        if self.style["tickFont"] is not None:
            p.setFont(self.style["tickFont"])
        p.setPen(self.textPen())
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        fm = p.fontMetrics()
        for rect, _flags, text in textSpecs:
            p.save()
            p.translate(rect.center().x(), rect.top() + 2)
            p.rotate(self.angle)
            w = fm.horizontalAdvance(text)
            p.drawText(QRectF(-w - 2, -fm.height() / 2, w + 2, fm.height()), int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), text)
            p.restore()


class TileLabels(QGraphicsItem):
    """Small numbers in the top-left corner of each tile of a grid image (channel indices), drawn
    at a fixed screen size in one paint for all tiles, and only while the tiles on screen are big
    enough (``MIN_TILE_PX``) for a label not to hide what it labels."""

    MIN_TILE_PX = 36

    def __init__(self):
        super().__init__()
        self.setZValue(8)
        self._labels: list[tuple[float, float, str]] = []
        self._tile_w = 0.0
        self._rect = QRectF()
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def set_labels(self, labels: list[tuple[float, float, str]], tile_w: float, width: float, height: float) -> None:
        """``labels``: (x, y, text) of each tile's top-left corner in image pixels; ``tile_w``: a
        tile's width in image pixels."""
        self.prepareGeometryChange()
        self._labels = list(labels)
        self._tile_w = float(tile_w)
        self._rect = QRectF(0, 0, width, height)
        self.update()

    @property
    def labels(self) -> list[tuple[float, float, str]]:
        return list(self._labels)

    def shown_at(self, transform) -> bool:
        """Whether the labels are drawn at this item-to-device transform."""
        return bool(self._labels) and abs(transform.m11()) * self._tile_w >= self.MIN_TILE_PX

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter, option, widget=None) -> None:
        to_device = painter.transform()
        if not self.shown_at(to_device):
            return
        painter.save()
        painter.resetTransform()
        font = painter.font()
        font.setPixelSize(10)
        painter.setFont(font)
        fm = painter.fontMetrics()
        h = fm.height()
        painter.setPen(Qt.PenStyle.NoPen)
        for x, y, text in self._labels:
            p = to_device.map(QPointF(x, y))
            box = QRectF(p.x() + 1, p.y() + 1, fm.horizontalAdvance(text) + 6, h)
            painter.setBrush(QColor(0, 0, 0, 150))
            painter.drawRect(box)
            painter.setPen(QColor(235, 238, 242))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
            painter.setPen(Qt.PenStyle.NoPen)
        painter.restore()


class ImageCanvas(pg.GraphicsView):
    """Shows one RGB image, aspect locked, y down; pan with the mouse, zoom with the wheel,
    double-click the background to fit. Overlay rectangles live in the same coordinates (pixels)."""

    clicked = Signal(float, float)
    hovered = Signal(float, float)

    def __init__(self, parent=None, placeholder: str = "", min_size: int = 120):
        super().__init__(parent, background=pg.mkColor(30, 32, 36))
        self.vb = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.vb.setDefaultPadding(0.01)
        self.setCentralItem(self.vb)
        self.image = ClickableImage()
        self.vb.addItem(self.image)
        self.image.clicked.connect(self.clicked)
        self.image.hovered.connect(self.hovered)
        self._shape: tuple[int, int] | None = None
        self._tile_labels: TileLabels | None = None
        self.setMinimumSize(min_size, min_size)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._placeholder = QLabel(placeholder, self)
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setWordWrap(True)
        self._placeholder.setStyleSheet("color: #b8bec8; background: transparent; padding: 12px;")
        self._placeholder.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.set_placeholder(placeholder)

    def add_focus(self, colour: QColor = HIGHLIGHT) -> FocusItem:
        item = FocusItem(colour)
        self.vb.addItem(item, ignoreBounds=True)
        return item

    def set_tile_labels(self, labels: list[tuple[float, float, str]], tile_w: float) -> None:
        """Label tiles of the image shown (see :class:`TileLabels`); an empty list removes them."""
        if self._tile_labels is None:
            self._tile_labels = TileLabels()
            self.vb.addItem(self._tile_labels, ignoreBounds=True)
        h, w = self._shape or (0, 0)
        self._tile_labels.set_labels(labels, tile_w, w, h)

    @property
    def tile_labels(self) -> TileLabels | None:
        return self._tile_labels

    def add_rect(self, colour: QColor = HIGHLIGHT, width: float = 2.0) -> QGraphicsRectItem:
        item = QGraphicsRectItem()
        item.setPen(rect_pen(colour, width))
        item.setZValue(10)
        item.setVisible(False)
        self.vb.addItem(item, ignoreBounds=True)
        return item

    def set_rgb(self, rgb: np.ndarray | None) -> None:
        if rgb is None:
            self.image.clear()
            self._shape = None
            self._placeholder.setVisible(bool(self._placeholder.text()))
            return
        self.image.setImage(rgb, autoLevels=False, levels=(0, 255))
        shape = rgb.shape[:2]
        if shape != self._shape:
            self._shape = shape
            self.fit()
        self._placeholder.setVisible(False)

    def fit(self) -> None:
        if self._shape is not None:
            h, w = self._shape
            self.vb.setRange(QRectF(0, 0, w, h), padding=0.01)

    @property
    def image_shape(self) -> tuple[int, int] | None:
        return self._shape

    def set_placeholder(self, text: str) -> None:
        self._placeholder.setText(text)
        self._placeholder.setVisible(bool(text) and self._shape is None)

    def mouseDoubleClickEvent(self, ev):
        super().mouseDoubleClickEvent(ev)
        self.fit()

    def resizeEvent(self, ev):
        super().resizeEvent(ev)
        ph = getattr(self, "_placeholder", None)  # pyqtgraph calls this from its own __init__
        if ph is not None:
            ph.setGeometry(0, 0, self.width(), self.height())

    def map_image_to_viewport(self, x: float, y: float):
        """Viewport pixel position of image coordinate (x, y) (for tests and tooltips)."""
        scene_pt = self.vb.mapViewToScene(QPointF(x, y))
        return self.mapFromScene(scene_pt)


class FocusItem(QGraphicsPathItem):
    """Dims everything of an image but one box (the receptive field), outlined."""

    def __init__(self, colour: QColor = HIGHLIGHT):
        super().__init__()
        self.setBrush(QBrush(QColor(0, 0, 0, 120)))
        self.setPen(rect_pen(colour, 2.0))
        self.setZValue(9)
        self.setVisible(False)
        self.box: tuple[int, int, int, int] | None = None

    def set_box(self, top: int, left: int, bottom: int, right: int, height: int, width: int) -> None:
        self.box = (top, left, bottom, right)
        path = QPainterPath()
        path.setFillRule(Qt.FillRule.OddEvenFill)
        path.addRect(QRectF(0, 0, width, height))
        path.addRect(QRectF(left, top, right - left + 1, bottom - top + 1))
        self.setPath(path)
        self.setVisible(True)
        self.update()

    def paint(self, painter, option, widget=None):
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.brush())
        painter.drawPath(self.path())
        if self.box is not None:  # outline only the box, not the image border
            t, l_, b, r = self.box
            painter.setPen(self.pen())
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(l_, t, r - l_ + 1, b - t + 1))

    def rect_size(self) -> tuple[int, int] | None:
        """(height, width) of the outlined box in pixels."""
        if self.box is None:
            return None
        t, l_, b, r = self.box
        return b - t + 1, r - l_ + 1


def set_rect(item: QGraphicsRectItem, top: float, left: float, bottom: float, right: float) -> None:
    """Outline the inclusive pixel box (top..bottom, left..right)."""
    item.setRect(QRectF(left, top, right - left + 1, bottom - top + 1))
    item.setVisible(True)
    item.update()


class DrawPad(QWidget):
    """A small square to draw on with the mouse (white on black, like MNIST digits).
    ``changed`` fires when a stroke ends; ``array()`` is the drawing as uint8 (N, N)."""

    changed = Signal()

    def __init__(self, parent=None, resolution: int = 112, pen_width: float = 9.0, display: int = 168):
        super().__init__(parent)
        self.resolution = resolution
        self.pen_width = pen_width
        self._img = QImage(resolution, resolution, QImage.Format.Format_Grayscale8)
        self._img.fill(0)
        self._last: QPointF | None = None
        self.setFixedSize(display, display)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Draw with the left mouse button; the network sees the drawing when you release it")

    def sizeHint(self) -> QSize:
        return QSize(self.width(), self.height())

    def _to_img(self, p) -> QPointF:
        s = self.resolution / max(1, self.width())
        return QPointF(p.x() * s, p.y() * s)

    def _line(self, a: QPointF, b: QPointF) -> None:
        painter = QPainter(self._img)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(QColor(255, 255, 255))
        pen.setWidthF(self.pen_width)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.drawLine(a, b)
        painter.end()
        self.update()

    def mousePressEvent(self, ev):
        if ev.button() == Qt.MouseButton.LeftButton:
            self._last = self._to_img(ev.position())
            self._line(self._last, self._last)

    def mouseMoveEvent(self, ev):
        if self._last is not None:
            p = self._to_img(ev.position())
            self._line(self._last, p)
            self._last = p

    def mouseReleaseEvent(self, ev):
        if self._last is not None and ev.button() == Qt.MouseButton.LeftButton:
            self._last = None
            self.changed.emit()

    def draw_stroke(self, points: list[tuple[float, float]], emit: bool = True) -> None:
        """Draw a polyline given in pad coordinates 0..1 (scripts and tests)."""
        pts = [QPointF(x * self.resolution, y * self.resolution) for x, y in points]
        for a, b in zip(pts, pts[1:] or pts):
            self._line(a, b)
        if emit:
            self.changed.emit()

    def clear(self) -> None:
        self._img.fill(0)
        self.update()
        self.changed.emit()

    def is_empty(self) -> bool:
        return not self.array().any()

    def array(self) -> np.ndarray:
        img = self._img
        ptr = img.constBits()
        a = np.frombuffer(ptr, dtype=np.uint8, count=img.sizeInBytes()).reshape(img.height(), img.bytesPerLine())
        return a[:, : img.width()].copy()

    def paintEvent(self, ev):
        p = QPainter(self)
        p.drawImage(self.rect(), self._img)
        p.setPen(QPen(QColor(90, 96, 106)))
        p.drawRect(self.rect().adjusted(0, 0, -1, -1))
        p.end()


def pad_with_buttons(pad: DrawPad, on_clear=None) -> QWidget:
    w = QWidget()
    lay = QVBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(pad, 0, Qt.AlignmentFlag.AlignHCenter)
    row = QHBoxLayout()
    clear = QPushButton("Clear")
    clear.setToolTip("Erase the drawing")
    clear.clicked.connect(pad.clear)
    row.addStretch(1)
    row.addWidget(clear)
    row.addStretch(1)
    lay.addLayout(row)
    w.clear_button = clear  # type: ignore[attr-defined]
    return w


class Gallery(QListWidget):
    """Thumbnails with a caption; ``activated_data`` carries each item's data (e.g. a sample index)."""

    activated_data = Signal(object)

    def __init__(self, parent=None, thumb: int = 64):
        super().__init__(parent)
        self.thumb = thumb
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setIconSize(QSize(thumb, thumb))
        self.setGridSize(QSize(thumb + 44, thumb + 40))
        self.setUniformItemSizes(True)
        self.setWordWrap(True)
        self.setSpacing(2)
        self.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        self.itemActivated.connect(self._on_item_activated)
        self.itemClicked.connect(self._on_item_activated)

    def set_items(self, items) -> None:
        """items: iterable of (rgb uint8 (H, W, 3), caption, tooltip, data)."""
        self.setUpdatesEnabled(False)
        try:
            self.clear()
            for rgb, caption, tip, data in items:
                it = QListWidgetItem(rgb_pixmap(rgb, self.thumb), caption)
                it.setToolTip(tip)
                it.setData(Qt.ItemDataRole.UserRole, data)
                it.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
                self.addItem(it)
        finally:
            self.setUpdatesEnabled(True)

    def item_data(self) -> list:
        return [self.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.count())]

    @Slot(QListWidgetItem)
    def _on_item_activated(self, item) -> None:
        self.activated_data.emit(item.data(Qt.ItemDataRole.UserRole))


def hline() -> QFrame:
    f = QFrame()
    f.setFrameShape(QFrame.Shape.HLine)
    f.setFrameShadow(QFrame.Shadow.Sunken)
    return f


def tool_button(text: str, tip: str, slot=None, checkable: bool = False) -> QToolButton:
    b = QToolButton()
    b.setText(text)
    b.setToolTip(tip)
    b.setCheckable(checkable)
    b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    if slot is not None:
        (b.toggled if checkable else b.clicked).connect(slot)
    return b


_TAG = None


def _plain(text: str) -> str:
    """The text a rich-text label shows (tags dropped, entities decoded)."""
    global _TAG
    import html
    import re

    if _TAG is None:
        _TAG = re.compile(r"<[^>]*>")
    return html.unescape(_TAG.sub("", text))


class Caption(QLabel):
    """A caption label. Once made one line (:func:`maps_grid.one_line`), text wider than the label
    is shortened with an ellipsis (as plain text) instead of being cut mid-word; ``text()`` keeps
    the whole text (and an empty tooltip becomes it)."""

    elide = False

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self._full = ""
        self.setText(text)

    def text(self) -> str:  # noqa: D401 - Qt's name
        return self._full

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._full = text or ""
        self._refit()

    def _refit(self) -> None:
        full = self._full
        if self.elide:
            plain = _plain(full)
            fm = self.fontMetrics()
            room = self.contentsRect().width()
            if room > 0 and fm.horizontalAdvance(plain) > room:
                super().setTextFormat(Qt.TextFormat.PlainText)
                super().setText(fm.elidedText(plain, Qt.TextElideMode.ElideRight, room))
                if not self.toolTip():  # the views set richer tooltips of their own
                    self.setToolTip(plain)
                return
            super().setTextFormat(Qt.TextFormat.AutoText)
        super().setText(full)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self.elide:
            self._refit()


def caption(text: str = "", bold: bool = False) -> QLabel:
    lab = Caption(text)
    lab.setWordWrap(True)
    lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if bold:
        f = lab.font()
        f.setBold(True)
        lab.setFont(f)
    return lab


def banner() -> QLabel:
    """The line at the top of an inspection view naming what it shows (network, run, weights), or
    that there is nothing to show yet. One line: long text is cut, the tooltip says all."""
    lab = QLabel("")
    lab.setObjectName("sourceBanner")
    lab.setWordWrap(False)
    lab.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
    lab.setVisible(False)
    return lab


class DialogsMixin:
    """What every inspection view shares: file dialogs behind overridable methods (tests give paths
    instead of driving modal loops), its background job runner and teardown, writing a PNG
    with the outcome on the view's status line, and the banner naming the source shown."""

    def _set_banner(self, src) -> None:
        b = getattr(self, "source_banner", None)
        if b is not None:
            text = src.describe()
            b.setText(text)
            b.setToolTip(text)
            b.setVisible(True)

    def _init_runner(self, runner, name: str) -> None:
        from .jobs import JobRunner

        self._runner = runner or JobRunner(self, name)
        self._own_runner = runner is None

    def shutdown(self) -> None:
        """Stop background work (call before the widget goes away)."""
        if self._own_runner:
            self._runner.shutdown()

    def closeEvent(self, ev):
        self.shutdown()
        super().closeEvent(ev)

    def wait_idle(self, timeout_ms: int = 30_000) -> bool:
        """Process events until this view's background jobs are done (True) or the time is up."""
        return self._runner.wait_idle(timeout_ms)

    def _write_png(self, write, path: str, ready: bool = True) -> str | None:
        """Run ``write(path)``; report "nothing to save" or the error on the status line."""
        if not ready:
            self.show_error("Nothing to save yet")
            return None
        try:
            write(path)
        except Exception as e:
            self.show_error(str(e))
            return None
        self.status.setText(f"Saved {path}")
        return path

    def get_open_paths(self, caption_text: str = "Open images", filter_text: str = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;All files (*)") -> list[str]:
        paths, _ = QFileDialog.getOpenFileNames(self, caption_text, "", filter_text)  # type: ignore[arg-type]
        return list(paths)

    def get_save_path(self, caption_text: str = "Save as PNG", default_name: str = "image.png") -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, caption_text, default_name, "PNG images (*.png)")  # type: ignore[arg-type]
        if not path:
            return None
        return path if path.lower().endswith(".png") else path + ".png"

    def show_error(self, message: str) -> None:
        """Errors go to the view's status line (no modal boxes inside a dock)."""
        status = getattr(self, "status", None)
        if status is not None:
            status.setText(f"<span style='color:#dc2626'>{message}</span>")


def save_widget_png(widget: QWidget, path: str) -> str:
    from ...core.errors import StudioError

    pix = widget.grab()
    if not pix.save(str(path), "PNG"):
        raise StudioError(f"cannot write '{path}'; check that the folder exists and is writable")
    return str(path)
