"""Live training curves (pyqtgraph): loss per batch (raw and smoothed) and per epoch, accuracy,
learning rate and samples/s, with a crosshair read-out.

Data arrive through plain method calls from the GUI thread (the worker's signals are queued to it);
they land in bounded :class:`Series` buffers. A timer redraws at ``fps`` only the curves whose data
changed, so the cost of plotting does not grow with the run's length or with the batch rate.
"""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .series import Series, Smoother

COLOURS = {
    "train_batch": (150, 150, 150),
    "train_smooth": (31, 119, 180),
    "train_epoch": (31, 119, 180),
    "val_epoch": (255, 127, 14),
    "lr": (44, 160, 44),
    "throughput": (148, 103, 189),
}


class TrainingPlots(QWidget):
    """Four stacked plots sharing the x axis (epochs, fractional during an epoch)."""

    def __init__(self, parent=None, fps: float = 10.0, capacity: int = 4000):
        super().__init__(parent)
        self.series: dict[str, Series] = {
            name: Series(capacity)
            for name in (
                "loss_batch",
                "loss_smooth",
                "loss_train",
                "loss_val",
                "acc_batch",
                "acc_train",
                "acc_val",
                "lr",
                "throughput",
            )
        }
        self._smooth = Smoother(0.9)
        self._drawn: dict[str, int] = {}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.readout = QLabel(" ")
        self.readout.setObjectName("plotReadout")
        lay.addWidget(self.readout)
        self.view = pg.GraphicsLayoutWidget()
        lay.addWidget(self.view)
        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        titles = {"loss": "Loss", "acc": "Accuracy", "lr": "Learning rate", "throughput": "Samples / s"}
        first = None
        # a 2x2 grid: the dock is wide and short (loss | accuracy over lr | samples/s)
        for i, key in enumerate(titles):
            p = self.view.addPlot(row=i // 2, col=i % 2)
            p.setLabel("left", titles[key])
            p.showGrid(x=True, y=True, alpha=0.2)
            p.setClipToView(True)
            p.setDownsampling(auto=True, mode="peak")
            if first is None:
                first = p
                p.addLegend(offset=(-10, 5))
            else:
                p.setXLink(first)
            if i >= 2:
                p.setLabel("bottom", "Epoch")
            self.plots[key] = p
        self._curve("loss_batch", "loss", "train (batch)", COLOURS["train_batch"], 1)
        self._curve("loss_smooth", "loss", "train (smoothed)", COLOURS["train_smooth"], 2)
        self._curve("loss_train", "loss", "train (epoch)", COLOURS["train_epoch"], 2, symbol="o")
        self._curve("loss_val", "loss", "validation", COLOURS["val_epoch"], 2, symbol="o")
        self._curve("acc_batch", "acc", "train (batch)", COLOURS["train_batch"], 1)
        self._curve("acc_train", "acc", "train (epoch)", COLOURS["train_epoch"], 2, symbol="o")
        self._curve("acc_val", "acc", "validation", COLOURS["val_epoch"], 2, symbol="o")
        self._curve("lr", "lr", "lr", COLOURS["lr"], 2)
        self._curve("throughput", "throughput", "samples/s", COLOURS["throughput"], 2)
        self.plots["acc"].setYRange(0, 1, padding=0.02)

        self._vlines = {}
        for key, p in self.plots.items():
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen((120, 120, 120), style=pg.QtCore.Qt.PenStyle.DashLine))
            line.setVisible(False)
            p.addItem(line, ignoreBounds=True)
            self._vlines[key] = line
        self._mouse_proxy = pg.SignalProxy(self.view.scene().sigMouseMoved, rateLimit=30, slot=self._on_mouse_moved)

        self.timer = QTimer(self)
        self.timer.setInterval(int(1000 / fps))
        self.timer.timeout.connect(self._on_timer_timeout)
        self.timer.start()

    def _curve(self, name, plot, label, colour, width, symbol=None):
        kw = {"pen": pg.mkPen(colour, width=width), "name": label}
        if symbol:
            kw.update(symbol=symbol, symbolSize=5, symbolBrush=colour, symbolPen=None)
        item = self.plots[plot].plot([], [], **kw)
        self.curves[name] = item

    # ------------------------------------------------------------------ data in
    def clear(self) -> None:
        for s in self.series.values():
            s.clear()
        self._smooth.reset()
        self.redraw()

    def add_batch(self, x: float, loss: float, accuracy: float | None = None, lr: float | None = None, samples_per_s: float | None = None) -> None:
        self.series["loss_batch"].append(x, loss)
        self.series["loss_smooth"].append(x, self._smooth(loss))
        if accuracy is not None:
            self.series["acc_batch"].append(x, accuracy)
        if lr is not None:
            self.series["lr"].append(x, lr)
        if samples_per_s is not None and samples_per_s > 0:
            self.series["throughput"].append(x, samples_per_s)

    def add_epoch(self, epoch: float, metrics: dict) -> None:
        pairs = (("train_loss", "loss_train"), ("val_loss", "loss_val"), ("train_accuracy", "acc_train"), ("val_accuracy", "acc_val"))
        for key, name in pairs:
            v = metrics.get(key)
            if v is not None:
                self.series[name].append(epoch, float(v))

    # ------------------------------------------------------------------ drawing
    @Slot()
    def _on_timer_timeout(self) -> None:
        if self.isVisible():
            self.redraw()

    def redraw(self) -> None:
        for name, s in self.series.items():
            if self._drawn.get(name) != s.version:
                self.curves[name].setData(s.x, s.y)
                self._drawn[name] = s.version

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
        self.readout.setText(text)
        return text

    def export_png(self, path: str) -> None:
        from pyqtgraph.exporters import ImageExporter

        ImageExporter(self.view.scene()).export(path)

    def showEvent(self, event) -> None:  # a tab brought forward shows current data at once
        super().showEvent(event)
        self.redraw()

    def closeEvent(self, event) -> None:
        self.timer.stop()
        super().closeEvent(event)
