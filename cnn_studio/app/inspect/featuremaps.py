"""Feature maps of one layer for one input, as a grid of channel tiles (one pyqtgraph ImageItem showing
the ``channel_grid`` RGB), with the receptive field of any unit outlined on the input, and a timeline
of per-epoch snapshots recorded during training.

Where the maps come from:
- a model (``set_model``): computed for the chosen input and layer in a background thread;
- training (``add_snapshot``): the TrainingWorker's ``feature_maps(epoch, maps)`` signal; epoch >= 0
  is a snapshot (kept for the timeline), epoch == -1 a live refresh of the pinned sample, applied at
  most ``live_fps`` times a second. ``pin_requested(sample, node_id)`` asks the worker to pin the
  input and layer shown here (connect it to ``worker.pin_sample``).
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..visibility import on_screen
from .jobs import JobRunner
from ...inspection.model import SPLIT_TITLES, InspectModel
from ...inspection.tiles import GridGeometry
from .widgets import (
    SELECT,
    DialogsMixin,
    DrawPad,
    ImageCanvas,
    caption,
    pad_with_buttons,
    set_rect,
    tool_button,
)

CMAPS = ("viridis", "inferno", "gray", "coolwarm")
SNAPSHOT_BUDGET_BYTES = 256 * 2**20


def _render():
    from ...inspection import render

    return render


class FeatureMapView(DialogsMixin, QWidget):
    node_changed = Signal(str)
    input_changed = Signal(object)  # uint8 (C, H, W) tensor of the input now shown
    pin_requested = Signal(object, str)  # (uint8 (C, H, W) tensor, node id): connect to TrainingWorker.pin_sample
    channel_selected = Signal(int)
    maps_shown = Signal()  # a new set of maps is on screen

    def __init__(self, model: InspectModel | None = None, parent=None, live_fps: float = 10.0, runner: JobRunner | None = None):
        super().__init__(parent)
        self.setObjectName("feature_map_view")
        self._imodel: InspectModel | None = None
        self._init_runner(runner, "cnn-studio-featuremaps")
        self._node: str | None = None
        self._input = None  # uint8 (C, H, W) tensor
        self._input_label: int | None = None
        self._input_name = ""
        self._input_key: tuple = ()
        self._split: str | None = None
        self._index = 0
        self._filtered: np.ndarray | None = None
        self._pred: tuple | None = None
        self.maps: np.ndarray | None = None  # what the grid shows (float32)
        self.maps_node: str | None = None
        self.maps_source = ""  # "model", "live", "snapshot"
        self.geometry: GridGeometry | None = None
        self.grid_rgb: np.ndarray | None = None
        self.channel: int | None = None
        self.unit: tuple[int, int] | None = None
        self.rf: tuple[int, int, int, int] | None = None
        self._cmap = "viridis"
        self._shared = False
        # training
        self._snapshots: dict[int, tuple[dict, object]] = {}
        self._live: dict[str, np.ndarray] = {}
        self._live_time = 0.0
        self._last_snapshot_time = 0.0
        self._training = False
        self._pinned = None
        self._live_dirty = False
        self._build()
        self._live_timer = QTimer(self)
        self._live_timer.setSingleShot(True)
        self._live_timer.setInterval(int(1000 / max(live_fps, 0.1)))
        self._live_timer.timeout.connect(self._on_live_timer_timeout)
        if model is not None:
            self.set_model(model)
        else:
            self._update_enabled()

    # ================================================================================ UI
    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(4)

        # input row
        row = QHBoxLayout()
        row.setSpacing(4)
        row.addWidget(QLabel("Input:"))
        self.split_combo = QComboBox()
        self.split_combo.setToolTip("Which split of the data set to take samples from")
        self.split_combo.currentIndexChanged.connect(self._on_split_combo_changed)
        row.addWidget(self.split_combo)
        self.class_combo = QComboBox()
        self.class_combo.setToolTip("Browse only the samples of one class")
        self.class_combo.currentIndexChanged.connect(self._on_class_combo_changed)
        row.addWidget(self.class_combo)
        self.prev_button = tool_button("◀", "Previous sample (of the chosen class)", self._on_prev_button_clicked)
        row.addWidget(self.prev_button)
        self.index_spin = QSpinBox()
        self.index_spin.setToolTip("Sample number in the split (0 = first)")
        self.index_spin.setKeyboardTracking(False)
        self.index_spin.setMinimumWidth(70)
        self.index_spin.valueChanged.connect(self._on_index_spin_changed)
        row.addWidget(self.index_spin)
        self.next_button = tool_button("▶", "Next sample (of the chosen class)", self._on_next_button_clicked)
        row.addWidget(self.next_button)
        self.open_button = QPushButton("Image file…")
        self.open_button.setToolTip("Feed an image file, converted to the network's channels and size as in training")
        self.open_button.clicked.connect(self._on_open_button_clicked)
        row.addWidget(self.open_button)
        self.draw_button = QPushButton("Draw")
        self.draw_button.setCheckable(True)
        self.draw_button.setToolTip("Draw the input with the mouse (for digit-like data)")
        self.draw_button.toggled.connect(self._on_draw_button_toggled)
        row.addWidget(self.draw_button)
        row.addStretch(1)
        lay.addLayout(row)

        # display row
        row = QHBoxLayout()
        row.setSpacing(4)
        row.addWidget(QLabel("Layer:"))
        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("The layer whose output is shown; clicking a node on the canvas picks it too")
        self.layer_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.layer_combo.currentIndexChanged.connect(self._on_layer_combo_changed)
        row.addWidget(self.layer_combo)
        row.addSpacing(8)
        row.addWidget(QLabel("Colours:"))
        self.cmap_combo = QComboBox()
        self.cmap_combo.addItems(CMAPS)
        self.cmap_combo.setToolTip("Colour map of the activations (low to high)")
        self.cmap_combo.currentTextChanged.connect(self._on_cmap_combo_changed)
        row.addWidget(self.cmap_combo)
        self.scale_combo = QComboBox()
        self.scale_combo.addItems(["each channel", "shared"])
        self.scale_combo.setToolTip("Scale every channel to its own range, or all channels to one range\n(shared shows which channels respond most)")
        self.scale_combo.currentIndexChanged.connect(self._on_scale_combo_changed)
        row.addWidget(QLabel("Scale:"))
        row.addWidget(self.scale_combo)
        row.addStretch(1)
        self.save_button = QPushButton("Save PNG…")
        self.save_button.setToolTip("Save the channel grid as a PNG image")
        self.save_button.clicked.connect(self._on_save_button_clicked)
        row.addWidget(self.save_button)
        lay.addLayout(row)

        split = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.setSpacing(3)
        ll.addWidget(caption("Input", bold=True))
        self.input_canvas = ImageCanvas(placeholder="No input", min_size=150)
        self.rf_rect = self.input_canvas.add_focus()
        ll.addWidget(self.input_canvas, 3)
        self.input_caption = caption("")
        ll.addWidget(self.input_caption)
        self.pad = DrawPad()
        self.pad.changed.connect(self._on_pad_changed)
        self.pad_box = pad_with_buttons(self.pad)
        self.pad_box.setVisible(False)
        ll.addWidget(self.pad_box)
        self.tile_title = caption("Channel", bold=True)
        ll.addWidget(self.tile_title)
        self.tile_canvas = ImageCanvas(placeholder="Click a channel to enlarge it", min_size=150)
        self.tile_canvas.setToolTip("Click a unit to outline its receptive field on the input")
        self.unit_rect = self.tile_canvas.add_rect()
        self.tile_canvas.clicked.connect(self._on_tile_canvas_clicked)
        ll.addWidget(self.tile_canvas, 3)
        self.tile_caption = caption("")
        ll.addWidget(self.tile_caption)
        left.setMinimumWidth(190)
        split.addWidget(left)

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.setSpacing(3)
        self.grid_title = caption("", bold=True)
        rl.addWidget(self.grid_title)
        self.grid_canvas = ImageCanvas(placeholder="Pick a layer to see its feature maps", min_size=200)
        self.select_rect = self.grid_canvas.add_rect(SELECT, 2.0)
        self.grid_canvas.clicked.connect(self._on_grid_canvas_clicked)
        self.grid_canvas.hovered.connect(self._on_grid_canvas_hovered)
        rl.addWidget(self.grid_canvas, 1)
        self.readout = caption(" ")
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        rl.addWidget(self.readout)
        split.addWidget(right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([250, 650])
        lay.addWidget(split, 1)

        # timeline
        self.timeline = QWidget()
        tl = QHBoxLayout(self.timeline)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(QLabel("Training timeline:"))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("How the maps of this input changed from epoch to epoch (rightmost: now)")
        self.slider.setPageStep(1)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.valueChanged.connect(self._on_slider_changed)
        tl.addWidget(self.slider, 1)
        self.epoch_label = QLabel("now")
        self.epoch_label.setMinimumWidth(110)
        tl.addWidget(self.epoch_label)
        self.follow_check = QCheckBox("Follow training")
        self.follow_check.setToolTip("Jump to the newest maps as they arrive")
        self.follow_check.setChecked(True)
        self.follow_check.toggled.connect(self._on_follow_check_toggled)
        tl.addWidget(self.follow_check)
        self.timeline.setVisible(False)
        lay.addWidget(self.timeline)
        self.status = caption("")
        lay.addWidget(self.status)

    def _update_enabled(self) -> None:
        m = self._imodel
        has_data = m is not None and bool(m.splits())
        for w in (self.split_combo, self.class_combo, self.prev_button, self.next_button, self.index_spin):
            w.setEnabled(has_data)
        self.open_button.setEnabled(m is not None)
        self.draw_button.setEnabled(m is not None)
        self.save_button.setEnabled(self.grid_rgb is not None)

    # ================================================================================ model and inputs
    def set_model(self, imodel: InspectModel | None) -> None:
        """Show this network's maps. Resets the input to the first sample of the validation split."""
        self._imodel = imodel
        self._pred = None
        self._fill_layers()
        self.split_combo.blockSignals(True)
        self.class_combo.blockSignals(True)
        self.split_combo.clear()
        self.class_combo.clear()
        if imodel is not None:
            for s in imodel.splits():
                self.split_combo.addItem(SPLIT_TITLES.get(s, s), s)
            self.class_combo.addItem("all classes", None)
            for i, name in enumerate(imodel.class_names):
                self.class_combo.addItem(name, i)
        self.split_combo.blockSignals(False)
        self.class_combo.blockSignals(False)
        self._update_enabled()
        if imodel is None:
            return
        if imodel.info.data_error:
            self.status.setText(f"No samples to browse: {imodel.info.data_error}. Open an image file or draw instead.")
        if self._node is None or not imodel.has_node(self._node):
            layers = imodel.layer_nodes()
            self._node = next((n for n in layers if len(imodel.node_shape(n)) == 3), layers[0] if layers else None)
            self._select_layer_combo()
        # keep the sample being looked at when the new model has it (e.g. the trained model of the run)
        keep = self._split in imodel.splits() and self._index < len(imodel.labels(self._split))
        if not keep:
            self._split, self._index = imodel.default_split(), 0
        i = self.split_combo.findData(self._split)
        if i >= 0:
            self.split_combo.blockSignals(True)
            self.split_combo.setCurrentIndex(i)
            self.split_combo.blockSignals(False)
        self._apply_filter()
        kind = self._input_key[0] if self._input_key else None
        if kind == "file" and self.open_image(self._input_key[1]):
            return  # the same file, converted for this model
        if kind == "drawing" and not self.pad.is_empty():
            self._on_pad_changed()
        elif kind == "tensor" and self._input is not None and tuple(self._input.shape) == imodel.input_shape:
            self._set_input(self._input, self._input_label, self._input_name, self._input_key)
        elif self._split is not None:
            self.show_sample(self._split, self._index)
        else:
            self._request_maps()

    def model(self) -> InspectModel | None:
        return self._imodel

    def _fill_layers(self) -> None:
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        nodes: list[str] = []
        if self._imodel is not None:
            nodes = self._imodel.layer_nodes()
        else:
            seen = set()
            for maps, _ in self._snapshots.values():
                for k in maps:
                    if k not in seen:
                        seen.add(k)
                        nodes.append(k)
            nodes += [k for k in self._live if k not in seen]
        for nid in nodes:
            shape = self._imodel.node_shape(nid) if self._imodel is not None else None
            label = nid
            if shape is not None:
                label = f"{nid}  ({'×'.join(map(str, shape))})"
            self.layer_combo.addItem(label, nid)
        self.layer_combo.blockSignals(False)
        self._select_layer_combo()

    def _select_layer_combo(self) -> None:
        i = self.layer_combo.findData(self._node) if self._node is not None else -1
        self.layer_combo.blockSignals(True)
        if i < 0 and self._node is not None:
            self.layer_combo.addItem(self._node, self._node)
            i = self.layer_combo.count() - 1
        self.layer_combo.setCurrentIndex(i)
        self.layer_combo.blockSignals(False)

    def set_node(self, node_id: str) -> bool:
        """Show the outputs of ``node_id`` (the main window calls this when a node is clicked).
        False (and a message) when the network has no such node or it has no output to show."""
        if self._imodel is not None and not self._imodel.has_node(node_id):
            self.status.setText(f"'{node_id}' has no output to show (the input, the loss or an unknown node); pick another layer")
            return False
        if node_id == self._node and self.maps_node == node_id and self.maps is not None:
            return True
        self._node = node_id
        self.channel = None
        self.unit = None
        self.rf = None
        self.rf_rect.setVisible(False)
        self.unit_rect.setVisible(False)
        self._select_layer_combo()
        self.status.setText("")
        self.node_changed.emit(node_id)
        self._emit_pin()
        self._refresh()
        return True

    @property
    def node(self) -> str | None:
        return self._node

    def _apply_filter(self) -> None:
        m = self._imodel
        if m is None or self._split is None:
            self._filtered = None
            return
        labels = m.labels(self._split)
        cls = self.class_combo.currentData()
        self._filtered = np.nonzero(labels == cls)[0] if cls is not None else np.arange(len(labels))
        self.index_spin.blockSignals(True)
        self.index_spin.setRange(0, max(0, len(labels) - 1))
        self.index_spin.blockSignals(False)

    def show_sample(self, split: str, index: int) -> bool:
        """Use sample ``index`` of ``split`` as the input."""
        m = self._imodel
        if m is None:
            return False
        try:
            x, y = m.sample(split, index)
        except Exception as e:
            self.show_error(str(e))
            return False
        if split != self._split:
            self._split = split
            i = self.split_combo.findData(split)
            self.split_combo.blockSignals(True)
            self.split_combo.setCurrentIndex(i)
            self.split_combo.blockSignals(False)
            self._apply_filter()
        self._index = index
        self.index_spin.blockSignals(True)
        self.index_spin.setValue(index)
        self.index_spin.blockSignals(False)
        n = len(m.labels(split))
        self._set_input(x, y, f"sample {index} of {n} ({SPLIT_TITLES.get(split, split)})", ("sample", split, index))
        return True

    def set_input(self, x_uint8, label: int | None = None, name: str = "image") -> None:
        """Use any uint8 (C, H, W) image as the input (e.g. a sample picked in another view)."""
        self._set_input(x_uint8, label, name, ("tensor", name, id(x_uint8)))

    def open_image(self, path: str | None = None) -> bool:
        """Feed an image file (``None``: ask with a file dialog)."""
        if self._imodel is None:
            return False
        if path is None:
            paths = self.get_open_paths("Open an image")
            if not paths:
                return False
            path = paths[0]
        try:
            x = self._imodel.load_image(path)
        except Exception as e:
            self.show_error(str(e))
            return False
        self.draw_button.setChecked(False)
        self._set_input(x, None, Path(path).name, ("file", str(path)))
        return True

    def _set_input(self, x, label, name, key) -> None:
        self._input = x
        self._input_label = label
        self._input_name = name
        self._input_key = key
        self._pred = None
        self.status.setText("")
        self.rf_rect.setVisible(False)
        self.rf = None
        self._show_input(x)
        self._update_caption()
        self.input_changed.emit(x)
        self._emit_pin()
        self._refresh()

    def _show_input(self, x) -> None:
        if x is None:
            self.input_canvas.set_rgb(None)
            return
        from ...inspection.render import image_to_rgb

        self.input_canvas.set_rgb(image_to_rgb(np.asarray(x)))

    def _update_caption(self) -> None:
        m = self._imodel
        parts = [self._input_name] if self._input_name else []
        if self._input_label is not None and m is not None:
            parts.append(f"true: <b>{m.class_name(self._input_label)}</b>")
        if self._pred is not None and m is not None:
            k, p = self._pred
            ok = self._input_label is None or k == self._input_label
            colour = "#16a34a" if ok else "#dc2626"
            parts.append(f"predicted: <b style='color:{colour}'>{m.class_name(k)}</b> ({100 * p:.0f}%)")
        self.input_caption.setText("<br>".join(parts))

    def _emit_pin(self) -> None:
        if self._input is not None and self._node is not None:
            self._pinned = self._input
            self.pin_requested.emit(self._input, self.live_node())

    def live_node(self) -> str:
        """The node whose maps training should refresh live: the shown one, or "" while this view
        is in a hidden tab (the trainer then skips live maps; per-epoch snapshots go on)."""
        return (self._node or "") if on_screen(self) else ""

    @property
    def input_tensor(self):
        return self._input

    # ================================================================================ where maps come from
    def _now_maps(self) -> tuple[np.ndarray | None, str]:
        """The newest maps of the current node from training (live or last snapshot)."""
        node = self._node
        live = self._live.get(node) if node is not None else None
        snap = None
        for e in sorted(self._snapshots, reverse=True):
            maps = self._snapshots[e][0]
            if node in maps:
                snap = maps[node]
                break
        if live is not None and (snap is None or self._live_time >= self._last_snapshot_time):
            return live, "live"
        if snap is not None:
            return np.asarray(snap, dtype=np.float32), "snapshot"
        return None, ""

    def _refresh(self) -> None:
        """Show what the timeline position asks for: a snapshot, or now (training maps or the model's)."""
        if self._node is None:
            return
        epoch = self._slider_epoch()
        if epoch is not None:
            maps, x = self._snapshots[epoch]
            if self._node in maps:
                if x is not None:
                    self._show_input(x)
                self._set_maps(np.asarray(maps[self._node], dtype=np.float32), "snapshot")
            else:
                self._set_maps(None, "snapshot")
                self.grid_canvas.set_placeholder(f"No snapshot of '{self._node}' at epoch {epoch}")
            return
        if self._input is not None:
            self._show_input(self._input)
        if self._training or self._imodel is None:
            maps, src = self._now_maps()
            if maps is not None:
                self._set_maps(maps, src)
            elif self._imodel is None:
                self._set_maps(None, "")
                self.grid_canvas.set_placeholder("Open a run or train the network to see its feature maps")
            if self._imodel is None or maps is not None:
                return
        self._request_maps()

    def _request_maps(self) -> None:
        m, node, x = self._imodel, self._node, self._input
        if m is None or node is None or x is None:
            return

        def job(progress, cancel):
            maps = m.feature_maps(x, node)
            idx, p = m.predict(x, 1)
            return node, maps, (int(idx[0]), float(p[0]))

        self._runner.submit(job, self._on_maps_computed, self._on_job_failed, key="maps")

    def _on_maps_computed(self, result) -> None:
        node, maps, pred = result
        if node != self._node or self._slider_epoch() is not None:
            return
        self._pred = pred
        self._update_caption()
        self._set_maps(maps, "model")

    def _on_job_failed(self, message: str, details: str) -> None:
        self.show_error(message)

    # ================================================================================ rendering
    def _set_maps(self, maps: np.ndarray | None, source: str) -> None:
        self.maps = maps
        self.maps_node = self._node if maps is not None else None
        self.maps_source = source
        if maps is None:
            self.grid_rgb = None
            self.geometry = None
            self.grid_canvas.set_rgb(None)
            self.select_rect.setVisible(False)
            self.tile_canvas.set_rgb(None)
            self._update_enabled()
            return
        if self.channel is not None and self.channel >= (maps.shape[0] if maps.ndim == 3 else 1):
            self.channel = None
        self._render()

    def show_maps(self, maps: np.ndarray, node_id: str | None = None, source: str = "model") -> None:
        """Display given maps (C, h, w) or (F,) as the current layer's (benchmarks, scripts)."""
        if node_id is not None:
            self._node = node_id
        self._set_maps(np.asarray(maps, dtype=np.float32), source)

    def _render(self) -> None:
        maps = self.maps
        if maps is None:
            return
        geom = GridGeometry.for_maps(maps.shape)
        rgb = _render().channel_grid(maps, shared=self._shared, cmap=self._cmap, pad=geom.pad, upscale=geom.upscale)
        relabel = geom != self.geometry
        self.geometry = geom
        self.grid_rgb = rgb
        self.grid_canvas.set_rgb(rgb)
        if relabel:  # channel numbers on the tiles (shown once the tiles are big enough on screen)
            labels = [] if geom.count < 2 else [(left, top, str(i)) for i in range(geom.count) for top, left in (geom.origin(i),)]
            self.grid_canvas.set_tile_labels(labels, geom.tile_w)
        self._update_title()
        self._update_selection()
        self._update_enabled()
        self.maps_shown.emit()

    def _update_title(self) -> None:
        maps, node, m = self.maps, self._node, self._imodel
        if maps is None or node is None:
            self.grid_title.setText("")
            return
        title = m.node_title(node) if m is not None else f"'{node}'"
        if maps.ndim == 3:
            what = f"{maps.shape[0]} channels of {maps.shape[1]}×{maps.shape[2]}"
        else:
            what = f"{maps.shape[0]} values (a flat layer)"
        src = {"model": "", "live": " · live", "snapshot": ""}.get(self.maps_source, "")
        e = self._slider_epoch()
        if e is not None:
            src = f" · epoch {e}" if e > 0 else " · before training"
        rf = m.rf_size(node) if m is not None else None
        rf_text = f" · receptive field {rf[0]}×{rf[1]} px" if rf else ""
        self.grid_title.setText(f"{title}: {what}{rf_text}{src}")

    def _channel_values(self, c: int) -> np.ndarray:
        maps = self.maps
        if maps.ndim == 1:
            g = self.geometry
            flat = np.full(g.map_h * g.map_w, np.nan, dtype=np.float32)
            flat[: maps.shape[0]] = maps
            return flat.reshape(g.map_h, g.map_w)
        return maps[c]

    def _update_selection(self) -> None:
        g, c = self.geometry, self.channel
        if g is None or c is None:
            self.select_rect.setVisible(False)
            self.tile_canvas.set_rgb(None)
            self.tile_title.setText("Channel")
            self.tile_caption.setText("")
            self.unit_rect.setVisible(False)
            return
        top, left = g.origin(c)
        set_rect(self.select_rect, top - 0.5, left - 0.5, top + g.tile_h - 0.5, left + g.tile_w - 0.5)
        render = _render()
        vals = self._channel_values(c)
        finite = vals[np.isfinite(vals)]
        if self._shared:
            lo, hi = float(np.nanmin(self.maps)), float(np.nanmax(self.maps))
        else:
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        v01 = np.clip((np.nan_to_num(vals, nan=lo) - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(vals)
        lut = render.colormap_lut(self._cmap)
        rgb = lut[np.clip(np.rint(v01 * 255), 0, 255).astype(np.int32)]
        self.tile_canvas.set_rgb(np.ascontiguousarray(rgb))
        if self.maps.ndim == 3:
            self.tile_title.setText(f"Channel {c} of {self.maps.shape[0]}")
        else:
            self.tile_title.setText(f"All {self.maps.shape[0]} values")
        self._stats_text = f"mean {np.nanmean(vals):.3g} · min {np.nanmin(vals):.3g} · max {np.nanmax(vals):.3g}"
        self.tile_caption.setText(self._stats_text)
        if self.unit is not None:
            self._show_unit(*self.unit)

    def select_channel(self, c: int) -> None:
        """Enlarge channel ``c``."""
        if self.maps is None:
            return
        n = self.maps.shape[0] if self.maps.ndim == 3 else 1
        if not 0 <= c < n:
            return
        if c != self.channel:
            self.unit = None
            self.unit_rect.setVisible(False)
        self.channel = c
        self._update_selection()
        self.channel_selected.emit(c)

    def select_unit(self, y: int, x: int) -> tuple[int, int, int, int] | None:
        """Select unit (y, x) of the enlarged channel; outlines its receptive field on the input
        and returns the box (top, left, bottom, right) in input pixels (clipped), or None."""
        if self.maps is None or self.channel is None:
            return None
        vals = self._channel_values(self.channel)
        if not (0 <= y < vals.shape[0] and 0 <= x < vals.shape[1]):
            return None
        self.unit = (y, x)
        return self._show_unit(y, x)

    def _show_unit(self, y: int, x: int):
        vals = self._channel_values(self.channel)
        set_rect(self.unit_rect, y - 0.0, x - 0.0, y, x)
        m, node = self._imodel, self._node
        box = None
        flat_index = None
        if self.maps.ndim == 1:
            flat_index = y * vals.shape[1] + x
            if flat_index >= self.maps.shape[0]:
                return None
        if m is not None and node is not None:
            if self.maps.ndim == 1:
                box = m.rf_box(node, 0, 0)
            else:
                box = m.rf_box(node, y, x)
        self.rf = box
        value = vals[y, x]
        where = f"unit {flat_index}" if flat_index is not None else f"unit (row {y}, col {x})"
        text = f"{where} = {value:.4g}"
        if box is not None:
            t, l_, b, r = box
            h, w = m.input_shape[1:]
            self.rf_rect.set_box(t, l_, b, r, h, w)
            size = m.rf_size(node)
            text += f"<br>sees input rows {t}–{b}, columns {l_}–{r}"
            if size is not None:
                text += f" (receptive field {size[0]}×{size[1]} px"
                if (b - t + 1, r - l_ + 1) != tuple(size):
                    text += ", clipped at the border"
                text += ")"
        else:
            self.rf_rect.setVisible(False)
        self.tile_caption.setText(f"{getattr(self, '_stats_text', '')}<br>{text}")
        return box

    # ================================================================================ training
    @Slot(int, dict)
    def add_snapshot(self, epoch: int, maps: dict) -> None:
        """Feature maps from training: ``epoch >= 0`` is kept for the timeline, ``-1`` is a live
        refresh (applied at most ``live_fps`` times a second). Connect ``TrainingWorker.feature_maps``."""
        now = time.monotonic()
        new_nodes = any(k not in self._live and not any(k in s[0] for s in self._snapshots.values()) for k in maps)
        if epoch < 0:
            for k, v in maps.items():
                self._live[k] = np.asarray(v, dtype=np.float32)
            self._live_time = now
        else:
            stored = {k: np.asarray(v).astype(np.float16) for k, v in maps.items()}
            self._snapshots[int(epoch)] = (stored, self._pinned)
            self._last_snapshot_time = now
            self._trim_snapshots()
            self._update_timeline()
        if self._node is None and maps:
            self._node = next(iter(maps))
        if self._imodel is None and new_nodes:
            self._fill_layers()
        if self._slider_epoch() is None and (self._node in maps):
            if epoch < 0 or not on_screen(self):  # hidden: render once shown (on_dock_shown)
                self._live_dirty = True
                if on_screen(self) and not self._live_timer.isActive():
                    self._live_timer.start()
            else:
                self._refresh()

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        self.on_dock_shown()

    def on_dock_shown(self) -> None:
        """Visible again (shown, or its dock tab came forward): draw what arrived meanwhile, and
        have training refresh this view's maps live again."""
        if self._live_dirty and not self._live_timer.isActive():
            self._live_timer.start()
        if self._training:
            self._emit_pin()

    def on_dock_hidden(self) -> None:
        """Its dock tab went to the back: training stops refreshing maps nobody sees."""
        if self._training:
            self._emit_pin()

    @Slot()
    def _on_live_timer_timeout(self) -> None:
        if not on_screen(self):  # nothing to paint for (a hidden dock tab): keep the data, draw when shown
            return
        if self._live_dirty:
            self._live_dirty = False
            if self._slider_epoch() is None:
                maps, src = self._now_maps()
                if maps is not None and (self._training or self._imodel is None or src == "live"):
                    self._set_maps(maps, src)

    def set_training_active(self, active: bool) -> None:
        """While training runs, the maps come from the worker (live and per epoch), not from the
        model set with ``set_model`` (that one may be an older copy)."""
        self._training = bool(active)
        if active:
            self._emit_pin()
        self._refresh()

    def clear_snapshots(self) -> None:
        self._snapshots.clear()
        self._live.clear()
        self._update_timeline()

    def snapshot_epochs(self) -> list[int]:
        return sorted(self._snapshots)

    def show_epoch(self, epoch: int | None) -> None:
        """Move the timeline to ``epoch`` (None: now)."""
        epochs = self.snapshot_epochs()
        pos = len(epochs) if epoch is None else epochs.index(epoch)
        self.follow_check.setChecked(epoch is None)
        self.slider.setValue(pos)
        self._on_slider_changed(pos)

    def _trim_snapshots(self) -> None:
        def size() -> int:
            return sum(a.nbytes for maps, _ in self._snapshots.values() for a in maps.values())

        while size() > SNAPSHOT_BUDGET_BYTES and len(self._snapshots) > 2:
            epochs = sorted(self._snapshots)
            # drop every other inner epoch, oldest first: keeps the first and last
            del self._snapshots[epochs[1]]

    def _update_timeline(self) -> None:
        epochs = self.snapshot_epochs()
        self.timeline.setVisible(bool(epochs))
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(epochs))
        if self.follow_check.isChecked():
            self.slider.setValue(len(epochs))
        self.slider.blockSignals(False)
        self._update_epoch_label()

    def _slider_epoch(self) -> int | None:
        epochs = self.snapshot_epochs()
        if not epochs:
            return None
        v = self.slider.value()
        return epochs[v] if 0 <= v < len(epochs) else None

    def _update_epoch_label(self) -> None:
        e = self._slider_epoch()
        epochs = self.snapshot_epochs()
        if e is None:
            self.epoch_label.setText("now" + (f" (after epoch {epochs[-1]})" if epochs and epochs[-1] > 0 else ""))
        else:
            self.epoch_label.setText(f"epoch {e} of {epochs[-1]}" if e > 0 else "before training")

    @Slot(int)
    def _on_slider_changed(self, value: int) -> None:
        epochs = self.snapshot_epochs()
        if value < len(epochs) and self.follow_check.isChecked():
            self.follow_check.blockSignals(True)
            self.follow_check.setChecked(False)
            self.follow_check.blockSignals(False)
        self._update_epoch_label()
        self._refresh()  # the chosen channel and unit stay: compare the same unit across epochs

    @Slot(bool)
    def _on_follow_check_toggled(self, on: bool) -> None:
        if on:
            self.slider.setValue(len(self.snapshot_epochs()))

    # ================================================================================ user events
    @Slot(int)
    def _on_split_combo_changed(self, i: int) -> None:
        split = self.split_combo.itemData(i)
        if split and split != self._split:
            self._split = split
            self._apply_filter()
            self._step(0, first=True)

    @Slot(int)
    def _on_class_combo_changed(self, i: int) -> None:
        self._apply_filter()
        self._step(0, first=True)

    def _step(self, delta: int, first: bool = False) -> None:
        f = self._filtered
        if f is None or not len(f) or self._split is None:
            if f is not None and not len(f):
                self.status.setText("No sample of this class in this split")
            return
        if first:
            pos = 0 if self._index not in f else int(np.searchsorted(f, self._index))
            if delta == 0 and self._index in f:
                return
        else:
            pos = int(np.searchsorted(f, self._index))
            if delta > 0:
                pos = pos + 1 if pos < len(f) and f[pos] == self._index else pos
            else:
                pos = pos - 1
        pos %= len(f)
        self.show_sample(self._split, int(f[pos]))

    @Slot()
    def _on_prev_button_clicked(self) -> None:
        self._step(-1)

    @Slot()
    def _on_next_button_clicked(self) -> None:
        self._step(1)

    @Slot(int)
    def _on_index_spin_changed(self, v: int) -> None:
        if self._split is not None and v != self._index:
            self.show_sample(self._split, v)

    @Slot()
    def _on_open_button_clicked(self) -> None:
        self.open_image(None)

    @Slot(bool)
    def _on_draw_button_toggled(self, on: bool) -> None:
        self.pad_box.setVisible(on)
        if on and not self.pad.is_empty():
            self._on_pad_changed()

    @Slot()
    def _on_pad_changed(self) -> None:
        if self._imodel is None:
            return
        x = self._imodel.drawing_to_input(self.pad.array())
        self._set_input(x, None, "drawing", ("drawing", time.monotonic()))

    @Slot(int)
    def _on_layer_combo_changed(self, i: int) -> None:
        nid = self.layer_combo.itemData(i)
        if nid:
            self.set_node(nid)

    @Slot(str)
    def _on_cmap_combo_changed(self, name: str) -> None:
        self.set_colormap(name)

    @Slot(int)
    def _on_scale_combo_changed(self, i: int) -> None:
        self.set_shared_scale(i == 1)

    def set_colormap(self, name: str) -> None:
        if name not in CMAPS:
            raise ValueError(f"unknown colour map {name!r}")
        self._cmap = name
        if self.cmap_combo.currentText() != name:
            self.cmap_combo.blockSignals(True)
            self.cmap_combo.setCurrentText(name)
            self.cmap_combo.blockSignals(False)
        self._render()

    def set_shared_scale(self, shared: bool) -> None:
        self._shared = bool(shared)
        if self.scale_combo.currentIndex() != int(shared):
            self.scale_combo.blockSignals(True)
            self.scale_combo.setCurrentIndex(int(shared))
            self.scale_combo.blockSignals(False)
        self._render()

    @Slot(float, float)
    def _on_grid_canvas_clicked(self, x: float, y: float) -> None:
        g = self.geometry
        if g is None:
            return
        i = g.tile_at(x, y)
        if i is not None:
            self.select_channel(i)

    @Slot(float, float)
    def _on_grid_canvas_hovered(self, x: float, y: float) -> None:
        g, maps = self.geometry, self.maps
        if g is None or maps is None or x < 0:
            self.readout.setText(" ")
            self.grid_canvas.setToolTip("")
            return
        i = g.tile_at(x, y)
        if i is None:
            self.readout.setText(" ")
            self.grid_canvas.setToolTip("")
            return
        vals = self._channel_values(i)
        u = g.unit_at(i, x, y)
        if maps.ndim == 3:
            text = f"channel {i} · mean {float(vals.mean()):.3g} · max {float(vals.max()):.3g}"
            if u is not None:
                text += f" · unit ({u[0]}, {u[1]}) = {float(vals[u]):.3g}"
        else:
            text = f"{maps.shape[0]} values · mean {float(np.nanmean(vals)):.3g}"
            if u is not None:
                k = u[0] * g.map_w + u[1]
                if k < maps.shape[0]:
                    text += f" · unit {k} = {float(maps[k]):.3g}"
        self.readout.setText(text + " — click to enlarge")
        self.grid_canvas.setToolTip(text)

    @Slot(float, float)
    def _on_tile_canvas_clicked(self, x: float, y: float) -> None:
        if self.channel is None:
            return
        self.select_unit(int(math.floor(y)), int(math.floor(x)))

    @Slot()
    def _on_save_button_clicked(self) -> None:
        name = f"{self._node or 'featuremaps'}.png"
        path = self.get_save_path("Save feature maps as PNG", name)
        if path:
            self.save_png(path)

    def save_png(self, path: str) -> str | None:
        """Write the channel grid as shown (same colours and scaling) to ``path``."""
        return self._write_png(lambda p: _render().save_png(self.grid_rgb, p), path, ready=self.grid_rgb is not None)

    # ================================================================================ teardown
    def shutdown(self) -> None:
        """Stop background work (call before the widget goes away)."""
        self._live_timer.stop()
        super().shutdown()
