"""How each layer changed over the run: the Layer statistics view.

Reads the run folder's ``layer_stats.npz`` (training/layerstats.py) of the app state's source (a run
folder, or the run going: re-read at each epoch end) in a background job, and shows

* per layer, the histograms of its weights, gradients or activations over the epochs as a heat map
  (TensorBoard's distribution view: x = epoch, y = value, colour = share of the values; each epoch's
  32 bins over its own range are resampled onto one value grid for the layer);
* gradient flow: the gradient norm of every layer with weights, in network order, on a log scale,
  for the chosen epoch (the slider, or the latest while "Latest" is ticked);
* the problems found at that epoch (dead units, saturation, vanishing/exploding gradients, large
  updates) with what usually helps.

``flags_changed`` hands the latest epoch's problems to the canvas badges (canvas/badges.py).
torch is never imported on the GUI thread: the job reads the file and computes the flags.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal, Slot
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSlider, QSplitter, QTextBrowser, QVBoxLayout, QWidget

from ..state import why_nothing
from ..visibility import on_screen
from .widgets import DialogsMixin, SlantedAxis, banner, caption, plot_pane

KINDS = {"weight": "weights", "grad": "gradients", "act": "activations"}
GRID_ROWS = 64  # value rows of the heat map
TITLE_SIZE = "9pt"  # pyqtgraph's default title size clipped "Gradient flow at epoch 10" in a dock pane
LIVE_WAIT = "Training: the statistics of each epoch show here when it ends"
FLAG_COLOURS = {"dead": "#dc2626", "exploding_gradients": "#dc2626", "saturated": "#d97706",
                "vanishing_gradients": "#d97706", "large_updates": "#d97706"}


# ---- numbers (numpy only) ------------------------------------------------------------------------------
def resample_hists(hists: np.ndarray, ranges: np.ndarray, rows: int = GRID_ROWS) -> tuple[np.ndarray, float, float]:
    """Histograms of several epochs, each with its own range, on one value grid.

    ``hists`` (E, B) counts, ``ranges`` (E, 2) [lo, hi] per epoch. Returns (grid (E, rows) counts,
    lo, hi): the counts of each bin spread evenly over the grid rows it overlaps (through the
    cumulative counts, so every epoch keeps its total). Epochs without a finite range are zeros."""
    hists = np.asarray(hists, dtype=np.float64)
    ranges = np.asarray(ranges, dtype=np.float64)
    e, b = hists.shape if hists.ndim == 2 else (0, 0)
    ok = np.isfinite(ranges).all(axis=1) & (ranges[:, 1] > ranges[:, 0]) if e else np.zeros(0, bool)
    if not ok.any():
        return np.zeros((e, rows)), 0.0, 1.0
    lo, hi = float(ranges[ok, 0].min()), float(ranges[ok, 1].max())
    edges = np.linspace(lo, hi, rows + 1)
    grid = np.zeros((e, rows))
    for i in np.nonzero(ok)[0]:
        bin_edges = np.linspace(ranges[i, 0], ranges[i, 1], b + 1)
        cum = np.concatenate([[0.0], np.cumsum(hists[i])])
        grid[i] = np.diff(np.interp(edges, bin_edges, cum))
    return grid, lo, hi


def heat_rgb(grid: np.ndarray) -> np.ndarray:
    """(E, rows) counts -> (E, rows, 3) uint8: each epoch's column scaled to its own peak (white = none,
    dark blue = the most common values), so the shape shows even when the totals differ."""
    g = np.asarray(grid, dtype=np.float64)
    peak = g.max(axis=1, keepdims=True) if g.size else g
    t = np.divide(g, peak, out=np.zeros_like(g), where=peak > 0) ** 0.6  # a gamma: the tails stay visible
    low, high = np.array([255.0, 255.0, 255.0]), np.array([30.0, 64.0, 160.0])
    return (low + (high - low) * t[..., None]).clip(0, 255).astype(np.uint8)


def read_stats(run_dir: str) -> dict:
    """The job: load a run's statistics and compute the flags of every epoch (imports torch)."""
    from ...training import layerstats as ls

    data = ls.load_stats(run_dir)
    meta = data["meta"]
    epochs = [int(v) for v in data.get("epoch_epoch", np.zeros(0))]
    pids, aids = list(meta.get("param_ids", [])), list(meta.get("act_ids", []))
    out = {"run_dir": run_dir, "epochs": epochs, "types": dict(meta.get("types", {})), "param_ids": pids,
           "act_ids": aids, "grad_norm": data.get("epoch_grad_norm"), "flags": []}
    for k in KINDS:
        out[f"{k}_hist"] = data.get(f"epoch_{k}_hist")
        out[f"{k}_range"] = data.get(f"epoch_{k}_range")
    empty = np.zeros((len(epochs), 0))
    for i in range(len(epochs)):
        view = {"param_ids": pids, "act_ids": aids, "types": out["types"]}
        for k in ls.PARAM_KEYS + ls.ACT_KEYS:
            view[k] = data.get(f"epoch_{k}", empty)[i]
        out["flags"].append(ls.flags(view))
    return out


# ---- the view ------------------------------------------------------------------------------------------
class LayerStatsView(DialogsMixin, QWidget):
    flags_changed = Signal(list, dict)  # the latest epoch's problems, node types (the canvas badges); [] = none

    def __init__(self, parent=None, runner=None):
        super().__init__(parent)
        self.setObjectName("layerstats_view")
        self._init_runner(runner, "cnn-studio-layerstats")
        self._source = None
        self.stats: dict | None = None
        self.epoch_index = -1  # into stats["epochs"]
        self.grid: np.ndarray | None = None  # the heat map shown, (epochs, rows)
        self.grid_range = (0.0, 1.0)
        # a live run's epoch that came while the view was off screen (a hidden dock tab): its stats
        # are kept (and its flags sent to the canvas badges) but drawn only when the view is shown
        self._undrawn = False
        self._wanted_layer: str | None = None  # picked on the canvas meanwhile
        self._build()
        self.clear("")

    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(4)
        self.source_banner = banner()
        lay.addWidget(self.source_banner)
        row = QHBoxLayout()
        row.addWidget(QLabel("Layer:"))
        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("Which layer's values the heat map shows over the epochs")
        self.layer_combo.currentIndexChanged.connect(self._on_layer_combo_changed)
        row.addWidget(self.layer_combo)
        row.addWidget(QLabel("Histograms of:"))
        self.kind_combo = QComboBox()
        for k, title in KINDS.items():
            self.kind_combo.addItem(title, k)
        self.kind_combo.setToolTip("Weights and gradients: layers with weights; activations: every layer's output "
                                   "on a fixed batch of training images")
        self.kind_combo.currentIndexChanged.connect(self._on_kind_combo_changed)
        row.addWidget(self.kind_combo)
        row.addSpacing(12)
        self.epoch_label = QLabel("epoch -")
        row.addWidget(self.epoch_label)
        self.epoch_slider = QSlider(Qt.Orientation.Horizontal)
        self.epoch_slider.setMinimumWidth(120)
        self.epoch_slider.setToolTip("The epoch the gradient flow and the problems are of")
        self.epoch_slider.valueChanged.connect(self._on_epoch_slider_changed)
        row.addWidget(self.epoch_slider, 1)
        self.latest_box = QCheckBox("Latest")
        self.latest_box.setChecked(True)
        self.latest_box.setToolTip("Follow the newest epoch while the run trains")
        self.latest_box.toggled.connect(self._on_latest_box_toggled)
        row.addWidget(self.latest_box)
        lay.addLayout(row)

        split = QSplitter(Qt.Orientation.Horizontal)
        self.heat_widget, self.heat_plot = plot_pane((200, 150))
        self.heat_plot.setLabel("bottom", "epoch")
        self.heat_image = pg.ImageItem(axisOrder="row-major")
        self.heat_plot.addItem(self.heat_image)
        self.epoch_line = pg.InfiniteLine(angle=90, pen=pg.mkPen(220, 60, 40, width=1.5))
        self.heat_plot.addItem(self.epoch_line, ignoreBounds=True)
        split.addWidget(self.heat_widget)
        self.flow_widget, self.flow_plot = plot_pane((200, 150), bottom=SlantedAxis("bottom"))
        self.flow_plot.setLogMode(y=True)
        self.flow_plot.setLabel("left", "gradient norm (log)")
        self.flow_plot.setTitle("Gradient flow", size=TITLE_SIZE)
        self.flow_curve = self.flow_plot.plot([], [], pen=pg.mkPen(37, 99, 235, width=2), symbol="o", symbolSize=7,
                                              symbolBrush=pg.mkBrush(37, 99, 235))
        self.flow_bad = pg.ScatterPlotItem(size=11, brush=pg.mkBrush(220, 38, 38), pen=pg.mkPen(None))
        self.flow_plot.addItem(self.flow_bad)
        for w in (self.heat_widget, self.flow_widget):
            w.ci.setContentsMargins(2, 2, 9, 2)  # 9 px on the right for the last slanted tick label
        split.addWidget(self.flow_widget)
        self.flow_widget.installEventFilter(self)  # the title follows the pane's width
        # the problems beside the plots (they scroll): below them they made the view too tall for its dock
        self.problems_box = QTextBrowser()
        self.problems_box.setMinimumWidth(220)
        self.problems_box.setOpenLinks(False)
        self.problems_box.setStyleSheet("QTextBrowser { background: transparent; }")
        split.addWidget(self.problems_box)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 3)
        split.setStretchFactor(2, 2)
        split.setSizes([400, 400, 280])
        split.setChildrenCollapsible(False)
        lay.addWidget(split, 1)
        self.placeholder = caption("")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(self.placeholder)
        self.status = caption("")
        lay.addWidget(self.status)

    # ------------------------------------------------------------------ source
    def show_source(self, src) -> None:
        """Show the statistics of the app state's source: a run folder's (also while its weights load)
        or the run going; or say why there are none."""
        old, self._source = self._source, src
        self._set_banner(src)
        if src.kind == "nothing" or not src.run_dir:
            self.clear(why_nothing(src, "show", LIVE_WAIT))
            return
        if not src.same_run(old) or self.stats is None:
            self.clear(LIVE_WAIT if src.kind == "live" else f"Reading the layer statistics of run {src.run_name}…")
        self.refresh()

    def refresh(self) -> None:
        """Re-read the source's statistics (a live run calls this at each epoch end)."""
        src = self._source
        if src is None or src.kind == "nothing" or not src.run_dir:
            return
        run_dir = str(src.run_dir)
        self._runner.submit(lambda progress, cancel: read_stats(run_dir), lambda r, s=src: self._on_read(s, r),
                            lambda msg, details, s=src: self._on_read_failed(s, msg), key="read")

    def _on_read(self, asked, stats: dict) -> None:
        if self._source is None or not self._source.same_run(asked):
            return  # another source was chosen meanwhile
        self.set_stats(stats)

    def _on_read_failed(self, asked, message: str) -> None:
        if self._source is None or not self._source.same_run(asked):
            return
        if asked.kind == "live" and "no layer statistics" in message:
            message = LIVE_WAIT  # not written yet: the first epoch has not ended
        self.clear(message)

    def clear(self, placeholder: str = "") -> None:
        had = self.stats is not None and bool(self.stats.get("flags"))
        self.stats = None
        self._undrawn = False
        self.epoch_index = -1
        self.grid = None
        for combo in (self.layer_combo,):
            combo.blockSignals(True)
            combo.clear()
            combo.blockSignals(False)
        # nothing of the previous network stays: marker, axes, ranges and titles go back to blank
        self.heat_image.clear()
        self.heat_plot.setTitle("")
        self.heat_plot.setLabel("left", "")
        self.epoch_line.setVisible(False)
        self.flow_curve.setData([], [])
        self.flow_bad.setData([], [])
        self.flow_plot.getAxis("bottom").setTicks([[]])
        self.flow_plot.setTitle("Gradient flow", size=TITLE_SIZE)
        self._flow_epoch = None
        for p in (self.heat_plot, self.flow_plot):
            p.setXRange(0, 1, padding=0)
            p.setYRange(0, 1, padding=0)
        self.flow_plot.enableAutoRange(axis="y")  # the gradient norms' (log) range follows the next data
        self.epoch_slider.blockSignals(True)
        self.epoch_slider.setRange(0, 0)
        self.epoch_slider.blockSignals(False)
        self.epoch_label.setText("epoch -")
        self.problems_box.clear()
        self.placeholder.setText(placeholder)
        self.placeholder.setVisible(bool(placeholder))
        self.status.setText("")
        self._update_enabled()
        if had or placeholder is not None:
            self.flags_changed.emit([], {})

    def _update_enabled(self) -> None:
        has = self.stats is not None and bool(self.stats["epochs"])
        for w in (self.layer_combo, self.kind_combo, self.epoch_slider, self.latest_box):
            w.setEnabled(has)

    # ------------------------------------------------------------------ data
    def set_stats(self, stats: dict) -> None:
        """Show ``stats`` (what :func:`read_stats` returns); keeps the chosen layer and kind.

        A live run's statistics (re-read at each epoch end) are only kept while the view is off
        screen, and drawn when it comes forward (:meth:`on_dock_shown`): redrawing two plots, the
        combo boxes and the problems' rich text each epoch in a hidden tab took GUI-thread time, and
        so training time on a small machine, for nothing seen (benchmarks/app_training.py, issue 14).
        The latest epoch's flags still go to the canvas badges at once."""
        if not stats["epochs"]:
            self.stats = stats
            self.clear(LIVE_WAIT)
            return
        src = self._source
        if src is not None and src.kind == "live" and not on_screen(self):
            if not self._undrawn:
                self._wanted_layer = self.layer_combo.currentData() or self._wanted_layer
            self.stats = stats
            self._undrawn = True
            self.flags_changed.emit(list(stats["flags"][-1]), dict(stats["types"]))
            return
        self._draw_stats(stats)

    def _draw_stats(self, stats: dict) -> None:
        keep_layer = self._wanted_layer if self._undrawn and self._wanted_layer else self.layer_combo.currentData()
        self._undrawn = False
        self._wanted_layer = None
        self.stats = stats
        epochs = stats["epochs"]
        self.placeholder.setVisible(False)
        layers = list(dict.fromkeys(stats["act_ids"] + stats["param_ids"]))
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for nid in layers:
            self.layer_combo.addItem(f"{nid} ({stats['types'].get(nid, '?')})", nid)
        i = self.layer_combo.findData(keep_layer)
        if i < 0:  # the first layer with weights, else the first
            i = next((k for k, nid in enumerate(layers) if nid in stats["param_ids"]), 0)
        self.layer_combo.setCurrentIndex(i)
        self.layer_combo.blockSignals(False)
        self.epoch_slider.blockSignals(True)
        self.epoch_slider.setRange(0, len(epochs) - 1)
        if self.latest_box.isChecked() or not 0 <= self.epoch_index < len(epochs):
            self.epoch_index = len(epochs) - 1
        self.epoch_slider.setValue(self.epoch_index)
        self.epoch_slider.blockSignals(False)
        self._update_enabled()
        self._draw_heat()
        self._draw_epoch()
        self.flags_changed.emit(list(stats["flags"][-1]), dict(stats["types"]))

    def layer(self) -> str | None:
        return self.layer_combo.currentData()

    def kind(self) -> str:
        return self.kind_combo.currentData()

    @property
    def undrawn(self) -> bool:
        """True while newer statistics than those drawn wait for the view to be shown."""
        return self._undrawn

    def showEvent(self, ev) -> None:  # noqa: N802 - Qt's name
        super().showEvent(ev)
        self.on_dock_shown()

    def on_dock_shown(self) -> None:
        """On screen again (shown, or its dock tab came forward): draw the statistics kept meanwhile."""
        if self._undrawn and self.stats is not None and on_screen(self):
            self._draw_stats(self.stats)

    def set_layer(self, node_id: str) -> bool:
        """Show ``node_id``'s histograms (the canvas selection calls this); False when it has none."""
        if self._undrawn and self.stats is not None:  # drawn later: remember the choice
            s = self.stats
            if node_id in s["act_ids"] or node_id in s["param_ids"]:
                self._wanted_layer = node_id
                return True
            return False
        i = self.layer_combo.findData(node_id)
        if i >= 0:
            self.layer_combo.setCurrentIndex(i)
        return i >= 0

    def set_epoch_index(self, i: int) -> None:
        self.epoch_slider.setValue(i)

    def flags_at(self, i: int | None = None) -> list[dict]:
        if self.stats is None or not self.stats["epochs"]:
            return []
        if i is None:  # the epoch shown; the latest while newer statistics wait to be drawn
            i = len(self.stats["epochs"]) - 1 if self._undrawn else self.epoch_index
        return list(self.stats["flags"][i])

    # ------------------------------------------------------------------ drawing
    def _draw_heat(self) -> None:
        s, nid, kind = self.stats, self.layer(), self.kind()
        self.grid = None
        ids = s["act_ids"] if kind == "act" else s["param_ids"]
        hists, ranges = s.get(f"{kind}_hist"), s.get(f"{kind}_range")
        title = f"'{nid}' {KINDS[kind]}"  # short: a long title widens the plot past its pane
        if nid not in ids or hists is None or ranges is None:
            self.heat_image.clear()
            why = "has no weights" if kind != "act" else "has no recorded activations"
            if kind == "act" and hists is None:
                why = "has no activation histograms (recorded by a newer CNN Studio)"
            self.heat_plot.setTitle(f"'{nid}' {why}" if nid else "", size=TITLE_SIZE)
            return
        j = ids.index(nid)
        grid, lo, hi = resample_hists(hists[:, j], ranges[:, j])
        self.grid, self.grid_range = grid, (lo, hi)
        self.heat_image.setImage(heat_rgb(grid).transpose(1, 0, 2), autoLevels=False, levels=(0, 255))
        epochs = s["epochs"]
        x0 = epochs[0] - 0.5
        width = max(epochs[-1] - epochs[0] + 1, 1)
        self.heat_image.setRect(x0, lo, width, hi - lo)
        self.heat_plot.setXRange(x0, x0 + width, padding=0)
        self.heat_plot.setYRange(lo, hi, padding=0.02)
        self.heat_plot.setLabel("left", KINDS[kind])
        self.heat_plot.setTitle(title, size=TITLE_SIZE)

    def _draw_epoch(self) -> None:
        s = self.stats
        i = self.epoch_index
        epoch = s["epochs"][i]
        self.epoch_label.setText(f"epoch {epoch} of {s['epochs'][-1]}")
        self.epoch_line.setValue(epoch)
        self.epoch_line.setVisible(True)
        pids = s["param_ids"]
        gn = s["grad_norm"][i] if s["grad_norm"] is not None and len(s["grad_norm"]) else np.zeros(0)
        xs = [k for k, g in enumerate(gn) if math.isfinite(float(g)) and g > 0]  # a log axis shows no zero
        self.flow_curve.setData(np.asarray(xs, float), np.asarray([float(gn[k]) for k in xs]))
        flagged = {f["node"] for f in s["flags"][i] if f["kind"] in ("vanishing_gradients", "exploding_gradients")}
        bad = [k for k in xs if pids[k] in flagged]
        self.flow_bad.setData([float(k) for k in bad], [math.log10(float(gn[k])) for k in bad])
        self.flow_plot.getAxis("bottom").setTicks([[(float(k), nid) for k, nid in enumerate(pids)]])
        if pids:
            self.flow_plot.setXRange(-0.5, len(pids) - 0.5, padding=0)
        self._flow_epoch = epoch
        self._fit_flow_title()
        self.problems_box.setHtml(problems_html(s["flags"][i], epoch))

    def _fit_flow_title(self) -> None:
        """"Gradient flow at epoch N", or only "epoch N" when the pane is too narrow for it (a title
        wider than the pane widens the plot past the pane's edge, where it was cut)."""
        epoch = getattr(self, "_flow_epoch", None)
        if epoch is None or self.stats is None:
            return
        text = f"Gradient flow at epoch {epoch}"
        font = QFont(self.flow_plot.titleLabel.item.font())
        font.setPointSizeF(float(TITLE_SIZE.removesuffix("pt")))
        room = self.flow_widget.width() - self.flow_plot.getAxis("left").width() - 16
        if QFontMetrics(font).horizontalAdvance(text) > room:
            text = f"epoch {epoch}"
        if self.flow_plot.titleLabel.text != text:
            self.flow_plot.setTitle(text, size=TITLE_SIZE)

    def eventFilter(self, obj, ev) -> bool:
        if obj is self.flow_widget and ev.type() == QEvent.Type.Resize:
            self._fit_flow_title()
        return super().eventFilter(obj, ev)

    # ------------------------------------------------------------------ events
    @Slot(int)
    def _on_layer_combo_changed(self, i: int) -> None:
        if self.stats is not None and self.stats["epochs"]:
            self._draw_heat()

    @Slot(int)
    def _on_kind_combo_changed(self, i: int) -> None:
        if self.stats is not None and self.stats["epochs"]:
            self._draw_heat()

    @Slot(int)
    def _on_epoch_slider_changed(self, v: int) -> None:
        if self.stats is None or not self.stats["epochs"]:
            return
        self.epoch_index = int(v)
        last = len(self.stats["epochs"]) - 1
        if self.latest_box.isChecked() and v != last:
            self.latest_box.blockSignals(True)
            self.latest_box.setChecked(False)  # moving back in time stops following the newest epoch
            self.latest_box.blockSignals(False)
        self._draw_epoch()

    @Slot(bool)
    def _on_latest_box_toggled(self, on: bool) -> None:
        if on and self.stats is not None and self.stats["epochs"]:
            self.epoch_slider.setValue(len(self.stats["epochs"]) - 1)


def problems_html(flags: list[dict], epoch: int) -> str:
    """The problems of one epoch, one line each, coloured by how serious they usually are."""
    if not flags:
        return f"<span style='color:#15803d'>No problem found at epoch {epoch}: no dead or saturated units, no " \
               "vanishing or exploding gradients, no overly large updates.</span>"
    lines = [f"<b>Problems at epoch {epoch}</b> (also marked on the canvas):"]
    for f in flags:
        colour = FLAG_COLOURS.get(f["kind"], "#d97706")
        lines.append(f"<span style='color:{colour}'>&#9679;</span> <b>{_esc(f['node'])}</b>: {_esc(f['message'])}")
    return "<br>".join(lines)


def _esc(s: str) -> str:
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
