"""Ask the trained network about your own pictures: open image files (or draw), see the top-5
classes, and where in the image the evidence for a class lies, by a chosen method overlaid on the
image (Grad-CAM at a chosen convolution layer, saliency, Integrated Gradients or occlusion; the last
two from Captum, offered when it is installed) next to a plain gradient saliency map. Everything is
computed in the view's worker thread (jobs.py); a newer request supersedes an older one.

Inputs are preprocessed exactly as in training: converted to the network's channels and size with
the run's resize method, then normalised with the run's mean and std (``InspectModel``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ...inspection.model import SPLIT_TITLES
from ..state import why_nothing
from .jobs import JobRunner
from .samples import SamplePicker
from ...inspection.model import InspectModel
from .widgets import (
    DialogsMixin,
    DrawPad,
    Gallery,
    ImageCanvas,
    banner,
    caption,
    pad_with_buttons,
    save_widget_png,
)

TOP_K = 5
# (method, title, tooltip); the engine's names (inspection/attributions.py, not imported here: torch)
METHODS = (
    ("gradcam", "Grad-CAM", "The chosen layer's feature maps weighed by the gradient of the class score"),
    ("saliency", "Saliency", "|d score / d pixel|: pixels whose change would change the class score most"),
    ("ig", "Integrated Gradients", "Gradients integrated along the path from the mean colour to the image (Captum);\n"
                                   "the map sums to the score's change over that path"),
    ("occlusion", "Occlusion", "How much the class score drops when a patch of the image is covered with the mean colour (Captum)"),
)
METHOD_TITLES = {m: t for m, t, _ in METHODS}
INPUT_PLACEHOLDER = "Open images or draw"


def breakable(text: str) -> str:
    """``text`` with a zero-width space after every '-', '_', '/' and '.': a run folder's name
    (lenet5_relu-20261202-042657) is one long word that word wrap would otherwise clip."""
    for ch in "-_/.":
        text = text.replace(ch, ch + "\u200b")
    return text
CAPTUM_METHODS = ("ig", "occlusion")


def _captum_available() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("captum") is not None
    except (ImportError, ValueError):
        return False


class TopKBars(QWidget):
    """Horizontal bars: class name, probability bar, percentage. Click a row to pick that class."""

    class_clicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.entries: list[tuple[int, str, float]] = []  # (class index, name, probability), best first
        self.highlight: int | None = None
        self.setMinimumHeight(TOP_K * 18 + 8)  # rows of 18 px (_row_h's least): a filled view fits the short dock
        self.setMouseTracking(True)
        self.setToolTip("Click a class to see where its evidence lies")

    def set_entries(self, entries: list[tuple[int, str, float]], highlight: int | None = None) -> None:
        self.entries = list(entries)
        self.highlight = highlight
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(320, TOP_K * 24 + 8)

    def _row_h(self) -> float:
        return max(18.0, min(30.0, (self.height() - 8) / max(TOP_K, 1)))

    def mousePressEvent(self, ev):
        i = int((ev.position().y() - 4) // self._row_h())
        if 0 <= i < len(self.entries):
            self.class_clicked.emit(self.entries[i][0])

    def paintEvent(self, ev):
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        fm = QFontMetrics(self.font())
        name_w = min(self.width() * 0.4, max((fm.horizontalAdvance(n) for _, n, _ in self.entries), default=40) + 8)
        pct_w = fm.horizontalAdvance("100.0%") + 8
        bar_x = name_w + 4
        bar_w = max(10.0, self.width() - bar_x - pct_w - 4)
        rh = self._row_h()
        for i, (k, name, prob) in enumerate(self.entries):
            y = 4 + i * rh
            hl = k == self.highlight
            if hl:
                hc = QColor(pal.highlight().color())
                hc.setAlpha(55)
                p.fillRect(QRectF(0, y, self.width(), rh), hc)
            p.setPen(pal.windowText().color())
            f = self.font()
            f.setBold(i == 0)
            p.setFont(f)
            p.drawText(QRectF(0, y, name_w, rh), int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), fm.elidedText(name, Qt.TextElideMode.ElideRight, int(name_w)))
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(200, 205, 212, 90))
            p.drawRoundedRect(QRectF(bar_x, y + rh * 0.2, bar_w, rh * 0.6), 3, 3)
            p.setBrush(QColor(37, 99, 235) if i == 0 else QColor(96, 140, 230))
            p.drawRoundedRect(QRectF(bar_x, y + rh * 0.2, max(1.0, bar_w * float(prob)), rh * 0.6), 3, 3)
            p.setPen(QPen(pal.windowText().color()))
            p.drawText(QRectF(bar_x + bar_w + 4, y, pct_w, rh), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), f"{100 * prob:.1f}%")
        p.end()


class InferenceView(DialogsMixin, QWidget):
    prediction_ready = Signal(dict)  # {"name", "top": [(class, name, prob)], "target", "layer", "method"}
    explain_failed = Signal(str)  # the message shown when a prediction or map could not be computed

    def __init__(self, model: InspectModel | None = None, parent=None, runner: JobRunner | None = None):
        super().__init__(parent)
        self.setObjectName("inference_view")
        self._imodel: InspectModel | None = None
        self._init_runner(runner, "cnn-studio-inference")
        self.inputs: list[tuple[str, object]] = []  # (name, uint8 (C, H, W) tensor)
        self.current: int | None = None
        self.target: int | None = None  # None: top-1
        self.layer: str | None = None
        self.method = "gradcam"  # what the middle picture shows (METHODS)
        self._busy_text = ""  # the status line while a slow method runs
        self.alpha = 0.6
        self.topk: tuple[np.ndarray, np.ndarray] | None = None
        self.cam: np.ndarray | None = None
        self.saliency_map: np.ndarray | None = None
        self.cam_target: int | None = None
        self.cam_method: str | None = None  # the method self.cam was computed with
        self._image_rgb: np.ndarray | None = None
        self._build()
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
        # the shared picker: a sample of the run's data, image files, or a drawing
        self.picker = SamplePicker(label="Sample:", open_text="Open images…",
                                   open_tip="Classify image files; they are converted to the network's input as in training")
        self.picker.sample_chosen.connect(self._on_picker_sample_chosen)
        self.picker.open_clicked.connect(self._on_open_button_clicked)
        self.picker.draw_toggled.connect(self._on_draw_button_toggled)
        self.open_button, self.draw_button = self.picker.open_button, self.picker.draw_button
        self.draw_button.setToolTip("Draw an input with the mouse")
        lay.addWidget(self.picker)
        row = QHBoxLayout()
        row.addWidget(QLabel("Explain class:"))
        self.class_combo = QComboBox()
        self.class_combo.setToolTip("The maps show the evidence for this class")
        self.class_combo.currentIndexChanged.connect(self._on_class_combo_changed)
        row.addWidget(self.class_combo)
        # the method and its layer on a row of their own: one row was too narrow in a small dock
        row2 = QHBoxLayout()
        row2.addWidget(QLabel("by:"))
        self.method_combo = QComboBox()
        captum = _captum_available()
        for i, (key, title, tip) in enumerate(METHODS):
            off = key in CAPTUM_METHODS and not captum
            self.method_combo.addItem(title + (" (needs Captum)" if off else ""), key)
            self.method_combo.setItemData(i, tip + ("\nInstall Captum to use it: pip install 'cnn-studio[explain]'" if off else ""),
                                          Qt.ItemDataRole.ToolTipRole)
            if off:  # shown, so the user learns it exists, but not selectable
                self.method_combo.model().item(i).setEnabled(False)
        self.method_combo.setToolTip("How the evidence for the class is found (the middle picture)")
        self.method_combo.currentIndexChanged.connect(self._on_method_combo_changed)
        row2.addWidget(self.method_combo)
        self.layer_label = QLabel("at layer:")
        row2.addWidget(self.layer_label)
        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("Grad-CAM weighs this layer's feature maps by their gradients;\nthe last convolution layers usually give the clearest maps")
        self.layer_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.layer_combo.currentIndexChanged.connect(self._on_layer_combo_changed)
        row2.addWidget(self.layer_combo)
        row2.addStretch(1)
        row.addWidget(QLabel("Overlay:"))
        self.alpha_slider = QSlider(Qt.Orientation.Horizontal)
        self.alpha_slider.setRange(0, 100)
        self.alpha_slider.setValue(int(self.alpha * 100))
        self.alpha_slider.setMaximumWidth(100)
        self.alpha_slider.setToolTip("Opacity of the heat map over the image")
        self.alpha_slider.valueChanged.connect(self._on_alpha_slider_changed)
        row.addWidget(self.alpha_slider)
        row.addStretch(1)
        self.save_button = QPushButton("Save PNG…")
        self.save_button.setToolTip("Save the input, the explanation, saliency and top-5 as one PNG image")
        self.save_button.clicked.connect(self._on_save_button_clicked)
        row.addWidget(self.save_button)
        lay.addLayout(row)
        lay.addLayout(row2)

        split = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(caption("Inputs", bold=True))
        self.list = Gallery(thumb=48)
        self.list.setGridSize(QSize(92, 78))
        self.list.activated_data.connect(self._on_list_activated)
        ll.addWidget(self.list, 1)
        self.pad = DrawPad()
        self.pad.changed.connect(self._on_pad_changed)
        self.pad_box = pad_with_buttons(self.pad)
        self.pad_box.setVisible(False)
        ll.addWidget(self.pad_box)
        left.setMinimumWidth(120)
        split.addWidget(left)

        self.result_box = QWidget()
        g = QGridLayout(self.result_box)
        g.setContentsMargins(0, 0, 0, 0)
        g.setSpacing(4)
        self.input_title = caption("Input (as the network sees it)", bold=True)
        self.cam_title = caption("Grad-CAM", bold=True)
        self.sal_title = caption("Saliency (|gradient|)", bold=True)
        self.input_canvas = ImageCanvas(placeholder=INPUT_PLACEHOLDER, min_size=140)
        self.cam_canvas = ImageCanvas(min_size=140)
        self.sal_canvas = ImageCanvas(min_size=140)
        self.cam_canvas.setToolTip("Where the chosen layer's features speak for the class (red: most)")
        self.sal_canvas.setToolTip("Pixels whose change would change the class score most")
        for c, (t, cv) in enumerate(((self.input_title, self.input_canvas), (self.cam_title, self.cam_canvas), (self.sal_title, self.sal_canvas))):
            g.addWidget(t, 0, c)
            g.addWidget(cv, 1, c)
        self.input_caption = caption("")
        g.addWidget(self.input_caption, 2, 0)
        self.cam_caption = caption("")
        g.addWidget(self.cam_caption, 2, 1, 1, 2)
        g.addWidget(caption("Top 5", bold=True), 3, 0, 1, 3)
        self.bars = TopKBars()
        self.bars.class_clicked.connect(self._on_bars_class_clicked)
        g.addWidget(self.bars, 4, 0, 1, 3)
        g.setRowStretch(1, 1)
        split.addWidget(self.result_box)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([150, 750])
        lay.addWidget(split, 1)
        self.status = caption("")
        lay.addWidget(self.status)

    def _update_enabled(self) -> None:
        on = self._imodel is not None
        for w in (self.open_button, self.draw_button, self.class_combo, self.method_combo):
            w.setEnabled(on)
        self.layer_combo.setEnabled(on and self.method == "gradcam")  # only Grad-CAM looks at a layer
        self.save_button.setEnabled(self.topk is not None)

    # ================================================================================ public
    def show_source(self, src) -> None:
        """Show the app state's source: explain with its loaded network, or say why not (nothing
        trained yet, a run going or loading). Results of another network never stay."""
        self._set_banner(src)
        if src.imodel is not None and src.kind == "run":
            if src.imodel is not self._imodel:
                self.input_canvas.set_placeholder(INPUT_PLACEHOLDER)  # not "Loading run …" any more
                self.set_model(src.imodel)
                if not self.inputs:
                    self.show_first_sample()  # draw at once, not only once the user steps the sample
            return
        why = why_nothing(src, "explain", "Training: explain the network once the run ends")
        self.set_model(None)
        self.input_canvas.set_placeholder(breakable(why))

    def show_first_sample(self) -> bool:
        """Explain the picker's current sample of the run's data (the first of the default split
        once a run is loaded); False when the run has no data set to take one from."""
        m, split = self._imodel, self.picker.split
        if m is None or split is None:
            return False
        try:
            x, _y = m.sample(split, self.picker.index)
        except Exception as e:  # the data set went missing since the run was trained
            self.status.setText(f"Could not read a sample of the run's data: {e}")
            return False
        self.add_input(x, f"sample {self.picker.index} ({SPLIT_TITLES.get(split, split)})")
        return True

    def _clear_results(self) -> None:
        self.topk = None
        self.cam = self.saliency_map = None
        self.cam_target = None
        self.cam_method = None
        self._image_rgb = None
        for cv in (self.input_canvas, self.cam_canvas, self.sal_canvas):
            cv.set_rgb(None)
        self.input_caption.setText("")
        self.cam_caption.setText("")
        self.cam_title.setText(METHOD_TITLES[self.method])
        self.sal_title.setText("Saliency (|gradient|)")
        self.bars.set_entries([])

    def set_model(self, imodel: InspectModel | None) -> None:
        if imodel is not self._imodel:
            self._clear_results()
            # inputs converted for another network's input shape cannot be fed to this one
            shape = imodel.input_shape if imodel is not None else None
            keep = [(n, x) for n, x in self.inputs if shape is not None and tuple(x.shape) == shape]
            if len(keep) != len(self.inputs):
                self.inputs = keep
                self.current = None
                self._refresh_list()
        self._imodel = imodel
        self.picker.set_model(imodel)
        self.status.setText("")
        self.class_combo.blockSignals(True)
        self.layer_combo.blockSignals(True)
        self.class_combo.clear()
        self.layer_combo.clear()
        if imodel is not None:
            self.class_combo.addItem("top-1 prediction", None)
            for i, n in enumerate(imodel.class_names):
                self.class_combo.addItem(n, i)
            layers = imodel.conv_layers()
            for nid in layers:
                self.layer_combo.addItem(f"{nid}  ({'×'.join(map(str, imodel.node_shape(nid)))})", nid)
            # default: the deepest layer whose maps still have some extent (1x1 maps say nothing about where)
            if self.layer not in layers:
                spatial = [n for n in layers if imodel.node_shape(n)[1] * imodel.node_shape(n)[2] > 1]
                self.layer = (spatial or layers or [None])[-1]
            if self.layer is not None:
                self.layer_combo.setCurrentIndex(self.layer_combo.findData(self.layer))
            if not layers:
                self.status.setText("This network has no layer with feature maps: Grad-CAM is not available (saliency is)")
        self.class_combo.blockSignals(False)
        self.layer_combo.blockSignals(False)
        self.target = None
        self._update_enabled()
        if imodel is not None and self.inputs:
            if self.current is None:
                self.current = 0
                self.list.setCurrentRow(0)
            self._recompute()

    def model(self) -> InspectModel | None:
        return self._imodel

    def open_images(self, paths: list[str] | None = None) -> int:
        """Add image files (``None``: ask with a file dialog); shows the first one. Returns how many
        were read; unreadable files are reported in the status line."""
        m = self._imodel
        if m is None:
            return 0
        if paths is None:
            paths = self.get_open_paths("Open images to classify")
        errors = []
        first = None
        for p in paths:
            try:
                x = m.load_image(p)
            except Exception as e:
                errors.append(str(e))
                continue
            self.inputs.append((Path(p).name, x))
            first = len(self.inputs) - 1 if first is None else first
        self._refresh_list()
        if first is not None:
            self.draw_button.setChecked(False)
            self.show_input(first)
        if errors:
            self.show_error(errors[0] + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""))
        return len(paths) - len(errors)

    def add_input(self, x_uint8, name: str = "sample") -> None:
        """Add any uint8 (C, H, W) image (e.g. a sample from the evaluation gallery) and show it."""
        self.inputs.append((name, x_uint8))
        self._refresh_list()
        self.show_input(len(self.inputs) - 1)

    def show_input(self, i: int) -> None:
        if not 0 <= i < len(self.inputs):
            return
        self.current = i
        self.list.setCurrentRow(i)
        self._recompute()

    def set_target(self, class_index: int | None) -> None:
        """The class to explain (None: the top-1 prediction)."""
        self.target = class_index
        self.class_combo.blockSignals(True)
        self.class_combo.setCurrentIndex(self.class_combo.findData(class_index) if class_index is not None else 0)
        self.class_combo.blockSignals(False)
        self._recompute()

    def set_layer(self, node_id: str) -> bool:
        i = self.layer_combo.findData(node_id)
        if i < 0:
            self.status.setText(f"Grad-CAM needs a layer with feature maps; '{node_id}' is not one")
            return False
        self.layer = node_id
        self.layer_combo.blockSignals(True)
        self.layer_combo.setCurrentIndex(i)
        self.layer_combo.blockSignals(False)
        self._recompute()
        return True

    def set_method(self, method: str) -> bool:
        """Explain by ``method`` (gradcam, saliency, ig, occlusion); False when it is not offered."""
        i = self.method_combo.findData(method)
        if i < 0 or not self.method_combo.model().item(i).isEnabled():
            self.status.setText(f"{METHOD_TITLES.get(method, method)} is not available" +
                                (": install Captum (pip install 'cnn-studio[explain]')" if method in CAPTUM_METHODS else ""))
            return False
        self.method_combo.setCurrentIndex(i)  # -> _on_method_combo_changed
        return True

    def current_input(self):
        return self.inputs[self.current][1] if self.current is not None and self.current < len(self.inputs) else None

    # ================================================================================ compute
    def _recompute(self) -> None:
        m, x = self._imodel, self.current_input()
        if m is None or x is None:
            return
        target, layer, method = self.target, self.layer, self.method
        name = self.inputs[self.current][0]
        if method != "gradcam":
            layer = None

        def job(progress, cancel):
            idx, p = m.predict(x, TOP_K)
            t = int(idx[0]) if target is None else int(target)
            sal = m.saliency(x, t)
            if method == "gradcam":
                cam = m.grad_cam(x, t, layer) if layer is not None else None
            elif method == "saliency":
                cam = sal
            else:  # Captum's: Integrated Gradients or occlusion
                cam = m.explain(x, method, t)
            return m, name, x, idx, p, t, layer, cam, sal, method

        if method in CAPTUM_METHODS:  # many forward passes: say that something is going on
            self._busy_text = f"Computing {METHOD_TITLES[method]}…"
            self.status.setText(self._busy_text)
        self._runner.submit(job, self._on_computed, self._on_job_failed, key="explain")

    def _on_computed(self, r) -> None:
        from ...inspection.render import colormap_lut, image_to_rgb

        m, name, x, idx, p, t, layer, cam, sal, method = r
        if m is not self._imodel:
            return  # computed with a network no longer shown
        self.topk = (idx, p)
        self.cam, self.saliency_map, self.cam_target, self.cam_method = cam, sal, t, method
        if self._busy_text and self.status.text() == self._busy_text:
            self.status.setText("")
        self._busy_text = ""
        rgb = image_to_rgb(np.asarray(x))
        self._image_rgb = rgb
        self.input_canvas.set_rgb(rgb)
        self._show_cam()
        lut = colormap_lut("inferno")
        self.sal_canvas.set_rgb(np.ascontiguousarray(lut[np.clip(np.rint(sal * 255), 0, 255).astype(np.int32)]))
        c, h, w = m.input_shape
        self.input_caption.setText(f"{name} · {c}×{h}×{w}")
        tname = m.class_name(t)
        self.cam_title.setText(f"{METHOD_TITLES[method]} for “{tname}”" + (f" at {layer}" if layer else ""))
        self.sal_title.setText(f"Saliency for “{tname}”")
        pt = None
        where = np.nonzero(idx == t)[0]
        if where.size:
            pt = float(p[where[0]])
        self.cam_caption.setText(
            f"explaining <b>{tname}</b>" + (f" ({100 * pt:.1f}%)" if pt is not None else " (not in the top 5)")
            + ("" if cam is None or cam.max() > 0 else
               " — no evidence for this class at this layer" if method == "gradcam" else " — no evidence for this class by this method")
        )
        entries = [(int(k), m.class_name(int(k)), float(v)) for k, v in zip(idx, p)]
        self.bars.set_entries(entries, highlight=t)
        self._update_enabled()
        self.prediction_ready.emit({"name": name, "top": entries, "target": t, "layer": layer, "method": method})

    def _show_cam(self) -> None:
        from ...inspection.render import overlay

        if self._image_rgb is None:
            return
        if self.cam is None:
            self.cam_canvas.set_rgb(None)
            self.cam_canvas.set_placeholder("No layer with feature maps")
            return
        self.overlay_rgb = overlay(self._image_rgb, self.cam, alpha=self.alpha, cmap="inferno")
        self.cam_canvas.set_rgb(self.overlay_rgb)

    def _on_job_failed(self, message: str, details: str) -> None:
        self.show_error(message)
        self.explain_failed.emit(message)

    # ================================================================================ events
    def _refresh_list(self) -> None:
        from ...inspection.render import image_to_rgb

        self.list.set_items([(image_to_rgb(np.asarray(x)), n, n, i) for i, (n, x) in enumerate(self.inputs)])

    @Slot()
    def _on_open_button_clicked(self) -> None:
        self.open_images(None)

    @Slot(str, int)
    def _on_picker_sample_chosen(self, split: str, index: int) -> None:
        m = self._imodel
        if m is None:
            return
        try:
            x, _y = m.sample(split, index)
        except Exception as e:
            self.show_error(str(e))
            return
        self.picker.set_current(split, index)
        self.add_input(x, f"sample {index} ({SPLIT_TITLES.get(split, split)})")

    @Slot(bool)
    def _on_draw_button_toggled(self, on: bool) -> None:
        self.pad_box.setVisible(on)
        if on and not self.pad.is_empty():
            self._on_pad_changed()

    @Slot()
    def _on_pad_changed(self) -> None:
        m = self._imodel
        if m is None:
            return
        x = m.drawing_to_input(self.pad.array())
        # the drawing is one entry that follows the pad
        for i, (n, _) in enumerate(self.inputs):
            if n == "drawing":
                self.inputs[i] = ("drawing", x)
                self._refresh_list()
                self.show_input(i)
                return
        self.add_input(x, "drawing")

    @Slot(object)
    def _on_list_activated(self, i) -> None:
        if i is not None:
            self.show_input(int(i))

    @Slot(int)
    def _on_class_combo_changed(self, i: int) -> None:
        self.target = self.class_combo.itemData(i)
        self._recompute()

    @Slot(int)
    def _on_method_combo_changed(self, i: int) -> None:
        key = self.method_combo.itemData(i)
        if key and key != self.method:
            self.method = key
            # the header names the chosen method at once, not only once its map has been computed
            self.cam_title.setText(METHOD_TITLES[key])
            self._update_enabled()
            self._recompute()

    @Slot(int)
    def _on_layer_combo_changed(self, i: int) -> None:
        nid = self.layer_combo.itemData(i)
        if nid:
            self.layer = nid
            self._recompute()

    @Slot(int)
    def _on_bars_class_clicked(self, k: int) -> None:
        self.set_target(k)

    @Slot(int)
    def _on_alpha_slider_changed(self, v: int) -> None:
        self.alpha = v / 100.0
        self._show_cam()

    @Slot()
    def _on_save_button_clicked(self) -> None:
        name = Path(self.inputs[self.current][0]).stem if self.current is not None else "inference"
        path = self.get_save_path("Save the explanation as PNG", f"{name}_{self.method}.png")
        if path:
            self.save_png(path)

    def save_png(self, path: str) -> str | None:
        """The input, the explanation, saliency and top-5 bars as shown."""
        return self._write_png(lambda p: save_widget_png(self.result_box, p), path, ready=self.topk is not None)

