"""ROC and precision-recall curves of one class against the rest, for the Evaluation view's
"ROC / PR" tab: a curve picker (ROC or precision-recall), a class picker, the chosen class's curve
in colour over the other classes' in grey, the chance line, and a caption with the class's AUC /
average precision and the macro means.

The curves come from the engine (``EvalResult.curves()``, inspection/evaluation.py), computed in
the evaluation's worker thread; this widget only draws them. A live validation matrix (during
training) has no per-sample probabilities, so the tab then says that an evaluation is needed.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ..axes import ReadableAxis
from .widgets import caption, still_plot

KINDS = (("roc", "ROC (true vs false positive rate)"), ("pr", "Precision-recall"))
MAX_GREY = 50  # classes drawn in grey behind the chosen one (more only clutter the plot)
HINT = "ROC and precision-recall curves need an evaluation of a split: press Evaluate"


def _fmt(v) -> str:
    return f"{v:.3f}" if v is not None and np.isfinite(v) else "n/a"


class CurvesWidget(QWidget):
    class_changed = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.curves: list[dict] | None = None
        self.kind = "roc"
        self.cls = 0
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Curve:"))
        self.kind_combo = QComboBox()
        for key, title in KINDS:
            self.kind_combo.addItem(title, key)
        self.kind_combo.setToolTip("ROC: how many of the class's samples are found (true positive rate) against how many others are\n"
                                   "wrongly taken for it (false positive rate), as the threshold on its probability falls.\n"
                                   "Precision-recall: of the samples taken for the class, the share that are (precision), against\n"
                                   "the share of the class found (recall); more telling than ROC when the class is rare.")
        self.kind_combo.currentIndexChanged.connect(self._on_kind_combo_changed)
        row.addWidget(self.kind_combo)
        row.addWidget(QLabel("class:"))
        self.class_combo = QComboBox()
        self.class_combo.setToolTip("The class against all the others (one-vs-rest)")
        self.class_combo.currentIndexChanged.connect(self._on_class_combo_changed)
        row.addWidget(self.class_combo)
        row.addStretch(1)
        lay.addLayout(row)
        self.plot_widget = pg.PlotWidget(background="w", axisItems={"bottom": ReadableAxis("bottom")})
        # short enough for the bottom dock at 1280x800 (~290 px): at 200 the x axis lay below its edge
        self.plot_widget.setMinimumSize(240, 110)
        self.plot = still_plot(self.plot_widget.getPlotItem())
        self.plot.setXRange(0, 1, padding=0.02)
        self.plot.setYRange(0, 1, padding=0.02)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        lay.addWidget(self.plot_widget, 1)
        self.caption = caption(HINT)
        self.caption.setWordWrap(True)
        lay.addWidget(self.caption)
        self.main_curve: pg.PlotDataItem | None = None
        self._update_enabled()

    # ---- public ------------------------------------------------------------------------------------
    def set_curves(self, curves: list[dict] | None) -> None:
        """One dict per class (one_vs_rest: fpr, tpr, auc, precision, recall, ap, positives, class);
        None: nothing to draw (no evaluation, or a live matrix)."""
        self.curves = curves
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        for i, c in enumerate(curves or []):
            self.class_combo.addItem(f"{c['class']} ({c['positives']:,})", i)
        if curves:
            self.cls = min(self.cls, len(curves) - 1)
            self.class_combo.setCurrentIndex(self.cls)
        self.class_combo.blockSignals(False)
        self._update_enabled()
        self._draw()

    def set_class(self, k: int) -> None:
        if self.curves and 0 <= k < len(self.curves):
            self.class_combo.setCurrentIndex(k)  # -> _on_class_combo_changed

    def set_kind(self, kind: str) -> None:
        i = self.kind_combo.findData(kind)
        if i >= 0:
            self.kind_combo.setCurrentIndex(i)

    # ---- drawing -----------------------------------------------------------------------------------
    def _update_enabled(self) -> None:
        on = bool(self.curves)
        self.kind_combo.setEnabled(on)
        self.class_combo.setEnabled(on)

    def _xy(self, c: dict):
        if self.kind == "roc":
            return c["fpr"], c["tpr"]
        return c["recall"], c["precision"]

    def _draw(self) -> None:
        self.plot.clear()
        self.main_curve = None
        roc = self.kind == "roc"
        self.plot.setLabel("bottom", "false positive rate" if roc else "recall")
        self.plot.setLabel("left", "true positive rate" if roc else "precision")
        if not self.curves:
            self.caption.setText(HINT)
            return
        c = self.curves[self.cls]
        n = int(sum(d["positives"] for d in self.curves))
        for i, d in enumerate(self.curves[:MAX_GREY]):
            if i != self.cls and d["positives"]:
                x, y = self._xy(d)
                self.plot.plot(x, y, pen=pg.mkPen(190, 195, 205, 140, width=1))
        if roc:
            self.plot.plot([0, 1], [0, 1], pen=pg.mkPen(120, 120, 120, style=pg.QtCore.Qt.PenStyle.DashLine))
        elif n and c["positives"]:
            prev = c["positives"] / n  # a classifier that guesses has this precision
            self.plot.plot([0, 1], [prev, prev], pen=pg.mkPen(120, 120, 120, style=pg.QtCore.Qt.PenStyle.DashLine))
        from ...inspection.evaluation import macro_mean

        macro = macro_mean(d["auc"] if roc else d["ap"] for d in self.curves)
        what = "ROC AUC" if roc else "average precision"
        if not c["positives"]:
            self.caption.setText(f"No sample of {c['class']} in this split: its curves are undefined. "
                                 f"Macro {what} over the classes that have samples: {_fmt(macro)}")
            return
        x, y = self._xy(c)
        self.main_curve = self.plot.plot(x, y, pen=pg.mkPen(37, 99, 235, width=2.5))
        chance = "0.5 is chance" if roc else f"chance is {c['positives'] / n:.3f}, the class's share"
        self.caption.setText(f"<b>{c['class']}</b> against the rest: ROC AUC {_fmt(c['auc'])}, average precision {_fmt(c['ap'])} "
                             f"({c['positives']:,} of {n:,} samples; {chance}) · macro {what} {_fmt(macro)} "
                             f"over {sum(1 for d in self.curves if d['positives'])} classes")

    # ---- events ------------------------------------------------------------------------------------
    @Slot(int)
    def _on_kind_combo_changed(self, i: int) -> None:
        self.kind = self.kind_combo.itemData(i) or "roc"
        self._draw()

    @Slot(int)
    def _on_class_combo_changed(self, i: int) -> None:
        if i < 0:
            return
        self.cls = i
        self._draw()
        self.class_changed.emit(i)
