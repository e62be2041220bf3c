"""Feature maps of one layer for one input, as a grid of channel tiles, with the receptive field of
any unit outlined on the input, and a timeline of per-epoch snapshots recorded during training.

The view composes its parts, each in its own module: the shared :class:`SamplePicker` (inputs),
:class:`MapGrid` (rendering), :class:`Timeline` and :class:`SnapshotStore` (what training sent).
This class holds what ties them together: the shown layer and input, where the maps of now come
from, the enlarged channel and its units, and the source it names (``show_source``).

Where the maps come from:
- a model (``set_model``, or ``show_source`` with a loaded run): computed for the chosen input and
  layer in a background thread;
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
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout, QWidget

from ...inspection.model import SPLIT_TITLES, InspectModel
from ..state import NOTHING_HINT
from ..visibility import on_screen
from .jobs import JobRunner
from .maps_channel import ChannelSelection
from .maps_grid import CMAPS, MapGrid, one_line
from .maps_sources import SNAPSHOT_BUDGET_BYTES, SnapshotStore  # noqa: F401 (re-exported)
from .maps_timeline import Timeline
from .samples import SamplePicker
from .widgets import DialogsMixin, DrawPad, ImageCanvas, banner, caption, pad_with_buttons


def _render():
    from ...inspection import render

    return render


class FeatureMapView(ChannelSelection, DialogsMixin, QWidget):
    node_changed = Signal(str)
    input_changed = Signal(object)  # uint8 (C, H, W) tensor of the input now shown
    pin_requested = Signal(object, str)  # (uint8 (C, H, W) tensor, node id): connect to TrainingWorker.pin_sample
    channel_selected = Signal(int)
    maps_shown = Signal()  # a new set of maps is on screen

    def __init__(self, model: InspectModel | None = None, parent=None, live_fps: float = 10.0, runner: JobRunner | None = None):
        super().__init__(parent)
        self.setObjectName("feature_map_view")
        self._imodel: InspectModel | None = None
        self._source = None  # the ViewSource shown (None: standalone, driven by set_model)
        self._init_runner(runner, "cnn-studio-featuremaps")
        self._node: str | None = None
        self._input = None  # uint8 (C, H, W) tensor
        self._input_label: int | None = None
        self._input_name = ""
        self._input_key: tuple = ()
        self._pred: tuple | None = None
        self.maps_node: str | None = None
        self.maps_source = ""  # "model", "live", "snapshot"
        self.channel: int | None = None
        self.unit: tuple[int, int] | None = None
        self.rf: tuple[int, int, int, int] | None = None
        self._stats_text = ""
        # training
        self.store = SnapshotStore()
        self._training = False
        self._pinned = None
        self._live_dirty = False
        self._last_live_render = -math.inf  # time.monotonic() of the last live refresh drawn
        self._build()
        self._live_timer = QTimer(self)
        self._live_timer.setSingleShot(True)
        self._live_frame_s = 1.0 / max(live_fps, 0.1)
        self._live_timer.setInterval(int(1000 * self._live_frame_s))
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
        self.source_banner = banner()
        lay.addWidget(self.source_banner)

        self.picker = SamplePicker()
        self.picker.sample_chosen.connect(self.show_sample)
        self.picker.message.connect(self.status_message)
        self.picker.open_clicked.connect(self._on_open_button_clicked)
        self.picker.draw_toggled.connect(self._on_draw_button_toggled)
        lay.addWidget(self.picker)
        for name in ("split_combo", "class_combo", "prev_button", "index_spin", "next_button", "open_button", "draw_button"):
            setattr(self, name, getattr(self.picker, name))

        # display row
        row = QHBoxLayout()
        row.setSpacing(4)
        row.addWidget(QLabel("Layer:"))
        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("The layer whose output is shown; clicking a node on the canvas picks it too")
        # a long layer name must not widen the row (and with it the whole view) for good
        self.layer_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.layer_combo.setMinimumContentsLength(16)
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

        # the timeline sits above the maps: at the bottom, a short dock scrolled it out of sight
        self.timeline = Timeline()
        self.timeline.moved.connect(self._on_timeline_moved)
        self.slider, self.epoch_label, self.follow_check = self.timeline.slider, self.timeline.epoch_label, self.timeline.follow_check
        lay.addWidget(self.timeline)

        split = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.setSpacing(2)
        # small minimum sizes: the view must fit a short dock whole (a taller minimum made the
        # dock's scroll area cut the grid to its top rows)
        self.input_canvas = ImageCanvas(placeholder="No input", min_size=64)
        self.input_canvas.setToolTip("The input (as the network sees it)")
        self.rf_rect = self.input_canvas.add_focus()
        ll.addWidget(self.input_canvas, 3)
        self.input_caption = caption("")
        one_line(self.input_caption)
        ll.addWidget(self.input_caption)
        self.pad = DrawPad()
        self.pad.changed.connect(self._on_pad_changed)
        self.pad_box = pad_with_buttons(self.pad)
        self.pad_box.setVisible(False)
        ll.addWidget(self.pad_box)
        self.tile_title = caption("Channel", bold=True)
        one_line(self.tile_title)
        ll.addWidget(self.tile_title)
        self.tile_canvas = ImageCanvas(placeholder="Click a channel to enlarge it", min_size=64)
        self.tile_canvas.setToolTip("Click a unit to outline its receptive field on the input")
        self.unit_rect = self.tile_canvas.add_rect()
        self.tile_canvas.clicked.connect(self._on_tile_canvas_clicked)
        ll.addWidget(self.tile_canvas, 3)
        self.tile_caption = caption("")
        one_line(self.tile_caption)
        ll.addWidget(self.tile_caption)
        left.setMinimumWidth(170)
        split.addWidget(left)

        self.grid = MapGrid()
        self.grid.tile_clicked.connect(self.select_channel)
        self.grid_title, self.grid_canvas, self.select_rect, self.readout = self.grid.title, self.grid.canvas, self.grid.select_rect, self.grid.readout
        split.addWidget(self.grid)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([230, 670])
        lay.addWidget(split, 1)
        self.status = caption("")
        one_line(self.status)
        lay.addWidget(self.status)

    # the grid's state, under the names scripts and tests use
    @property
    def maps(self) -> np.ndarray | None:
        return self.grid.maps

    @property
    def geometry(self):
        return self.grid.geometry

    @property
    def grid_rgb(self) -> np.ndarray | None:
        return self.grid.grid_rgb

    def status_message(self, text: str) -> None:
        self.status.setText(text)
        self.status.setToolTip(text)

    def _update_enabled(self) -> None:
        self.save_button.setEnabled(self.grid_rgb is not None)

    # ================================================================================ the source shown
    def show_source(self, src) -> None:
        """Show the app state's source (:class:`~cnn_studio.app.state.ViewSource`): its network's
        maps, or say that there is nothing to show. Another run, or nothing, drops what training
        sent for the one shown before."""
        old, self._source = self._source, src
        self._set_banner(src)
        if not src.same_run(old):
            self.clear_snapshots()
        self._training = src.kind == "live"
        if src.kind == "live":
            self._emit_pin()
        if src.imodel is not self._imodel:
            self.set_model(src.imodel)
        elif self._training or src.imodel is None:
            self._refresh()
        if src.imodel is None and not self.store:
            hint = {"nothing": f"Nothing to show yet. {NOTHING_HINT}.", "live": "Waiting for the first maps of the run…"}
            text = hint.get(src.kind) or (f"Loading run {src.run_name}…" if src.status == "loading" else f"Nothing to show: {src.message or 'the run has no saved weights'}")
            self._clear_shown(text)

    def _clear_shown(self, placeholder: str) -> None:
        """Show no maps and no input (another network's must not stay on screen)."""
        self._input = None
        self._input_key = ()
        self._input_name = ""
        self._input_label = None
        self._pred = None
        self.input_canvas.set_rgb(None)
        self.input_caption.setText("")
        self.rf_rect.setVisible(False)
        self._set_maps(None, "")
        self.grid.clear(placeholder)
        self._fill_layers()

    # ================================================================================ model and inputs
    def set_model(self, imodel: InspectModel | None) -> None:
        """Show this network's maps. Resets the input to the first sample of the validation split."""
        self._imodel = imodel
        self._pred = None
        self.picker.set_model(imodel)
        self._fill_layers()
        self._update_enabled()
        if imodel is None:
            if not self.store:
                self._clear_shown(f"Nothing to show yet. {NOTHING_HINT}.")
            else:
                self._refresh()
            return
        if imodel.info.data_error:
            self.status_message(f"No samples to browse: {imodel.info.data_error}. Open an image file or draw instead.")
        if self._node is None or not imodel.has_node(self._node):
            layers = imodel.layer_nodes()
            self._node = next((n for n in layers if len(imodel.node_shape(n)) == 3), layers[0] if layers else None)
            self._select_layer_combo()
        kind = self._input_key[0] if self._input_key else None
        if kind == "file" and self.open_image(self._input_key[1]):
            return  # the same file, converted for this model
        if kind == "drawing" and not self.pad.is_empty():
            self._on_pad_changed()
        elif kind == "tensor" and self._input is not None and tuple(self._input.shape) == imodel.input_shape:
            self._set_input(self._input, self._input_label, self._input_name, self._input_key)
        elif self.picker.split is not None:
            self.show_sample(self.picker.split, self.picker.index)
        else:
            self._request_maps()

    def model(self) -> InspectModel | None:
        return self._imodel

    def _fill_layers(self) -> None:
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        m = self._imodel
        nodes = m.layer_nodes() if m is not None else self.store.nodes()
        for nid in nodes:
            shape = m.node_shape(nid) if m is not None else None
            self.layer_combo.addItem(f"{nid}  ({'×'.join(map(str, shape))})" if shape is not None else nid, nid)
        self.layer_combo.blockSignals(False)
        self._select_layer_combo()

    def _select_layer_combo(self) -> None:
        i = self.layer_combo.findData(self._node) if self._node is not None else -1
        self.layer_combo.blockSignals(True)
        if i < 0 and self._node is not None and (self._imodel is not None or self.store.has_node(self._node)):
            self.layer_combo.addItem(self._node, self._node)
            i = self.layer_combo.count() - 1
        self.layer_combo.setCurrentIndex(i)
        self.layer_combo.blockSignals(False)

    def _known(self, node_id: str) -> bool:
        if self._imodel is not None:
            return self._imodel.has_node(node_id)
        return self.store.has_node(node_id) or self._source is None

    def set_node(self, node_id: str) -> bool:
        """Show the outputs of ``node_id`` (the main window calls this when a node is clicked).
        False (and a message) when the network shown has no such node or it has no output."""
        if self._source is not None and self._imodel is None and not self.store:
            self.status_message(self._source.describe())
            return False
        if not self._known(node_id):
            net = self._source.network if self._source is not None else ""
            where = f"the network of this run{f' ({net})' if net else ''}"
            self.status_message(f"'{node_id}' has no output to show in {where}: pick another layer")
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
        self.status_message("")
        self.node_changed.emit(node_id)
        self._emit_pin()
        self._refresh()
        return True

    @property
    def node(self) -> str | None:
        return self._node

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
        self.picker.set_current(split, index)
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
        self.status_message("")
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
        self.input_caption.setText(" · ".join(parts))
        self.input_caption.setToolTip(" · ".join(parts))

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
    def _refresh(self) -> None:
        """Show what the timeline position asks for: a snapshot, or now (training maps or the model's)."""
        if self._node is None:
            return
        epoch = self.timeline.epoch()
        if epoch is not None:
            maps, x = self.store.at(epoch, self._node)
            if x is not None:
                self._show_input(x)
            if maps is not None:
                self._set_maps(maps, "snapshot")
            else:
                self._set_maps(None, "snapshot")
                self.grid_canvas.set_placeholder(f"No snapshot of '{self._node}' at epoch {epoch}")
            return
        if self._input is not None:
            self._show_input(self._input)
        if self._training or self._imodel is None:
            maps, src = self.store.now(self._node)
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
            return m, node, maps, (int(idx[0]), float(p[0]))

        self._runner.submit(job, self._on_maps_computed, self._on_job_failed, key="maps")

    def _on_maps_computed(self, result) -> None:
        m, node, maps, pred = result
        if m is not self._imodel or node != self._node or self.timeline.epoch() is not None:
            return  # another network, layer or epoch was chosen meanwhile
        self._pred = pred
        self._update_caption()
        if self._training and self.store.now(node)[0] is not None:
            return  # a run's own maps came meanwhile: they are newer than the model's
        self._set_maps(maps, "model")

    def _on_job_failed(self, message: str, details: str) -> None:
        self.show_error(message)

    # ================================================================================ rendering
    def _set_maps(self, maps: np.ndarray | None, source: str) -> None:
        self.maps_node = self._node if maps is not None else None
        self.maps_source = source
        if maps is None:
            self.grid.clear()
            self.tile_canvas.set_rgb(None)
            self._update_enabled()
            return
        self.grid.maps = maps
        if self.channel is not None and self.channel >= self.grid.channel_count():
            self.channel = None
        self._render()

    def show_maps(self, maps: np.ndarray, node_id: str | None = None, source: str = "model") -> None:
        """Display given maps (C, h, w) or (F,) as the current layer's (benchmarks, scripts)."""
        if node_id is not None:
            self._node = node_id
        self._set_maps(np.asarray(maps, dtype=np.float32), source)

    def _render(self) -> None:
        if not self.grid.render():
            return
        self._update_title()
        self._update_selection()
        self._update_enabled()
        self.maps_shown.emit()

    def _update_title(self) -> None:
        maps, node, m = self.maps, self._node, self._imodel
        if maps is None or node is None:
            self.grid.set_title("")
            return
        title = m.node_title(node) if m is not None else f"'{node}'"
        if maps.ndim == 3:
            what = f"{maps.shape[0]} channels of {maps.shape[1]}×{maps.shape[2]}"
        else:
            what = f"{maps.shape[0]} values (a flat layer)"
        src = {"model": "", "live": " · live", "snapshot": ""}.get(self.maps_source, "")
        if self._training and self.maps_source == "snapshot":
            # following a run: its epoch-end snapshot is its newest maps, as live as the refreshes
            # between them (the title lost and regained "live" at every epoch end)
            src = " · live"
        e = self.timeline.epoch()
        if e is not None:
            src = f" · epoch {e}" if e > 0 else " · before training"
        rf = m.rf_size(node) if m is not None else None
        rf_text = f" · receptive field {rf[0]}×{rf[1]} px" if rf else ""
        self.grid.set_title(f"{title}: {what}{rf_text}{src}")

    # ================================================================================ training
    @Slot(int, dict)
    def add_snapshot(self, epoch: int, maps: dict) -> None:
        """Feature maps from training: ``epoch >= 0`` is kept for the timeline, ``-1`` is a live
        refresh (applied at most ``live_fps`` times a second). Connect ``TrainingWorker.feature_maps``."""
        new_nodes = any(not self.store.has_node(k) for k in maps)
        self.store.add(epoch, maps, self._pinned, time.monotonic())
        if epoch >= 0:
            self.timeline.set_epochs(self.store.epochs())
        if self._node is None and maps:
            self._node = next(iter(maps))
        if self._imodel is None and new_nodes:
            self._fill_layers()
        if self.timeline.epoch() is None and (self._node in maps):
            if epoch < 0 or not on_screen(self):  # hidden: render once shown (on_dock_shown)
                self._live_dirty = True
                if on_screen(self) and not self._live_timer.isActive():
                    # at once when the last live render is a frame old (a run's refreshes come about
                    # once a second: the timer would wake the GUI thread again for each), else
                    # with the burst, when the frame is up
                    wait = self._last_live_render + self._live_frame_s - time.monotonic()
                    if wait <= 0:
                        self._on_live_timer_timeout()
                    else:
                        self._live_timer.start(max(1, math.ceil(wait * 1000)))
            else:
                self._refresh()

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        self.on_dock_shown()

    def on_dock_shown(self) -> None:
        """Visible again (shown, or its dock tab came forward): draw what arrived meanwhile, and
        have training refresh this view's maps live again."""
        if self._live_dirty and not self._live_timer.isActive():
            self._live_timer.start(int(1000 * self._live_frame_s))
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
            self._last_live_render = time.monotonic()
            if self.timeline.epoch() is None:
                maps, src = self.store.now(self._node)
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
        self.store.clear()
        self._live_dirty = False
        self.timeline.set_epochs([])

    def snapshot_epochs(self) -> list[int]:
        return self.store.epochs()

    def show_epoch(self, epoch: int | None) -> None:
        """Move the timeline to ``epoch`` (None: now)."""
        self.timeline.show_epoch(epoch)

    @Slot()
    def _on_timeline_moved(self) -> None:
        self._refresh()  # the chosen channel and unit stay: compare the same unit across epochs

    # ================================================================================ user events
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
        self.grid.cmap = name
        if self.cmap_combo.currentText() != name:
            self.cmap_combo.blockSignals(True)
            self.cmap_combo.setCurrentText(name)
            self.cmap_combo.blockSignals(False)
        self._render()

    def set_shared_scale(self, shared: bool) -> None:
        self.grid.shared = bool(shared)
        if self.scale_combo.currentIndex() != int(shared):
            self.scale_combo.blockSignals(True)
            self.scale_combo.setCurrentIndex(int(shared))
            self.scale_combo.blockSignals(False)
        self._render()

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
