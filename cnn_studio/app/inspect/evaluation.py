"""How well the network does, class by class: a confusion matrix (click a cell to see its samples),
and beside it, under every tab, a gallery of mistakes, most confident first. A second tab, "ROC /
PR", shows each class's ROC and precision-recall curves against the rest (curves.py); a third,
"Per class", precision / recall / F1 (click a class to see its mistakes).

After training: ``load_run(run_dir)`` loads the run and its data and evaluates a split in a background
thread (progress bar, Cancel); ``set_model(imodel)`` evaluates an already loaded model. During
training: ``update_from_epoch(row)`` shows the validation confusion matrix of each epoch
(``TrainingPanel.epoch_done``); per-sample galleries need an evaluation.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStyle,
    QTabWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..visibility import on_screen
from ..state import NOTHING_HINT
from .curves import CurvesWidget
from .jobs import JobRunner
from .samples import SamplePicker
from ...inspection.model import SPLIT_TITLES, EvalResult, InspectModel, evaluate
from ...inspection.tiles import confusion_rgb, row_fractions
from .widgets import (
    ClickableImage,
    DialogsMixin,
    Gallery,
    SlantedAxis,
    banner,
    caption,
    plot_pane,
    rect_pen,
    save_widget_png,
)

MAX_GALLERY = 200
MAX_CELL_LABELS = 20  # above this many classes the cells carry no numbers (hover shows them)


class _NumItem(QTableWidgetItem):
    """Sorts by the number, shows formatted text."""

    def __init__(self, value: float, text: str):
        super().__init__(text)
        self.value = value
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other):
        if isinstance(other, _NumItem):
            return self.value < other.value
        return super().__lt__(other)


class EvaluationView(DialogsMixin, QWidget):
    model_loaded = Signal(object)  # InspectModel loaded by load_run (share it with the other views)
    evaluation_finished = Signal(dict)  # summary: accuracy, per_class, confusion_matrix, samples, split
    sample_activated = Signal(str, int)  # split, index: a gallery sample was clicked
    cell_selected = Signal(int, int)  # true class, predicted class

    def __init__(self, model: InspectModel | None = None, parent=None, runner: JobRunner | None = None, auto_evaluate: bool = True):
        super().__init__(parent)
        self.setObjectName("evaluation_view")
        self._imodel: InspectModel | None = None
        self._init_runner(runner, "cnn-studio-evaluation")
        self._runner.progress.connect(self._on_runner_progress)
        self._auto = auto_evaluate
        self.result: EvalResult | None = None
        self.confusion: np.ndarray | None = None
        self.class_names: list[str] = []
        self._pending_epoch: dict | None = None  # the newest epoch row that came while hidden
        self._relabel_pending = False  # class names changed while hidden: redraw when shown
        self.selected_cell: tuple[int, int] | None = None
        self.gallery_indices: list[int] = []
        self.gallery_split: str | None = None
        self._cell_texts: list[pg.TextItem] = []
        self._text_mode = "count"
        self._build()
        if model is not None:
            self.set_model(model)

    # ================================================================================ UI
    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(4)
        self.source_banner = banner()
        lay.addWidget(self.source_banner)
        row = QHBoxLayout()
        # the shared picker, splits only: which part of the data set to evaluate on
        self.picker = SamplePicker(browse=False, label="Split:", open_text=None, draw=False)
        self.split_combo = self.picker.split_combo
        self.split_combo.setToolTip("Which part of the data set to evaluate on")
        row.addWidget(self.picker)
        self.eval_button = QPushButton("Evaluate")
        self.eval_button.setToolTip("Predict every sample of the split (in the background)")
        self.eval_button.clicked.connect(self._on_eval_button_clicked)
        row.addWidget(self.eval_button)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.progress.setVisible(False)
        row.addWidget(self.progress)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        row.addWidget(self.cancel_button)
        row.addSpacing(12)
        row.addWidget(QLabel("Cells:"))
        self.text_combo = QComboBox()
        self.text_combo.addItem("counts", "count")
        self.text_combo.addItem("% of true class", "percent")
        self.text_combo.setToolTip("Numbers in the cells; colours always show the share of the row (the true class)")
        self.text_combo.currentIndexChanged.connect(self._on_text_combo_changed)
        row.addWidget(self.text_combo)
        row.addStretch(1)
        self.save_button = QPushButton("Save PNG…")
        self.save_button.setToolTip("Save the open tab (confusion matrix, curves or per-class table) as a PNG image")
        self.save_button.clicked.connect(self._on_save_button_clicked)
        row.addWidget(self.save_button)
        lay.addLayout(row)
        self.summary = caption("", bold=True)
        lay.addWidget(self.summary)

        # the tabs (matrix | curves | per-class table) on the left, the mistakes gallery in a column
        # on the right under every tab: stacked below the tabs it left the plots too little of a
        # short dock's height and was hidden under ROC / PR to make room; the table has a tab of
        # its own so that its numbers keep their width beside the gallery
        hsplit = QSplitter(Qt.Orientation.Horizontal)
        self.top = QWidget()  # the matrix's page
        top_lay = QVBoxLayout(self.top)
        top_lay.setContentsMargins(0, 0, 0, 0)
        self.matrix_widget, self.plot = plot_pane((260, 150), bottom=SlantedAxis("bottom"))
        self.plot.invertY(True)
        self.plot.setAspectLocked(True)
        self.plot.setLabel("left", "true class")
        self.plot.setLabel("bottom", "predicted class")
        self.image = ClickableImage()
        self.plot.addItem(self.image)
        self.image.clicked.connect(self._on_image_clicked)
        self.image.hovered.connect(self._on_image_hovered)
        from PySide6.QtWidgets import QGraphicsRectItem

        self.cell_rect = QGraphicsRectItem()
        self.cell_rect.setPen(rect_pen(QColor(230, 60, 40), 3.0))
        self.cell_rect.setZValue(20)
        self.cell_rect.setVisible(False)
        self.plot.addItem(self.cell_rect, ignoreBounds=True)
        top_lay.addWidget(self.matrix_widget)

        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Class", "Precision", "Recall", "F1", "Support"])
        tips = ["", "Of the samples predicted as this class, the share that really are",
                "Of the samples of this class, the share predicted correctly (the class's accuracy)",
                "Harmonic mean of precision and recall", "Number of samples of this class"]
        for i, t in enumerate(tips):
            self.table.horizontalHeaderItem(i).setToolTip(t)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setSortingEnabled(True)
        hh = self.table.horizontalHeader()
        # columns as wide as their contents, the last one takes what is left: a stretched class
        # column kept the width of a wider layout and pushed the numbers out of a narrow dock
        for i in range(5):
            hh.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
        hh.setStretchLastSection(True)
        self.table.cellClicked.connect(self._on_table_cell_clicked)
        self.table.setToolTip("Click a class to see its mistakes")
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.top, "Confusion matrix")
        self.tabs.setTabToolTip(0, "Click a cell to see its samples beside the matrix")
        self.curves_view = CurvesWidget()
        self.tabs.addTab(self.curves_view, "ROC / PR")
        self.tabs.setTabToolTip(1, "ROC and precision-recall curves of each class against the rest, with AUC and average precision")
        self.tabs.addTab(self.table, "Per class")
        self.tabs.setTabToolTip(2, "Precision, recall and F1 of each class; click a class to see its mistakes")
        hsplit.addWidget(self.tabs)

        side = QWidget()
        bl = QVBoxLayout(side)
        bl.setContentsMargins(0, 0, 0, 0)
        brow = QHBoxLayout()
        brow.addWidget(QLabel("Mistakes"))
        brow.addStretch(1)
        self.all_button = QPushButton("All mistakes")
        self.all_button.setToolTip("Show every misclassified sample, most confident first")
        self.all_button.clicked.connect(self._on_all_button_clicked)
        brow.addWidget(self.all_button)
        bl.addLayout(brow)
        self.gallery_title = caption("", bold=True)  # which cell or class the thumbnails are of (wraps)
        bl.addWidget(self.gallery_title)
        self.gallery = Gallery(thumb=56)
        self.gallery.activated_data.connect(self._on_gallery_activated)
        # one thumbnail across (and the scroll bar) at least; two at the default size (setSizes)
        bar = self.gallery.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self.gallery)
        self._gallery_column = self.gallery.gridSize().width() + 2 * self.gallery.spacing()
        self.gallery.setMinimumWidth(self._gallery_column + bar + 2 * self.gallery.frameWidth())
        self.gallery.setMinimumHeight(self.gallery.gridSize().height())
        bl.addWidget(self.gallery, 1)
        hsplit.addWidget(side)
        self.gallery_box = side
        self.tabs.currentChanged.connect(self._on_tabs_current_changed)
        hsplit.setStretchFactor(0, 1)
        hsplit.setStretchFactor(1, 0)
        hsplit.setSizes([520, 2 * self._gallery_column + bar + 2 * self.gallery.frameWidth()])
        hsplit.setCollapsible(0, False)
        hsplit.setCollapsible(1, False)
        self.side_split = hsplit
        lay.addWidget(hsplit, 1)
        self.readout = caption(" ")
        lay.addWidget(self.readout)
        self.status = caption("")
        lay.addWidget(self.status)
        self._update_enabled()

    @Slot(int)
    def _on_tabs_current_changed(self, i: int) -> None:
        roc = self.tabs.widget(i) is self.curves_view
        # a tab widget is as tall as its tallest page's minimum: the hidden matrix page must not
        # hold the curves' page to its 240 px (1 overrides the children's minimum; 0 restores it)
        self.top.setMinimumHeight(1 if roc else 0)
        self.updateGeometry()

    def heightForWidth(self, w: int) -> int:
        """None: the dock's scroll area then makes the view as tall as the dock (or its minimum), not
        as its preferred height for the width (the per-class table's rows, or the curves, put the
        matrix's lower rows and the plot's x axis below a 290 px dock's edge); the table and the
        gallery scroll inside."""
        return -1

    def _update_enabled(self) -> None:
        busy = self._runner.is_running("evaluate")
        has = self._imodel is not None and bool(self._imodel.splits())
        self.split_combo.setEnabled(has and not busy)
        self.eval_button.setEnabled(has and not busy)
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.all_button.setEnabled(self.result is not None)
        self.save_button.setEnabled(self.confusion is not None)

    # ================================================================================ public
    def show_source(self, src) -> None:
        """Show the app state's source: a run's evaluation (the loaded network, evaluated in the
        background), the run going (its validation matrix per epoch), or nothing, and say which."""
        old, self._source = getattr(self, "_source", None), src
        self._set_banner(src)
        if not src.same_run(old) or src.kind == "nothing":
            self.clear()
        if src.kind == "live":
            self._imodel = None
            self.picker.set_model(None)
            if src.imodel is not None:
                self.set_class_names(src.imodel.class_names)
            if self.confusion is None:
                self.summary.setText("Training: the validation matrix of each epoch shows here")
        elif src.imodel is not None:
            if src.imodel is not self._imodel:
                self.set_model(src.imodel)
        elif src.kind == "nothing":
            self.summary.setText(f"Nothing to evaluate yet. {NOTHING_HINT}.")
        elif src.status == "loading":
            self.status.setText(f"Loading run {src.run_name}…")
        else:
            self.status.setText(f"Cannot evaluate: {src.message or 'the run has no saved weights'}")
        self._update_enabled()

    def clear(self) -> None:
        """Show nothing: no matrix, table, gallery or figures (and stop an evaluation going)."""
        self.cancel()
        self._imodel = None
        self.picker.set_model(None)
        self.result = None
        self.confusion = None
        self._pending_epoch = None
        self._relabel_pending = False
        self.class_names = []
        self.selected_cell = None
        self.cell_rect.setVisible(False)
        self.image.clear()
        for t in self._cell_texts:
            self.plot.removeItem(t)
        self._cell_texts = []
        self.plot.getAxis("left").setTicks([[]])
        self.plot.getAxis("bottom").setTicks([[]])
        self.table.setRowCount(0)
        self.curves_view.set_curves(None)
        self.gallery.clear()
        self.gallery_indices = []
        self.gallery_split = None
        self.gallery_title.setText("")
        self.summary.setText("")
        self.readout.setText(" ")
        self.status.setText("")
        self._update_enabled()

    def set_model(self, imodel: InspectModel | None, evaluate_now: bool | None = None) -> None:
        self._imodel = imodel
        self.picker.set_model(imodel, prefer_test=True)
        if imodel is not None:
            d = imodel.default_split(prefer_test=True)
            if d is not None:
                self.split_combo.setCurrentIndex(self.split_combo.findData(d))
            self.class_names = list(imodel.class_names)
            if imodel.info.data_error:
                self.status.setText(f"Cannot evaluate: {imodel.info.data_error}")
        self._update_enabled()
        if imodel is not None and imodel.splits() and (self._auto if evaluate_now is None else evaluate_now):
            self.evaluate()

    def model(self) -> InspectModel | None:
        return self._imodel

    def load_run(self, run_dir: str, split: str | None = None) -> None:
        """Load a run folder and its data, then evaluate ``split`` (default: test if any, else
        validation); all in the background, with progress and Cancel."""
        self.status.setText(f"Loading {run_dir}…")

        def job(progress, cancel):
            m = InspectModel.from_run(run_dir, progress=progress, cancel=cancel)
            if m.bundle is None:
                return m, None
            s = split or m.default_split(prefer_test=True)
            return m, _evaluate_with_curves(m, s, progress, cancel)

        self._start(job, self._on_run_loaded)

    def evaluate(self, split: str | None = None) -> None:
        """Evaluate the model on ``split`` (default: the one chosen in the view) in the background."""
        m = self._imodel
        if m is None:
            return
        split = split or self.split_combo.currentData() or m.default_split(prefer_test=True)
        if split is None:
            self.show_error("The model has no data to evaluate on")
            return
        i = self.split_combo.findData(split)
        if i >= 0:
            self.split_combo.setCurrentIndex(i)

        def job(progress, cancel):
            return m, _evaluate_with_curves(m, split, progress, cancel)

        self.status.setText(f"Evaluating the {SPLIT_TITLES.get(split, split)} split…")
        self._start(job, self._on_evaluated)

    def _on_evaluated(self, result) -> None:
        m, ev = result
        if m is self._imodel:  # not an evaluation of a network shown before
            self.set_result(ev)

    def cancel(self) -> None:
        self._runner.cancel("evaluate")

    @property
    def busy(self) -> bool:
        return self._runner.is_running("evaluate")

    def set_result(self, result: EvalResult) -> None:
        """Show a finished evaluation (confusion matrix, table and mistakes)."""
        self.result = result
        self._pending_epoch = None  # a finished evaluation supersedes epoch matrices kept while hidden
        self.status.setText("")
        s = result.summary
        title = SPLIT_TITLES.get(result.split, result.split)
        self.summary.setText(f"Accuracy {100 * s['accuracy']:.2f}% on {s['samples']:,} {title} samples "
                             f"({int(np.trace(result.confusion)):,} right, {s['samples'] - int(np.trace(result.confusion)):,} wrong)"
                             f"{self._weights_text()}")
        self._show_confusion(result.confusion, s["per_class"])
        self.curves_view.set_curves(result.curves() if result.probs is not None else None)
        self.show_mistakes()
        self._update_enabled()
        self.evaluation_finished.emit({**result.to_json()})

    def update_from_epoch(self, row: dict) -> None:
        """A training epoch ended (``TrainingPanel.epoch_done``): show its validation confusion matrix."""
        cm = row.get("confusion_matrix")
        if not cm:
            return
        if not on_screen(self):  # a hidden tab: keep the newest and draw it when shown
            self._pending_epoch = row
            return
        self._pending_epoch = None
        self.set_confusion(np.asarray(cm, dtype=np.int64))
        ep = row.get("epoch")
        acc = float(np.trace(self.confusion) / self.confusion.sum()) if self.confusion.sum() else 0.0
        self.summary.setText(f"Validation after epoch {ep}: accuracy {100 * acc:.2f}% on {int(self.confusion.sum()):,} samples (live)")

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        self.on_dock_shown()

    def on_dock_shown(self) -> None:
        """Visible again (shown, or its dock tab came forward): draw the newest epoch kept meanwhile."""
        if not on_screen(self):
            return
        row = self._pending_epoch
        if row is not None:
            self.update_from_epoch(row)
        elif self._relabel_pending and self.confusion is not None:
            self._show_confusion(self.confusion, None)
        self._relabel_pending = False

    @Slot(dict)
    def _on_training_epoch_done(self, row: dict) -> None:
        self.update_from_epoch(row)

    def set_class_names(self, names: list[str]) -> None:
        self.class_names = [str(n) for n in names]
        if self.confusion is None:
            return
        if not on_screen(self):  # a hidden tab (a run starting): relabel when it comes forward
            self._relabel_pending = True
            return
        self._show_confusion(self.confusion, None)

    def set_confusion(self, cm: np.ndarray) -> None:
        """Show a confusion matrix without per-sample predictions (no gallery)."""
        from ...inspection import per_class

        cm = np.asarray(cm, dtype=np.int64)
        self.result = None
        self.curves_view.set_curves(None)  # a matrix alone has no per-sample probabilities
        names = self._names(cm.shape[0])
        self._show_confusion(cm, per_class(cm, names))
        self.gallery.clear()
        self.gallery_indices = []
        self.gallery_title.setText("Evaluate the trained network to see the samples behind each cell")
        self._update_enabled()

    def select_cell(self, true_class: int, pred_class: int) -> list[int]:
        """Show the samples of one cell (most confident first); returns their indices."""
        cm = self.confusion
        if cm is None or not (0 <= true_class < cm.shape[0] and 0 <= pred_class < cm.shape[1]):
            return []
        self.selected_cell = (true_class, pred_class)
        self.cell_rect.setRect(pred_class, true_class, 1, 1)
        self.cell_rect.setVisible(True)
        self.cell_rect.update()
        self.cell_selected.emit(true_class, pred_class)
        names = self._names(cm.shape[0])
        n = int(cm[true_class, pred_class])
        what = "correct" if true_class == pred_class else "mistaken"
        head = f"True {names[true_class]}, predicted {names[pred_class]}: {n:,} {what} sample{'s' if n != 1 else ''}"
        if self.result is None:
            self.gallery_title.setText(head + " — evaluate the trained network to see them")
            return []
        idx = self.result.cell(true_class, pred_class)
        self._fill_gallery(idx, head)
        return [int(i) for i in idx]

    def show_mistakes(self, true_class: int | None = None) -> list[int]:
        """Gallery of misclassified samples (of one true class), most confident first."""
        if self.result is None:
            return []
        self.selected_cell = None
        self.cell_rect.setVisible(False)
        idx = self.result.mistakes(true_class)
        names = self._names(self.confusion.shape[0])
        head = f"Mistakes{' on ' + names[true_class] if true_class is not None else ''}, most confident first: {len(idx):,}"
        self._fill_gallery(idx, head)
        return [int(i) for i in idx]

    # ================================================================================ internals
    def _weights_text(self) -> str:
        """" with the best weights" (or last): which checkpoint of the run the figures are of."""
        info = getattr(self._imodel, "info", None)
        ckpt = getattr(info, "checkpoint", None) or ""
        from pathlib import Path

        stem = Path(ckpt).stem if ckpt else ""
        return f" with the {stem} weights" if stem in ("best", "last") else ""

    def _names(self, n: int) -> list[str]:
        names = self.class_names if len(self.class_names) == n else [str(i) for i in range(n)]
        return names

    def _start(self, job, on_done) -> None:
        self.progress.setRange(0, 0)
        self._runner.submit(job, lambda r: self._on_job_done(on_done, r), self._on_job_failed, key="evaluate")
        self._update_enabled()

    def _on_job_done(self, on_done, result) -> None:
        on_done(result)
        self._update_enabled()

    def _on_job_failed(self, message: str, details: str) -> None:
        if "cancelled" in message:
            self.status.setText("Cancelled.")
        else:
            self.show_error(message)
        self._update_enabled()

    def _on_run_loaded(self, result) -> None:
        m, ev = result
        self.set_model(m, evaluate_now=False)
        self.model_loaded.emit(m)
        if ev is not None:
            self.set_result(ev)

    @Slot(str, int, int, str)
    def _on_runner_progress(self, key: str, done: int, total: int, message: str) -> None:
        if key != "evaluate":
            return
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        self.progress.setFormat(f"{message[:1].upper() + message[1:]}: %p%" if message else "%p%")
        self.status.setText(message[:1].upper() + message[1:] + "…" if message else "")

    def _show_confusion(self, cm: np.ndarray, per_class_rows) -> None:
        self._relabel_pending = False
        n = cm.shape[0]
        changed = self.confusion is None or self.confusion.shape != cm.shape
        self.confusion = cm
        self.image.setImage(confusion_rgb(cm), autoLevels=False, levels=(0, 255))
        self.image.setRect(0, 0, n, n)
        names = self._names(n)
        if changed:
            self.selected_cell = None
            self.cell_rect.setVisible(False)
            self.plot.setRange(xRange=(0, n), yRange=(0, n), padding=0.02)
            for t in self._cell_texts:
                self.plot.removeItem(t)
            self._cell_texts = []
            if n <= MAX_CELL_LABELS:
                for i in range(n):
                    for j in range(n):
                        t = pg.TextItem("", anchor=(0.5, 0.5))
                        t.setPos(j + 0.5, i + 0.5)
                        self.plot.addItem(t, ignoreBounds=True)
                        self._cell_texts.append(t)
        self._set_ticks(names)
        self._update_cell_texts()
        if per_class_rows is not None:
            self._fill_table(per_class_rows)
        self._update_enabled()

    def _set_ticks(self, names: list[str]) -> None:
        n = len(names)
        def short(s: str, k: int = 18) -> str:
            return s if len(s) <= k else s[: k - 1] + "…"

        if n <= 30:
            left = [(i + 0.5, short(names[i])) for i in range(n)]
            bottom = list(left)
        else:  # too many to write: numbers, names on hover
            left = [(i + 0.5, str(i)) for i in range(n)]
            bottom = list(left)
        self.plot.getAxis("left").setTicks([left])
        self.plot.getAxis("bottom").setTicks([bottom])

    def _update_cell_texts(self) -> None:
        cm = self.confusion
        if cm is None or not self._cell_texts:
            return
        n = cm.shape[0]
        frac = row_fractions(cm)
        font = self.font()
        font.setPointSizeF(max(6.5, min(10.0, 80.0 / n)))
        for i in range(n):
            for j in range(n):
                t = self._cell_texts[i * n + j]
                v = int(cm[i, j])
                text = f"{100 * frac[i, j]:.0f}%" if self._text_mode == "percent" else f"{v:,}"
                t.setText("" if v == 0 and i != j else text, color=(255, 255, 255) if frac[i, j] > 0.45 else (30, 40, 60))
                t.setFont(font)

    def _fill_table(self, rows) -> None:
        self.table.setSortingEnabled(False)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # class order
        self.table.setRowCount(len(rows))
        for r, d in enumerate(rows):
            name = QTableWidgetItem(str(d["class"]))
            name.setData(Qt.ItemDataRole.UserRole, r)
            self.table.setItem(r, 0, name)
            for c, key in ((1, "precision"), (2, "recall"), (3, "f1")):
                self.table.setItem(r, c, _NumItem(d[key], f"{100 * d[key]:.1f}%"))
            self.table.setItem(r, 4, _NumItem(d["support"], f"{d['support']:,}"))
        self.table.setSortingEnabled(True)

    def _fill_gallery(self, idx: np.ndarray, head: str) -> None:
        from ...inspection.render import image_to_rgb

        r, m = self.result, self._imodel
        self.gallery_split = r.split
        shown = idx[:MAX_GALLERY]
        self.gallery_indices = [int(i) for i in shown]
        names = self._names(self.confusion.shape[0])
        items = []
        if m is not None and len(shown):
            for i in shown:
                i = int(i)
                t, p, c = int(r.labels[i]), int(r.preds[i]), float(r.confs[i])
                cap = f"{names[p]} {100 * c:.0f}%" if t == p else f"{names[t]}→{names[p]}\n{100 * c:.0f}%"
                tip = f"sample {i} ({SPLIT_TITLES.get(r.split, r.split)}): true {names[t]}, predicted {names[p]} with {100 * c:.1f}% confidence"
                items.append((image_to_rgb(np.asarray(m.sample(r.split, i)[0])), cap, tip, i))
        self.gallery.set_items(items)
        more = f" (showing the first {MAX_GALLERY})" if len(idx) > MAX_GALLERY else ""
        self.gallery_title.setText(head + more)

    # ================================================================================ events
    @Slot(float, float)
    def _on_image_clicked(self, x: float, y: float) -> None:
        if self.confusion is None:
            return
        self.select_cell(int(np.floor(y)), int(np.floor(x)))

    @Slot(float, float)
    def _on_image_hovered(self, x: float, y: float) -> None:
        cm = self.confusion
        if cm is None or x < 0:
            self.readout.setText(" ")
            return
        i, j = int(np.floor(y)), int(np.floor(x))
        n = cm.shape[0]
        if not (0 <= i < n and 0 <= j < n):
            self.readout.setText(" ")
            return
        names = self._names(n)
        row = int(cm[i].sum())
        share = f" ({100 * cm[i, j] / row:.1f}% of the {names[i]} samples)" if row else ""
        self.readout.setText(f"true {names[i]}, predicted {names[j]}: {int(cm[i, j]):,}{share} — click to see them")

    @Slot(int, int)
    def _on_table_cell_clicked(self, row: int, col: int) -> None:
        item = self.table.item(row, 0)
        if item is None:
            return
        cls = item.data(Qt.ItemDataRole.UserRole)
        if self.result is not None:
            self.show_mistakes(int(cls))
            self.curves_view.set_class(int(cls))  # the curves tab follows the class picked here

    @Slot()
    def _on_all_button_clicked(self) -> None:
        self.show_mistakes()

    @Slot(object)
    def _on_gallery_activated(self, index) -> None:
        if self.gallery_split is not None and index is not None:
            self.sample_activated.emit(self.gallery_split, int(index))

    @Slot()
    def _on_eval_button_clicked(self) -> None:
        self.evaluate()

    @Slot()
    def _on_cancel_button_clicked(self) -> None:
        self.cancel()
        self.status.setText("Cancelling…")

    @Slot(int)
    def _on_text_combo_changed(self, i: int) -> None:
        self._text_mode = self.text_combo.itemData(i)
        self._update_cell_texts()

    @Slot()
    def _on_save_button_clicked(self) -> None:
        path = self.get_save_path("Save the confusion matrix as PNG", "confusion_matrix.png")
        if path:
            self.save_png(path)

    def save_png(self, path: str) -> str | None:
        """The open tab as shown: the confusion matrix, the per-class table or the curves."""
        if self.tabs.currentWidget() is self.curves_view:
            return self._write_png(lambda p: save_widget_png(self.curves_view, p), path, ready=bool(self.curves_view.curves))
        return self._write_png(lambda p: save_widget_png(self.tabs.currentWidget(), p), path, ready=self.confusion is not None)


def _evaluate_with_curves(m: InspectModel, split: str, progress, cancel) -> EvalResult:
    """Evaluate in the worker thread and compute the ROC / PR curves there too (a sort per class)."""
    ev = evaluate(m, split, progress=progress, cancel=cancel)
    ev.curves()
    return ev
