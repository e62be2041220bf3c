"""Features as points: the Embeddings view (TensorBoard's projector, for the run shown).

The features a chosen layer gives each sample of a split (by default the validation split, and the
layer the classifier reads), projected to a plane with PCA, t-SNE (scikit-learn) or UMAP (umap-learn),
computed in the view's worker thread (progress bar, Cancel; inspection/embeddings.py). Points are
coloured by class or by whether the network got them right; hovering a point shows its image and
classes beside the plot; clicking one selects that sample in the other views (``sample_activated``,
which the window routes to Feature maps' shared sample picker). Computed when the view is on screen
for a newly shown run, and on Compute.
"""
from __future__ import annotations

import importlib.util

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..state import why_nothing
from ..visibility import on_screen
from .samples import SamplePicker
from .widgets import DialogsMixin, banner, caption, rgb_pixmap, still_plot

METHODS = (("pca", "PCA", None), ("tsne", "t-SNE", "sklearn"), ("umap", "UMAP", "umap"))
INSTALL = {"sklearn": "scikit-learn", "umap": "umap-learn"}
HOVER_PX = 9  # a point is under the mouse within this many pixels
THUMB = 80
SIDE_W = 150  # px: the image and its classes beside the plot
# a categorical palette (Tableau 20 order): distinct for 10 classes, repeating past 20
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7",
           "#dbdb8d", "#9edae5"]
RIGHT, WRONG = "#16a34a", "#dc2626"
LIVE = "Training: the embeddings are computed for the run's saved weights when it ends"


class _PlotWidget(pg.PlotWidget):
    """A plot that asks for little height: the dock's scroll area sizes the view by the height its
    word-wrapped captions need for the width, which adds up the parts' size hints (pyqtgraph's 480 px
    made the view scroll in a 300 px dock); it still takes all the room there is."""

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(480, 160)


def _has(module: str | None) -> bool:
    """Whether an optional library is installed (without importing it: the GUI thread stays quick)."""
    return module is None or importlib.util.find_spec(module) is not None


class EmbeddingsView(DialogsMixin, QWidget):
    sample_activated = Signal(str, int)  # split, index: a point was clicked
    computed = Signal(object)  # the Embedding shown

    def __init__(self, parent=None, runner=None):
        super().__init__(parent)
        self.setObjectName("embeddings_view")
        self._init_runner(runner, "cnn-studio-embeddings")
        self._runner.progress.connect(self._on_runner_progress)
        self._imodel = None
        self._stale = False  # a model is set but its embedding not computed yet
        self.embedding = None
        self.hovered: int | None = None  # position in the embedding's arrays
        self.selected: int | None = None
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
        self.layer_combo.setToolTip("Whose outputs are the features (by default what the last layer reads)")
        row.addWidget(self.layer_combo)
        self.picker = SamplePicker(browse=False, label="Split:", open_text=None, draw=False)
        self.split_combo = self.picker.split_combo
        self.split_combo.setToolTip("Which part of the data set to place as points")
        row.addWidget(self.picker)
        row.addWidget(QLabel("Method:"))
        self.method_combo = QComboBox()
        missing = []
        for key, title, module in METHODS:
            ok = _has(module)
            # a short item (a long "(not installed)" made the row wider than the dock): greyed out,
            # its tooltip and the combo's say what to install
            self.method_combo.addItem(title, key)
            item = self.method_combo.model().item(self.method_combo.count() - 1)
            if not ok:
                item.setEnabled(False)
                item.setToolTip(f"{title} needs {INSTALL[module]}, which is not installed: pip install {INSTALL[module]}")
                missing.append(f"{title} needs {INSTALL[module]} (pip install {INSTALL[module]})")
        self.missing_methods = missing
        self.method_combo.setToolTip("PCA: the two directions of largest spread (fast, linear); t-SNE and UMAP "
                                     "keep neighbours together (slower; distances between clusters mean less)"
                                     + ("".join(f"\n{m}: not installed" for m in missing)))
        row.addWidget(self.method_combo)
        self.compute_button = QPushButton("Compute")
        self.compute_button.setToolTip("Compute the features and their projection (in the background)")
        self.compute_button.clicked.connect(self._on_compute_button_clicked)
        row.addWidget(self.compute_button)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(140)
        self.progress.setVisible(False)
        row.addWidget(self.progress)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        row.addWidget(self.cancel_button)
        # progress and errors in the row (one line, elided; the tooltip has all): a line of its own
        # below made the view taller than its dock
        self.status = caption("")
        self.status.setWordWrap(False)
        self.status.elide = True
        self.status.setMinimumWidth(40)
        row.addWidget(self.status, 1)
        lay.addLayout(row)

        self.colour_combo = QComboBox()
        self.colour_combo.addItem("by class", "class")
        self.colour_combo.addItem("right / wrong", "correct")
        self.colour_combo.setToolTip("Colour the points by their true class, or green where the network is right "
                                     "and red where it is wrong")
        self.colour_combo.currentIndexChanged.connect(self._on_colour_combo_changed)

        split = QHBoxLayout()  # not a splitter: a collapsed side panel would come back on hover and move the points
        self.plot_widget = _PlotWidget(background="w")
        self.plot_widget.setMinimumSize(240, 150)
        self.plot = still_plot(self.plot_widget.getPlotItem(), mouse=True)  # zoom into a cluster
        self.scatter = pg.ScatterPlotItem(size=7, pen=pg.mkPen(None))
        self.plot.addItem(self.scatter)
        self.ring = pg.ScatterPlotItem(size=15, pen=pg.mkPen(20, 20, 20, width=2), brush=pg.mkBrush(None))
        self.plot.addItem(self.ring)
        scene = self.plot_widget.scene()
        scene.sigMouseMoved.connect(self._on_scene_mouse_moved)
        scene.sigMouseClicked.connect(self._on_scene_mouse_clicked)
        split.addWidget(self.plot_widget, 1)
        side = QWidget()
        side.setFixedWidth(SIDE_W)  # hovering must not reflow the plot: the points would move under the mouse
        sl = QVBoxLayout(side)
        sl.setContentsMargins(4, 0, 0, 0)
        self.thumb = QLabel()
        self.thumb.setToolTip("The sample under the mouse")
        self.thumb.setFixedSize(THUMB, THUMB)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumb.setStyleSheet("border: 1px solid #cbd5e1; background: #f8fafc")
        sl.addWidget(self.thumb)
        self.hover_text = QLabel("")
        self.hover_text.setWordWrap(True)
        sl.addWidget(self.hover_text)
        sl.addStretch(1)
        split.addWidget(side)
        lay.addLayout(split, 1)
        # the colours: the choice and what they mean, in one line under the plot (a column of 10
        # classes beside it made the view taller than its dock)
        crow = QHBoxLayout()
        crow.addWidget(QLabel("Colour:"))
        crow.addWidget(self.colour_combo)
        self.legend = QLabel("")
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        crow.addWidget(self.legend, 1)
        lay.addLayout(crow)
        self.summary = caption("")
        lay.addWidget(self.summary)

    # ------------------------------------------------------------------ source
    def show_source(self, src) -> None:
        """The loaded network of a run folder (computed when on screen), or why there is none."""
        self._set_banner(src)
        if src.kind == "run" and src.imodel is not None:
            if src.imodel is not self._imodel:
                self.set_model(src.imodel)
            return
        self.clear(why_nothing(src, "place as points", LIVE))

    def clear(self, message: str = "") -> None:
        self._runner.cancel("embed")
        self._imodel = None
        self._stale = False
        self.embedding = None
        self.hovered = self.selected = None
        self.picker.set_model(None)
        self.layer_combo.clear()
        self.scatter.setData([], [])
        self.ring.setData([], [])
        self.thumb.clear()
        self.hover_text.setText("")
        self.legend.setText("")
        self.plot.setLabel("bottom", "")
        self.plot.setLabel("left", "")
        # not the previous network's axes over an empty plot (File > New, another run)
        self.plot.setXRange(0, 1, padding=0)
        self.plot.setYRange(0, 1, padding=0)
        self.summary.setText(message)
        self.status.setText("")
        self._update_enabled()

    def set_model(self, imodel) -> None:
        from ...inspection import embeddings as em  # numpy only (torch is imported by the job)

        self.clear("")
        self._imodel = imodel
        self.picker.set_model(imodel)
        for nid in em.node_choices(imodel):
            self.layer_combo.addItem(nid, nid)
            self.layer_combo.setItemData(self.layer_combo.count() - 1, imodel.node_title(nid), Qt.ItemDataRole.ToolTipRole)
        i = self.layer_combo.findData(em.default_node(imodel))
        self.layer_combo.setCurrentIndex(max(i, 0))
        if imodel.info.data_error or not imodel.splits():
            self.summary.setText(f"Nothing to place as points: {imodel.info.data_error or 'the run has no data'}")
        else:
            self._stale = True
            self.summary.setText("Compute places each sample of the split at its features' position")
            self.on_dock_shown()
        self._update_enabled()

    def model(self):
        return self._imodel

    def _update_enabled(self) -> None:
        busy = self._runner.is_running("embed")
        has = self._imodel is not None and bool(self._imodel.splits())
        for w in (self.layer_combo, self.split_combo, self.method_combo, self.compute_button):
            w.setEnabled(has and not busy)
        self.colour_combo.setEnabled(self.embedding is not None)
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        self.on_dock_shown()

    def on_dock_shown(self) -> None:
        """On screen with a newly shown run: compute its embedding (PCA unless another method is chosen)."""
        if self._stale and on_screen(self):
            self.compute()

    # ------------------------------------------------------------------ computing
    def compute(self, node: str | None = None, split: str | None = None, method: str | None = None) -> None:
        m = self._imodel
        if m is None:
            return
        from ...inspection import embeddings as em

        node = node or self.layer_combo.currentData()
        split = split or self.picker.split or m.default_split()
        method = method or self.method_combo.currentData()
        self._stale = False

        def job(progress, cancel):
            return em.compute(m, node, split, method, progress=progress, cancel=cancel)

        self.progress.setRange(0, 0)
        self.status.setText("")
        self._runner.submit(job, lambda e, mm=m: self._on_computed(mm, e), self._on_failed, key="embed")
        self._update_enabled()

    def _on_computed(self, imodel, e) -> None:
        if imodel is not self._imodel:
            return
        self.set_embedding(e)
        self._update_enabled()

    def _on_failed(self, message: str, details: str) -> None:
        self.status.setText("Cancelled." if "cancelled" in message else "")
        if "cancelled" not in message:
            self.show_error(message)
        self._update_enabled()

    @Slot(str, int, int, str)
    def _on_runner_progress(self, key: str, done: int, total: int, message: str) -> None:
        if key != "embed":
            return
        if total > 0 and done < total:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        else:
            self.progress.setRange(0, 0)  # the projection: no steps to count
        self.status.setText(message[:1].upper() + message[1:] + "…" if message else "")

    @Slot()
    def _on_compute_button_clicked(self) -> None:
        self.compute()

    @Slot()
    def _on_cancel_button_clicked(self) -> None:
        self._runner.cancel("embed")

    # ------------------------------------------------------------------ drawing
    def set_embedding(self, e) -> None:
        from ...inspection import embeddings as em

        self.embedding = e
        self.hovered = self.selected = None
        self.ring.setData([], [])
        self._draw_points()
        self.plot.autoRange(padding=0.05)
        name = em.METHODS.get(e.method, e.method)
        if e.explained:
            self.plot.setLabel("bottom", f"{name} 1 ({100 * e.explained[0]:.0f}% of the spread)")
            self.plot.setLabel("left", f"{name} 2 ({100 * e.explained[1]:.0f}%)")
        else:
            self.plot.setLabel("bottom", f"{name} 1")
            self.plot.setLabel("left", f"{name} 2")
        acc, chance = em.knn_accuracy(e.coords, e.labels), em.chance_accuracy(e.labels)
        note = f"; {e.note}" if e.note else ""
        self.summary.setText(
            f"{len(e.labels):,} samples of the {_split_title(e.split)} split, the {e.dim:,} features of "
            f"'{e.node}'{note}. Neighbours agree: the class of a point's 5 nearest neighbours in this plane is its "
            f"own for {100 * acc:.0f}% of the points (guessing the commonest class: {100 * chance:.0f}%).")
        self.status.setText("")
        self.computed.emit(e)

    def colours(self) -> list[str]:
        """The colour of each point, as drawn."""
        e = self.embedding
        if e is None:
            return []
        if self.colour_combo.currentData() == "correct":
            return [RIGHT if ok else WRONG for ok in e.correct]
        return [PALETTE[int(c) % len(PALETTE)] for c in e.labels]

    def _draw_points(self) -> None:
        e = self.embedding
        cols = self.colours()
        brushes = [pg.mkBrush(QColor(c)) for c in cols]
        self.scatter.setData(x=e.coords[:, 0], y=e.coords[:, 1], brush=brushes, data=np.arange(len(e.labels)))
        m = self._imodel
        if self.colour_combo.currentData() == "correct":
            right = int(e.correct.sum())
            self.legend.setText(f"<span style='color:{RIGHT}'>&#9679;</span>&nbsp;right ({right}) &nbsp; "
                                f"<span style='color:{WRONG}'>&#9679;</span>&nbsp;wrong ({len(e.labels) - right})")
        else:
            names = m.class_names if m is not None else []
            shown = sorted(set(int(c) for c in e.labels))
            # a swatch and its class name never part at a line end (they wrapped "heart" onto a line
            # of its own): only the gaps between the entries may break
            lines = [f"<span style='color:{PALETTE[c % len(PALETTE)]}'>&#9679;</span>&nbsp;"
                     + _esc(names[c] if c < len(names) else str(c)).replace(" ", "&nbsp;") for c in shown[:20]]
            if len(shown) > 20:
                lines.append(f"… {len(shown) - 20} more classes (colours repeat)")
            self.legend.setText(" &nbsp; ".join(lines))

    def point_at(self, scene_pos) -> int | None:
        """The point under a scene position (within HOVER_PX pixels, the nearest), or None."""
        e = self.embedding
        if e is None or not len(e.labels):
            return None
        vb = self.plot.getViewBox()
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = vb.mapSceneToView(scene_pos)
        pw, ph = vb.viewPixelSize()
        d2 = ((e.coords[:, 0] - p.x()) / pw) ** 2 + ((e.coords[:, 1] - p.y()) / ph) ** 2
        i = int(np.argmin(d2))
        return i if d2[i] <= HOVER_PX ** 2 else None

    def scene_pos_of(self, i: int):
        """Where point ``i`` is drawn, in the plot widget's coordinates (tests and tooltips)."""
        e = self.embedding
        vb = self.plot.getViewBox()
        sp = vb.mapViewToScene(pg.Point(float(e.coords[i, 0]), float(e.coords[i, 1])))
        return self.plot_widget.mapFromScene(sp)

    def show_point(self, i: int | None) -> None:
        """Show point ``i``'s image and classes beside the plot (None: clear)."""
        self.hovered = i
        e, m = self.embedding, self._imodel
        if i is None or e is None or m is None:
            return
        from ...inspection.render import image_to_rgb

        idx = int(e.indices[i])
        try:
            x, _ = m.sample(e.split, idx)
        except Exception as ex:  # a streamed file that went away
            self.show_error(str(ex))
            return
        self.thumb.setPixmap(rgb_pixmap(image_to_rgb(np.asarray(x)), THUMB - 4))
        t, p = int(e.labels[i]), int(e.preds[i])
        verdict = "right" if t == p else "wrong"
        self.hover_text.setText(f"sample {idx} ({_split_title(e.split)})\ntrue: {m.class_name(t)}\n"
                                f"predicted: {m.class_name(p)} ({verdict})")
        self.hover_text.setToolTip("Click the point to show this sample in Feature maps")

    # ------------------------------------------------------------------ events
    def _on_scene_mouse_moved(self, scene_pos) -> None:
        i = self.point_at(scene_pos)
        if i is not None and i != self.hovered:
            self.show_point(i)

    def _on_scene_mouse_clicked(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            return
        i = self.point_at(ev.scenePos())
        if i is None:
            return
        e = self.embedding
        self.selected = i
        self.ring.setData([float(e.coords[i, 0])], [float(e.coords[i, 1])])
        self.show_point(i)
        ev.accept()
        self.sample_activated.emit(e.split, int(e.indices[i]))

    @Slot(int)
    def _on_colour_combo_changed(self, i: int) -> None:
        if self.embedding is not None:
            self._draw_points()


def _split_title(split: str) -> str:
    from ...inspection.model import SPLIT_TITLES

    return SPLIT_TITLES.get(split, split)


def _esc(s: str) -> str:
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
