"""What the convolutions learned: kernels as tiles, and histograms of a layer's weights and of its
activations for one input.

First layer with 3 input channels: one colour tile per filter (the pattern of colours it responds to).
Gray input: one gray tile per filter. Deeper layers: one row per filter with a tile per input channel,
or one tile per filter with the mean over the input channels (a diverging map: blue negative, red
positive, white zero). Every filter is scaled on its own, symmetrically around zero.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from .jobs import JobRunner
from ...inspection.model import InspectModel
from ...inspection.tiles import assemble, filter_tiles, histogram
from .widgets import (
    SELECT,
    DialogsMixin,
    ImageCanvas,
    banner,
    caption,
    save_widget_png,
    set_rect,
    still_plot,
)
from ..state import why_nothing

MODE_TITLES = {"rgb": "colour (RGB) per filter", "per_input": "per input channel", "mean": "mean over input channels"}


def _luts():
    from ...inspection.render import colormap_lut

    return colormap_lut("coolwarm"), colormap_lut("gray")


class FiltersView(DialogsMixin, QWidget):
    layer_changed = Signal(str)
    filter_selected = Signal(str, int)  # node id, output channel (e.g. to enlarge that feature map)

    def __init__(self, model: InspectModel | None = None, parent=None, runner: JobRunner | None = None):
        super().__init__(parent)
        self.setObjectName("filters_view")
        self._imodel: InspectModel | None = None
        self._init_runner(runner, "cnn-studio-filters")
        self._node: str | None = None
        self._input = None
        self.mode = "rgb"
        self.weight: np.ndarray | None = None  # (O, I, kh, kw) of the layer shown
        self.activations: np.ndarray | None = None
        self.grid_rgb: np.ndarray | None = None
        self.tile_count = 0
        self.shown_filters = 0
        self._layout = (1, False, 0, 0)  # columns, filters as columns?, input channels shown apart, filters shown
        self._tile = (0, 0, 1, 1, 1)  # kh, kw, upscale, column gap, row gap
        self._build()
        if model is not None:
            self.set_model(model)

    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(4)
        self.source_banner = banner()
        lay.addWidget(self.source_banner)
        row = QHBoxLayout()
        row.addWidget(QLabel("Convolution:"))
        self.layer_combo = QComboBox()
        self.layer_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.layer_combo.setToolTip("Which convolution's kernels to show")
        self.layer_combo.currentIndexChanged.connect(self._on_layer_combo_changed)
        row.addWidget(self.layer_combo)
        row.addSpacing(8)
        row.addWidget(QLabel("Show:"))
        self.mode_combo = QComboBox()
        self.mode_combo.setToolTip("Colour tiles need 3 input channels; deeper layers show each input channel's kernel, or their mean")
        self.mode_combo.currentIndexChanged.connect(self._on_mode_combo_changed)
        row.addWidget(self.mode_combo)
        row.addStretch(1)
        self.save_button = QPushButton("Save PNG…")
        self.save_button.setToolTip("Save the kernels as a PNG image")
        self.save_button.clicked.connect(self._on_save_button_clicked)
        row.addWidget(self.save_button)
        lay.addLayout(row)

        split = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        self.title = caption("", bold=True)
        ll.addWidget(self.title)
        self.canvas = ImageCanvas(placeholder="Open a run or a network with a convolution", min_size=200)
        self.select_rect = self.canvas.add_rect(SELECT, 2.0)
        self.canvas.hovered.connect(self._on_canvas_hovered)
        self.canvas.clicked.connect(self._on_canvas_clicked)
        ll.addWidget(self.canvas, 1)
        self.readout = caption(" ")
        ll.addWidget(self.readout)
        split.addWidget(left)

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        self.hist = pg.GraphicsLayoutWidget()
        self.hist.setBackground(pg.mkColor(30, 32, 36))
        self.weight_plot = self.hist.addPlot(row=0, col=0)
        self.act_plot = self.hist.addPlot(row=1, col=0)
        for p in (self.weight_plot, self.act_plot):
            still_plot(p, dark_axes=False)  # light axes on the dark background
            p.showGrid(x=True, y=True, alpha=0.2)
            p.setLabel("left", "count")
        self.weight_curve = self.weight_plot.plot([0, 1], [0], stepMode="center", fillLevel=0, brush=(70, 130, 220, 160), pen=pg.mkPen((110, 160, 240), width=1))
        self.act_curve = self.act_plot.plot([0, 1], [0], stepMode="center", fillLevel=0, brush=(240, 150, 60, 160), pen=pg.mkPen((250, 180, 90), width=1))
        rl.addWidget(self.hist, 1)
        self.stats = caption("")
        rl.addWidget(self.stats)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([560, 340])
        lay.addWidget(split, 1)
        self.status = caption("")
        lay.addWidget(self.status)

    # ---- public --------------------------------------------------------------------------------
    def model(self) -> InspectModel | None:
        return self._imodel

    def show_source(self, src) -> None:
        """Show the app state's source: the kernels of its loaded network, or say why there are none
        (nothing trained yet, a run going or loading). Never another network's kernels."""
        self._set_banner(src)
        if src.imodel is not None and src.kind == "run":
            if src.imodel is not self._imodel:
                self.set_model(src.imodel)
            return
        why = why_nothing(src, "show", "Training: the kernels show here when the run ends (the Feature maps follow it live)")
        self.clear(why)

    def clear(self, placeholder: str = "") -> None:
        """Show nothing: no kernels, no histograms, no model."""
        self._imodel = None
        self._input = None
        self.weight = None
        self.activations = None
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        self.layer_combo.blockSignals(False)
        self.mode_combo.blockSignals(True)
        self.mode_combo.clear()
        self.mode_combo.blockSignals(False)
        self._show(None)
        self.canvas.set_placeholder(placeholder)
        self.weight_curve.setData([0, 1], [0])
        self.act_curve.setData([0, 1], [0])
        self.weight_plot.setTitle("")
        self.act_plot.setTitle("")
        self.stats.setText("")
        self.readout.setText(" ")
        self.status.setText("")

    def set_model(self, imodel: InspectModel | None) -> None:
        if imodel is None:
            self.clear("Open a run or a network with a convolution")
            return
        if self._input is not None and tuple(self._input.shape) != imodel.input_shape:
            self._input = None  # another network's input
        self._imodel = imodel
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        convs = imodel.conv_modules() if imodel is not None else []
        for nid, mod in convs:
            o, i, kh, kw = mod.weight.shape
            self.layer_combo.addItem(f"{nid}  ({o} filters, {i}×{kh}×{kw})", nid)
        self.layer_combo.blockSignals(False)
        if imodel is not None and imodel.splits() and self._input is None:
            self._input = imodel.sample(imodel.default_split(), 0)[0]
        if not convs:
            self._node = None
            self._show(None)
            if imodel is not None:
                self.status.setText("This network has no convolution")
            return
        node = self._node if self._node in [n for n, _ in convs] else convs[0][0]
        self._node = None
        self.set_node(node)

    def set_node(self, node_id: str) -> bool:
        """Show the kernels of convolution ``node_id``; False when it is not a convolution."""
        m = self._imodel
        if m is None:
            return False
        convs = dict(m.conv_modules())
        if node_id not in convs:
            self.status.setText(f"'{node_id}' is not a convolution; kernels exist only for convolution layers")
            return False
        self.status.setText("")
        i = self.layer_combo.findData(node_id)
        self.layer_combo.blockSignals(True)
        self.layer_combo.setCurrentIndex(i)
        self.layer_combo.blockSignals(False)
        changed = node_id != self._node
        self._node = node_id
        self.weight = convs[node_id].weight.detach().float().cpu().numpy().copy()
        self._fill_modes()
        self._render()
        self._update_weight_hist()
        self._request_activations()
        if changed:
            self.layer_changed.emit(node_id)
        return True

    @property
    def node(self) -> str | None:
        return self._node

    def set_input(self, x_uint8) -> None:
        """The input whose activations the lower histogram shows (e.g. FeatureMapView.input_changed)."""
        m = self._imodel
        if x_uint8 is not None and m is not None and tuple(x_uint8.shape) != m.input_shape:
            return  # an input of another network (the Feature maps of a run still going)
        self._input = x_uint8
        self._request_activations()

    def set_mode(self, mode: str) -> None:
        """``rgb``, ``per_input`` or ``mean`` (``rgb`` needs 3 input channels)."""
        i = self.mode_combo.findData(mode)
        if i < 0:
            raise ValueError(f"mode {mode!r} is not available for this layer")
        self.mode_combo.setCurrentIndex(i)
        self.mode = mode
        self._render()

    def modes(self) -> list[str]:
        return [self.mode_combo.itemData(i) for i in range(self.mode_combo.count())]

    # ---- internals -----------------------------------------------------------------------------
    def _fill_modes(self) -> None:
        i_ch = self.weight.shape[1]
        modes = (["rgb"] if i_ch == 3 else []) + ["per_input"] + (["mean"] if i_ch > 1 else [])
        self.mode_combo.blockSignals(True)
        self.mode_combo.clear()
        for md in modes:
            title = MODE_TITLES[md] if not (md == "per_input" and i_ch == 1) else "gray per filter"
            self.mode_combo.addItem(title, md)
        if self.mode not in modes:
            self.mode = modes[0]
        self.mode_combo.setCurrentIndex(modes.index(self.mode))
        self.mode_combo.blockSignals(False)

    def _render(self) -> None:
        w = self.weight
        if w is None:
            self._show(None)
            return
        o, i_ch, kh, kw = w.shape
        div, gray = _luts()
        tiles, cols, shown = filter_tiles(w, self.mode, div, gray)
        up = max(1, 28 // max(kh, kw))
        pad = max(1, up // 3)
        gap = pad + max(2, up // 2)  # wider gap between filters than between one filter's kernels
        grouped = self.mode == "per_input" and i_ch > 1
        # one filter per row (its kernels side by side), or per column when that suits a wide view
        transposed = grouped and shown > i_ch
        if transposed:
            tiles = tiles.reshape(shown, i_ch, *tiles.shape[1:]).swapaxes(0, 1).reshape(shown * i_ch, *tiles.shape[1:])
            cols = shown
        col_pad, row_pad = (gap, pad) if transposed else ((pad, gap) if grouped else (pad, pad))
        self._layout = (cols, transposed, i_ch if grouped else 0, shown)
        self._tile = (kh, kw, up, col_pad, row_pad)
        self.tile_count = len(tiles)
        self.shown_filters = shown
        self._show(assemble(tiles, cols, pad=col_pad, upscale=up, row_pad=row_pad))
        layout = "columns" if transposed else "rows"
        other = "rows" if transposed else "columns"
        what = {"rgb": f"{o} filters in colour", "mean": f"{o} filters, mean over {i_ch} input channels",
                "per_input": (f"{o} filters" if i_ch == 1 else f"{shown} filters ({layout}) × {i_ch} input channels ({other})")}[self.mode]
        more = f" — first {shown} of {o} filters" if shown < o else ""
        self.title.setText(f"{self._imodel.node_title(self._node)}: {what}, {kh}×{kw}{more}")
        self.select_rect.setVisible(False)

    def _show(self, rgb) -> None:
        self.grid_rgb = rgb
        self.canvas.set_rgb(rgb)
        if rgb is None:
            self.title.setText("")
            self.tile_count = 0

    def _grid_index(self, f: int, c: int) -> int:
        cols, transposed, n_in, shown = self._layout
        if not n_in:
            return f
        return c * shown + f if transposed else f * n_in + c

    def tile_at(self, x: float, y: float) -> tuple[int, int] | None:
        """(filter, input channel or -1) of the tile under image coordinate (x, y)."""
        if self.grid_rgb is None:
            return None
        kh, kw, up, cp, rp = self._tile
        cols, transposed, n_in, shown = self._layout
        th, tw = kh * up, kw * up
        k, rx = divmod(int(np.floor(x)) - cp, tw + cp)
        r, ry = divmod(int(np.floor(y)) - rp, th + rp)
        if k < 0 or r < 0 or k >= cols or rx >= tw or ry >= th:
            return None
        t = r * cols + k
        if t >= self.tile_count:
            return None
        if not n_in:
            return t, -1
        return (t % shown, t // shown) if transposed else (t // n_in, t % n_in)

    def tile_origin(self, f: int, c: int = -1) -> tuple[float, float]:
        """(top, left) pixel of the tile of filter ``f`` (and input channel ``c`` when shown apart)."""
        kh, kw, up, cp, rp = self._tile
        cols = self._layout[0]
        r, k = divmod(self._grid_index(f, c), cols)
        return rp + r * (kh * up + rp), cp + k * (kw * up + cp)

    @Slot(float, float)
    def _on_canvas_hovered(self, x: float, y: float) -> None:
        hit = self.tile_at(x, y) if x >= 0 else None
        if hit is None:
            self.readout.setText(" ")
            return
        f, c = hit
        k = self.weight[f] if c < 0 else self.weight[f, c]
        where = f"filter {f}" + (f", input channel {c}" if c >= 0 else "")
        self.readout.setText(f"{where} · min {k.min():.3g} · max {k.max():.3g} · mean |w| {np.abs(k).mean():.3g}")

    @Slot(float, float)
    def _on_canvas_clicked(self, x: float, y: float) -> None:
        hit = self.tile_at(x, y)
        if hit is None:
            return
        f, c = hit
        kh, kw, up = self._tile[:3]
        top, left = self.tile_origin(f, c)
        set_rect(self.select_rect, top - 0.5, left - 0.5, top + kh * up - 0.5, left + kw * up - 0.5)
        self.filter_selected.emit(self._node, f)

    @Slot(int)
    def _on_layer_combo_changed(self, i: int) -> None:
        nid = self.layer_combo.itemData(i)
        if nid:
            self.set_node(nid)

    @Slot(int)
    def _on_mode_combo_changed(self, i: int) -> None:
        md = self.mode_combo.itemData(i)
        if md:
            self.mode = md
            self._render()

    def _update_weight_hist(self) -> None:
        edges, counts = histogram(self.weight)
        self.weight_curve.setData(edges, counts)
        self.weight_plot.setTitle(f"weights ({self.weight.size:,})", size="9pt")
        w = self.weight
        self._weight_stats = f"weights: mean {w.mean():.3g}, std {w.std():.3g}, |w| max {np.abs(w).max():.3g}"
        self.stats.setText(self._weight_stats)

    def _request_activations(self) -> None:
        m, node, x = self._imodel, self._node, self._input
        if m is None or node is None or x is None:
            self.act_curve.setData([0, 1], [0])
            return

        def job(progress, cancel):
            return m, node, m.feature_maps(x, node)

        self._runner.submit(job, self._on_activations_computed, self._on_job_failed, key="acts")

    def _on_activations_computed(self, result) -> None:
        m, node, acts = result
        if m is not self._imodel or node != self._node:
            return
        self.activations = acts
        edges, counts = histogram(acts)
        self.act_curve.setData(edges, counts)
        self.act_plot.setTitle(f"outputs for the input ({acts.size:,})", size="9pt")
        self.stats.setText(f"{self._weight_stats}<br>outputs: mean {acts.mean():.3g}, std {acts.std():.3g}, "
                           f"{100 * float((acts > 0).mean()):.0f}% positive")

    def _on_job_failed(self, message: str, details: str) -> None:
        self.show_error(message)

    @Slot()
    def _on_save_button_clicked(self) -> None:
        path = self.get_save_path("Save kernels as PNG", f"{self._node or 'filters'}_kernels.png")
        if path:
            self.save_png(path)

    def save_png(self, path: str, whole_view: bool = False) -> str | None:
        """The kernel tiles at their pixel size (``whole_view``: the view with its histograms)."""
        if whole_view:
            return self._write_png(lambda p: save_widget_png(self, p), path)
        from ...inspection.render import save_png

        return self._write_png(lambda p: save_png(self.grid_rgb, p), path, ready=self.grid_rgb is not None)

