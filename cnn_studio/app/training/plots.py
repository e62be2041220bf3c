"""Live training curves (pyqtgraph): loss per batch (raw and smoothed) and per epoch, accuracy,
learning rate and samples/s, with a crosshair read-out.

Data arrive through plain method calls from the GUI thread (the worker's signals are queued to it);
they land in bounded :class:`Series` buffers. Frames are driven by the data: new data draw at once
when the last frame is at least half a frame old (``fps`` frames a second, fewer when a paint
costs more than ``PAINT_SHARE`` of a frame: see ``TrainingPlots.frame_s``), sooner ones wait for
the next data or, if none come, a single-shot timer; only the curves whose data changed are
redrawn. So the cost of plotting does not grow with the run's length or the batch rate, a frame
shares the GUI thread's wake-up with the data it shows (each wake-up of the GUI thread preempts the
trainer on a small machine), and an idle window does not wake at all.

Drawing is kept cheap because it shares the machine with training (on 2 cores every millisecond
the GUI thread spends is taken from the trainer):

- the axes' ranges are set here, not by pyqtgraph's auto-range: x spans the planned run from its
  start (the curves grow into it, as in MATLAB's training-progress plot), and y grows in "nice"
  steps with hysteresis, so a new point rarely changes an axis; an unchanged axis is not re-laid out;
- axes (with their grid) are cached as pixmaps, so a frame repaints the curves and blits the rest;
- the curves are :class:`LiveCurve` items, not pyqtgraph's: new points repaint only the strip of
  each plot where they land, with no per-frame bounds or padding computations.

Measured by ``benchmarks/plots.py``: about 0.65 ms of GUI-thread CPU per frame early in a run and
0.95 ms late in a long one (series full), against 23 ms with pyqtgraph's auto-range and 0.8/1.6 ms
with its curve items. Zooming or panning a plot stops it following the run; its "A" button brings
it back.
"""
from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, QTimer, Slot
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsSimpleTextItem, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..axes import ReadableAxis
from ..visibility import on_screen
from .series import Series, Smoother

COLOURS = {
    "train_batch": (150, 150, 150),
    "train_smooth": (31, 119, 180),
    "train_epoch": (31, 119, 180),
    "val_epoch": (255, 127, 14),
    "lr": (44, 160, 44),
    "throughput": (148, 103, 189),
}

# which series each plot shows
PLOT_SERIES = {
    "loss": ("loss_batch", "loss_smooth", "loss_train", "loss_val"),
    "acc": ("acc_batch", "acc_train", "acc_val"),
    "lr": ("lr",),
    "throughput": ("throughput",),
}
FIXED_Y = {"acc": (0.0, 1.0)}
LEFT_AXIS_WIDTH = 68  # px: the label and "0.0005"-wide tick text side by side
PLOTS_MIN_W = 320  # px: the four plots' least width (the legend wraps above them)
END_LABEL_MARGIN = 16  # px right of the plots: room for half of the last epoch's tick label ("100")

_NICE = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def nice_ceil(v: float) -> float:
    """The smallest number of the form m * 10^k (m in 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8) >= v > 0."""
    if not v > 0 or not math.isfinite(v):
        return 1.0
    k = math.floor(math.log10(v))
    for m in _NICE:
        c = m * 10.0**k
        if c >= v * (1 - 1e-12):
            return c
    return 10.0 ** (k + 1)


def follow_range(current: tuple[float, float] | None, lo: float, hi: float, headroom: float = 0.15, shrink_below: float = 0.35) -> tuple[float, float]:
    """y range for data in [lo, hi] that changes rarely: it includes 0, grows in nice steps with
    ``headroom`` above the data, and shrinks only when the data fill less than ``shrink_below`` of it.
    Returns ``current`` itself when it still fits."""
    bottom = 0.0 if lo >= 0 else -nice_ceil(-lo * (1 + headroom))
    top_needed = max(hi, 0.0)
    if current is not None:
        b0, t0 = current
        span = t0 - b0
        fits = b0 <= min(lo, 0.0) and top_needed <= t0 and b0 >= bottom and span > 0
        if fits and (max(top_needed, 0.0) - bottom) >= shrink_below * span:
            return current
    if top_needed <= 0:
        top = 0.0 if bottom < 0 else 1.0
    else:
        top = nice_ceil(top_needed * (1 + headroom))
    return (bottom, top)


class LiveCurve(QGraphicsItem):
    """A curve of the live plots, drawn on every frame of a run at a fraction of pyqtgraph's cost.

    Each frame of pyqtgraph's ``PlotCurveItem``/``ScatterPlotItem`` recomputes their data bounds
    and pixel padding and repaints the whole plot area, all in Python under the GIL that the
    training thread needs between its ops: measured in the app, the live curves took about 4.5 %
    of tinyvgg's samples/s on 2 cores. This item keeps what a growing curve allows:

    - its bounding rectangle is the view it lives in (set by :meth:`set_view`, on range changes
      only), not its data, so new data do not change its geometry;
    - new points mark only the strip of x they cover as dirty (from the last unchanged point on),
      so a frame repaints a narrow strip of each plot; a changed history (a decimated series, a new
      run) repaints the whole view;
    - it paints one path with a cosmetic pen, and optionally a dot per point (``dot`` px wide:
      the per-epoch curves, which change once an epoch and are repainted from a pixmap meanwhile).

    Lives in a ``ViewBox`` (added with ``ignoreBounds``): data coordinates, clipped to the view.
    """

    STRIP_PAD = 0.01  # of the view's width, each side of a dirty strip (covers the pen and rounding)

    def __init__(self, colour, width: float = 1.0, dot: float = 0.0):
        super().__init__()
        self._colour = QColor(*colour)
        self._pen = QPen(self._colour)
        self._pen.setWidthF(width)
        self._pen.setCosmetic(True)
        self._dot = float(dot)
        self._path = QPainterPath()
        self._x = np.empty(0)
        self._y = np.empty(0)
        self._view = QRectF()
        if dot:
            self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    # QGraphicsItem
    def boundingRect(self) -> QRectF:
        return self._view

    def paint(self, painter, option, widget=None) -> None:
        if not self._path.isEmpty():
            painter.setPen(self._pen)
            painter.drawPath(self._path)
        if self._dot and len(self._x):
            to_device = painter.transform()  # dots are round and dot px wide whatever the axes' scales
            painter.save()
            painter.resetTransform()
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self._colour)
            r = self._dot / 2
            for x, y in zip(self._x.tolist(), self._y.tolist()):
                painter.drawEllipse(to_device.map(QPointF(x, y)), r, r)
            painter.restore()

    # data
    def set_view(self, rect: QRectF) -> None:
        """The view's data rectangle changed: it is this item's bounds."""
        if rect != self._view:
            self.prepareGeometryChange()
            self._view = QRectF(rect)

    def getData(self):
        return self._x, self._y

    def set_data(self, x: np.ndarray, y: np.ndarray) -> None:
        """Show (x, y) (finite points only) and mark what changed for repainting."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        finite = np.isfinite(x) & np.isfinite(y)
        if not finite.all():  # a NaN/inf loss (the run stops on it) is not drawn
            x, y = x[finite], y[finite]
        old_x, old_y = self._x, self._y
        self._x, self._y = x.copy(), y.copy()
        self._path = pg.arrayToQPath(self._x, self._y, connect="all") if len(x) > 1 else QPainterPath()
        # the drawn prefix that is unchanged (the last old point may be a pending average)
        keep = min(len(old_x), len(x)) - 1
        view = self._view
        if (
            self._dot
            or keep < 1
            or view.isEmpty()
            or not (np.array_equal(old_x[:keep], x[:keep]) and np.array_equal(old_y[:keep], y[:keep]))
        ):
            self.update()
            return
        pad = self.STRIP_PAD * view.width()
        x0 = float(x[keep - 1]) - pad
        x1 = float(max(x[-1], old_x[-1])) + pad
        self.update(QRectF(x0, view.top(), max(x1 - x0, 0.0), view.height()))


class EpochAxis(ReadableAxis):
    """The epoch axis; its labels thin out on a narrow plot (ReadableAxis). pyqtgraph draws no tick
    label that reaches past its axis's bounding rect, so the labels of the run's first and last
    epochs, centred on the axis's ends, were never drawn (10 epochs read "2 4 6 8"). This axis lets
    a label reach END_LABEL_MARGIN px past either end; the plots' layout keeps that margin free on
    the right."""

    def boundingRect(self):
        return super().boundingRect().adjusted(-END_LABEL_MARGIN, 0, END_LABEL_MARGIN, 0)


class TimedView(pg.GraphicsLayoutWidget):
    """The plots' view, timing its own paints (``paint_s``: a moving average of the seconds one
    paint takes). Qt paints it in C++ with the GIL held (PySide6 does not release it), so every
    paint stalls the training thread; the frame rate follows this cost (TrainingPlots.frame_s)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.paint_s: float | None = None

    def paintEvent(self, ev):  # noqa: N802 - Qt's name
        t0 = time.perf_counter()
        super().paintEvent(ev)
        dt = time.perf_counter() - t0
        self.paint_s = dt if self.paint_s is None else 0.8 * self.paint_s + 0.2 * dt


class TrainingPlots(QWidget):
    """Four plots in a 2x2 grid sharing the x axis (epochs, fractional during an epoch)."""

    def __init__(self, parent=None, fps: float = 10.0, capacity: int = 2000):
        super().__init__(parent)
        self.series: dict[str, Series] = {name: Series(capacity) for names in PLOT_SERIES.values() for name in names}
        self._smooth = Smoother(0.9)
        self._drawn: dict[str, int] = {name: s.version for name, s in self.series.items()}  # all empty
        self._x_end = 1.0  # the planned run's last epoch: x spans [0, x_end]
        self._follow_x = True
        self._follow_y = {key: True for key in PLOT_SERIES}
        self._y_range: dict[str, tuple[float, float] | None] = {key: None for key in PLOT_SERIES}
        self._x_set: float | None = None
        self._setting_range = False
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        self.legend = QLabel()
        self.legend.setObjectName("plotLegend")
        self.legend.setText(self._legend_html())
        # wraps in a narrow dock instead of setting the dock's (and the window's) minimum width
        self.legend.setWordWrap(True)
        self.readout = QLabel(" ")
        self.readout.setObjectName("plotReadout")
        top = QWidget()
        row = pg.QtWidgets.QHBoxLayout(top)
        row.setContentsMargins(6, 2, 6, 0)
        row.addWidget(self.legend, 1)  # the legend takes the row's width (it wraps only when it must)
        lay.addWidget(top)
        # the crosshair read-out has a line of its own, elided to its width: beside the legend, its
        # ~550 px of text widened the dock (and re-laid out the window) while the mouse moved
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.readout.setContentsMargins(6, 0, 6, 0)
        lay.addWidget(self.readout)
        self.view = TimedView()
        self.view.ci.layout.setContentsMargins(2, 2, END_LABEL_MARGIN, 2)
        self.view.setMinimumSize(PLOTS_MIN_W, 160)  # two plots side by side stay readable
        lay.addWidget(self.view, 1)
        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[str, LiveCurve] = {}
        titles = {"loss": "Loss", "acc": "Accuracy", "lr": "Learning rate", "throughput": "Samples / s"}
        first = None
        # a 2x2 grid: the dock is wide and short (loss | accuracy over lr | samples/s)
        for i, key in enumerate(titles):
            p = self.view.addPlot(row=i // 2, col=i % 2, axisItems={"bottom": EpochAxis("bottom")})
            p.setLabel("left", titles[key])
            # no "(x0.001)" appended to the label: on a short plot the longer label ran into its neighbour
            p.getAxis("left").enableAutoSIPrefix(False)
            # a fixed width: otherwise a wider tick label re-lays out the row, resizes the views and
            # re-renders every axis in it
            p.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
            p.showGrid(x=True, y=True, alpha=0.2)
            p.setClipToView(True)
            p.setDownsampling(auto=True, mode="peak")
            p.disableAutoRange()
            p.vb.setDefaultPadding(0.0)
            if first is None:
                first = p
            else:
                p.setXLink(first)
            if i >= 2:
                p.setLabel("bottom", "Epoch")
            for name in ("left", "bottom", "top", "right"):
                # an axis (and the grid it draws) repaints from a pixmap unless its range changed
                p.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            p.vb.sigRangeChangedManually.connect(lambda mask, key=key: self._on_range_changed_manually(key, mask))
            try:  # "A" (auto) follows the run again instead of pyqtgraph's auto-range
                p.autoBtn.clicked.disconnect()
            except (RuntimeError, TypeError):
                pass
            p.autoBtn.clicked.connect(lambda *_, key=key: self.follow(key))
            self.plots[key] = p
        self._curve("loss_batch", "loss", COLOURS["train_batch"], 1)
        # per-batch curves are 1 px: a wider pen is stroked as a polygon, twice the cost of a frame
        self._curve("loss_smooth", "loss", COLOURS["train_smooth"], 1)
        self._curve("loss_train", "loss", COLOURS["train_epoch"], 2, dot=5)
        self._curve("loss_val", "loss", COLOURS["val_epoch"], 2, dot=5)
        self._curve("acc_batch", "acc", COLOURS["train_batch"], 1)
        self._curve("acc_train", "acc", COLOURS["train_epoch"], 2, dot=5)
        self._curve("acc_val", "acc", COLOURS["val_epoch"], 2, dot=5)
        self._curve("lr", "lr", COLOURS["lr"], 1)
        self._curve("throughput", "throughput", COLOURS["throughput"], 1)

        for key, p in self.plots.items():
            p.vb.sigRangeChanged.connect(lambda vb, *_, key=key: self._on_view_changed(key))
        self._vlines = {}
        for key, p in self.plots.items():
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen((120, 120, 120), style=pg.QtCore.Qt.PenStyle.DashLine))
            line.setVisible(False)
            p.addItem(line, ignoreBounds=True)
            self._vlines[key] = line
        self._mouse_proxy = pg.SignalProxy(self.view.scene().sigMouseMoved, rateLimit=30, slot=self._on_mouse_moved)
        self._apply_palette()
        self._apply_ranges(force=True)

        # frames: at most fps a second, drawn when data arrive (see _data_changed)
        self._frame_s = 1.0 / max(float(fps), 0.1)
        self._last_frame = -math.inf
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._on_timer_timeout)

    def _curve(self, name, plot, colour, width, dot: float = 0.0):
        item = LiveCurve(colour, width, dot)
        vb = self.plots[plot].vb
        vb.addItem(item, ignoreBounds=True)
        item.set_view(vb.viewRect())
        self.curves[name] = item

    @staticmethod
    def _legend_html() -> str:
        def swatch(colour, text, dot=False):
            r, g, b = colour
            mark = "&#9679;" if dot else "&#9473;&#9473;"
            return f'<span style="color: rgb({r},{g},{b})">{mark}</span>&nbsp;{text}'

        items = (
            swatch(COLOURS["train_batch"], "train (batch)"),
            swatch(COLOURS["train_smooth"], "train (smoothed)"),
            swatch(COLOURS["train_epoch"], "train (epoch)", dot=True),
            swatch(COLOURS["val_epoch"], "validation", dot=True),
        )
        return "&nbsp;&nbsp;&nbsp;".join(items)

    # ------------------------------------------------------------------ theme
    def _apply_palette(self) -> None:
        """Plot background, axes and text from the widget's palette (light or dark theme)."""
        pal = self.palette()
        base = pal.color(QPalette.ColorRole.Base)
        text = pal.color(QPalette.ColorRole.Text)
        self.view.setBackground(base)
        for p in self.plots.values():
            for name in ("left", "bottom"):
                ax = p.getAxis(name)
                ax.setPen(text)
                ax.setTextPen(text)

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(event)

    # ------------------------------------------------------------------ ranges
    def begin_run(self, epochs: float) -> None:
        """A run of ``epochs`` epochs (in all, a resumed run's past included) starts: x spans it."""
        self._x_end = max(1.0, float(epochs))
        self.follow()

    def follow(self, key: str | None = None) -> None:
        """Let the axes (of one plot, or all) follow the run again after a zoom or pan."""
        self._follow_x = True
        for k in self._follow_y if key is None else (key,):
            self._follow_y[k] = True
        self._apply_ranges(force=True)
        if key is not None:
            self.plots[key].autoBtn.hide()

    def _on_view_changed(self, key: str) -> None:
        rect = self.plots[key].vb.viewRect()
        for name in PLOT_SERIES[key]:
            self.curves[name].set_view(rect)

    def following(self, key: str) -> bool:
        return self._follow_y[key]

    def _on_range_changed_manually(self, key: str, mask) -> None:
        if self._setting_range:
            return
        try:
            x_changed, y_changed = bool(mask[0]), bool(mask[1])
        except (TypeError, IndexError):
            x_changed = y_changed = True
        # what the view shows is no longer what was set here: following again must set it
        if x_changed:
            self._follow_x = False
            self._x_set = None
        if y_changed:
            self._follow_y[key] = False
            self._y_range[key] = None

    def _data_bounds(self, key: str) -> tuple[float, float] | None:
        lo, hi = math.inf, -math.inf
        for name in PLOT_SERIES[key]:
            y = self.series[name].y
            if len(y):
                finite = y[np.isfinite(y)]
                if len(finite):
                    lo = min(lo, float(finite.min()))
                    hi = max(hi, float(finite.max()))
        return (lo, hi) if lo <= hi else None

    def _x_max(self) -> float:
        end = self._x_end
        for s in self.series.values():
            last = s.last()
            if last is not None and math.isfinite(last[0]):
                end = max(end, float(math.ceil(last[0])))
        return end

    def _apply_ranges(self, keys=None, force: bool = False) -> None:
        """Set the followed ranges that changed. ``force``: fit the data afresh (no hysteresis).
        A range equal to the one shown is not set again: a set range re-renders its axis."""
        self._setting_range = True
        try:
            if self._follow_x:
                end = self._x_max()
                if end != self._x_set:
                    next(iter(self.plots.values())).setXRange(0.0, end, padding=0.01)  # the others are x-linked
                    self._x_set = end
            for key in keys if keys is not None else self.plots:
                if not self._follow_y[key]:
                    continue
                if key in FIXED_Y:
                    rng = FIXED_Y[key]
                else:
                    bounds = self._data_bounds(key)
                    if bounds is None:
                        rng = self._y_range[key] or (0.0, 1.0)
                    else:
                        rng = follow_range(None if force else self._y_range[key], *bounds)
                if rng != self._y_range[key]:
                    self.plots[key].setYRange(rng[0], rng[1], padding=0.02)
                    self._y_range[key] = rng
        finally:
            self._setting_range = False

    def reset_ranges(self) -> None:
        """Forget the shown ranges (File > New, another run): the axes go back to the empty [0, 1]
        instead of keeping the previous run's, and follow the next data afresh."""
        self._x_end = 1.0
        self._x_set = None
        self._y_range = {key: None for key in PLOT_SERIES}
        self.follow()

    def set_note(self, key: str, text: str) -> None:
        """A grey line of text in plot ``key``'s corner (e.g. "not recorded"); "" removes it."""
        notes = self.__dict__.setdefault("_notes", {})
        item = notes.get(key)
        if item is None:
            item = QGraphicsSimpleTextItem(self.plots[key].vb)  # in the view box's own pixels, not data
            item.setBrush(pg.mkBrush(130, 130, 130))
            item.setPos(8, 6)
            notes[key] = item
        item.setText(text)
        item.setVisible(bool(text))

    def note(self, key: str) -> str:
        item = self.__dict__.get("_notes", {}).get(key)
        return item.text() if item is not None and item.isVisible() else ""

    # ------------------------------------------------------------------ data in
    def clear(self) -> None:
        for s in self.series.values():
            s.clear()
        self._smooth.reset()
        self._x_end = 1.0
        self.redraw()
        # the axes stay as they are until the next run's begin_run() or first data: setting them
        # here and again a moment later re-rendered every axis twice per run

    def add_batch(self, x: float, loss: float, accuracy: float | None = None, lr: float | None = None, samples_per_s: float | None = None) -> None:
        self.series["loss_batch"].append(x, loss)
        self.series["loss_smooth"].append(x, self._smooth(loss))
        if accuracy is not None:
            self.series["acc_batch"].append(x, accuracy)
        if lr is not None:
            self.series["lr"].append(x, lr)
        if samples_per_s is not None and samples_per_s > 0:
            self.series["throughput"].append(x, samples_per_s)
        self._data_changed()

    def add_epoch(self, epoch: float, metrics: dict) -> None:
        pairs = (("train_loss", "loss_train"), ("val_loss", "loss_val"), ("train_accuracy", "acc_train"), ("val_accuracy", "acc_val"))
        for key, name in pairs:
            v = metrics.get(key)
            if v is not None:
                self.series[name].append(epoch, float(v))
        self._data_changed(hold=True)

    # ------------------------------------------------------------------ drawing
    # New data are drawn at once when the last frame is at least EARLY_FRAME of a frame old. Data
    # that come sooner wait for the next data to bring them (the app's runs send metrics 4 times a
    # second, LIVE_METRICS_INTERVAL_S, so each usually draws at once), or for the timer, LATE_FRAME frames after the last
    # frame, if none come. So nearly every frame is drawn in the wake-up that brought its data
    # (each wake-up of the GUI thread stalls training a little on a small machine), bursts draw at
    # most 1/EARLY_FRAME frames a frame-time, and nothing waits more than LATE_FRAME frames.
    EARLY_FRAME = 0.5
    LATE_FRAME = 1.5
    # Frames are spaced so that painting takes at most this share of the time (a paint holds the
    # GIL, which the training thread needs between its ops), but never further than MAX_FRAME_S.
    # At ~1 ms a paint (an idle machine) that is the fps given; on a busy machine, where a paint
    # is preempted midway and takes 5-10 ms, fewer frames.
    PAINT_SHARE = 0.02
    MAX_FRAME_S = 1.0

    @property
    def frame_s(self) -> float:
        """Seconds between frames now: 1/fps, or longer when a paint costs more than PAINT_SHARE of it."""
        paint = self.view.paint_s
        if paint is None:
            return self._frame_s
        return max(self._frame_s, min(self.MAX_FRAME_S, paint / self.PAINT_SHARE))

    # An epoch's row comes just after its last batch's metrics, and the next epoch's first batch
    # soon after: with data_interval_s set (how often a run sends batch metrics: the panel's
    # LIVE_METRICS_INTERVAL_S), the epoch's points wait for the next batch's frame, up to
    # HOLD_INTERVALS intervals, instead of drawing a frame (a GUI-thread wake-up) of their own.
    HOLD_INTERVALS = 1.5
    data_interval_s: float | None = None

    def _data_changed(self, hold: bool = False) -> None:
        if not on_screen(self):
            return  # drawn when the dock's tab comes forward (on_dock_shown / showEvent)
        now = time.monotonic()
        frame_s = self.frame_s
        hold_s = self.HOLD_INTERVALS * self.data_interval_s if hold and self.data_interval_s else 0.0
        if hold_s:  # drawn by the next data's frame (one already due included), else by the timer
            if not self.timer.isActive():
                self.timer.start(max(1, int(math.ceil(hold_s * 1000))))
        elif now - self._last_frame >= self.EARLY_FRAME * frame_s:
            self.timer.stop()
            self.redraw()
        else:  # due LATE_FRAME frames after the last; sooner than a held epoch's timer, if one runs
            wait_ms = max(1, int(math.ceil((self._last_frame + self.LATE_FRAME * frame_s - now) * 1000)))
            if not self.timer.isActive() or self.timer.remainingTime() > wait_ms:
                self.timer.start(wait_ms)

    @Slot()
    def _on_timer_timeout(self) -> None:
        if on_screen(self):  # not in a hidden dock tab (those stay isVisible() in Qt 6)
            self.redraw()

    def on_dock_shown(self) -> None:
        """The dock's tab came forward: show the current data at once."""
        self.redraw()

    def redraw(self) -> None:
        changed = set()
        for key, names in PLOT_SERIES.items():
            for name in names:
                s = self.series[name]
                if self._drawn.get(name) != s.version:
                    self.curves[name].set_data(s.x, s.y)
                    self._drawn[name] = s.version
                    changed.add(key)
        if changed:
            self._last_frame = time.monotonic()  # a frame that draws nothing does not count
            self._apply_ranges(changed)

    def curve_data(self, name: str):
        """What a curve currently shows (x, y): for tests and for saving."""
        x, y = self.curves[name].getData()
        return (x if x is not None else [], y if y is not None else [])

    @Slot(object)
    def _on_mouse_moved(self, evt) -> None:
        pos = evt[0]
        for key, p in self.plots.items():
            if p.sceneBoundingRect().contains(pos):
                x = p.vb.mapSceneToView(pos).x()
                self.show_crosshair(x)
                return

    def show_crosshair(self, x: float) -> str:
        for line in self._vlines.values():
            line.setPos(x)
            line.setVisible(True)
        parts = [f"epoch {x:.2f}"]
        for name, label in (("loss_smooth", "loss"), ("loss_val", "val loss"), ("acc_train", "acc"), ("acc_val", "val acc"), ("lr", "lr"), ("throughput", "samples/s")):
            v = self.series[name].value_at(x)
            if v is not None:
                parts.append(f"{label} {v:.4g}")
        text = "   ".join(parts)
        room = self.readout.contentsRect().width()
        self.readout.setText(self.readout.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, room) if room > 0 else text)
        return text

    def export_png(self, path: str) -> None:
        """The plots with their legend row, as shown."""
        self.redraw()
        if not self.grab().save(path):
            raise OSError(f"could not write {path}")

    def showEvent(self, event) -> None:  # a tab brought forward shows current data at once
        super().showEvent(event)
        self.redraw()

    def closeEvent(self, event) -> None:
        self.timer.stop()
        super().closeEvent(event)
