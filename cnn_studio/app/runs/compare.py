"""Compare runs: the epoch curves of two or more runs overlaid (one colour per run, a legend in each
plot: training and validation loss, training and validation accuracy), and their settings and
results side by side, the rows that differ highlighted, with which layers or parameters of their
networks differ.

The four plots are made once; showing other runs replaces their curves. Data come from each run's
metrics.csv (``training.runs.read_metrics``) and the table from ``training.runs.compare_runs``.
"""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (QGridLayout, QHeaderView, QLabel, QPlainTextEdit, QSplitter, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from ..axes import ReadableAxis

# one colour per run (matplotlib's tab10): distinguishable, the same in every plot
RUN_COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
               (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))
# plot key: (metrics.csv column, title, y label); the titles are short, the y label says which
# metric: "Validation accuracy" was cut on a plot of the ~170 px two across have beside the curves
PLOTS = (
    ("train_loss", "Training", "loss"),
    ("val_loss", "Validation", "loss"),
    ("train_accuracy", "Training", "accuracy"),
    ("val_accuracy", "Validation", "accuracy"),
)
DIFF_BRUSH = QColor(255, 214, 102, 110)  # a row whose values differ between the runs


def run_colour(i: int) -> tuple[int, int, int]:
    return RUN_COLOURS[i % len(RUN_COLOURS)]


class CompareView(QWidget):
    """Curves of the compared runs (left) and their settings and results (right)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.caption = QLabel("Select two or more runs in the Runs panel and press Compare.")
        self.caption.setObjectName("compareCaption")
        self.caption.setWordWrap(True)
        lay.addWidget(self.caption)
        split = QSplitter(Qt.Orientation.Horizontal)
        plots = QWidget()
        grid = QGridLayout(plots)
        grid.setContentsMargins(0, 0, 0, 0)
        self.plots: dict[str, pg.PlotWidget] = {}
        self.legends: dict[str, pg.LegendItem] = {}
        for k, (col, title, ylabel) in enumerate(PLOTS):
            pw = pg.PlotWidget(axisItems={"bottom": ReadableAxis("bottom")})
            pw.setBackground(None)
            pi = pw.getPlotItem()
            pi.setTitle(title)
            pi.setLabel("bottom", "epoch")
            pi.setLabel("left", ylabel)
            pi.getAxis("left").enableAutoSIPrefix(False)  # accuracies read 0.3..0.9, not "(x0.001)" 300..900
            pi.showGrid(x=True, y=True, alpha=0.2)
            # small enough that the view fits beside Training curves (its group) in a 1024 px window
            pw.setMinimumSize(110, 90)
            self.legends[col] = pi.addLegend(offset=(-4, 4))
            self.plots[col] = pw
            grid.addWidget(pw, k // 2, k % 2)
        split.addWidget(plots)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        self.table = QTableWidget(0, 0)
        self.table.setObjectName("compareTable")
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.setWordWrap(False)
        rl.addWidget(self.table, 3)
        self.network_diff = QPlainTextEdit()
        self.network_diff.setObjectName("compareNetworkDiff")
        self.network_diff.setReadOnly(True)
        self.network_diff.setPlaceholderText("How the networks differ")
        rl.addWidget(self.network_diff, 1)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        # the curves first (two plots across need ~340 px to show their titles and axes), then the
        # table: from the plots' size hints (pyqtgraph's 640 px) the table was left ~60 px
        split.setSizes([350, 150])
        lay.addWidget(split, 1)
        self.run_names: list[str] = []
        self.diff_rows: list[str] = []

    # ------------------------------------------------------------------ curves
    def set_curves(self, runs: list[tuple[str, list[dict]]]) -> None:
        """``runs``: (name, metrics rows) per run; one curve per run in each plot that has data."""
        self.run_names = [name for name, _ in runs]
        for col, pw in self.plots.items():
            pi = pw.getPlotItem()
            pi.clear()  # the curves and their legend entries
            self.legends[col].clear()
            for i, (name, rows) in enumerate(runs):
                pts = [(r["epoch"], r[col]) for r in rows if r.get(col) is not None and r.get("epoch") is not None]
                if not pts:
                    continue
                x, y = zip(*pts)
                pen = pg.mkPen(color=run_colour(i), width=2)
                pi.plot(list(x), list(y), pen=pen, symbol="o", symbolSize=5, symbolBrush=run_colour(i), symbolPen=None, name=name)
            pi.enableAutoRange()

    def curves(self, col: str) -> list:
        """The curves now in plot ``col`` (tests count them)."""
        return [it for it in self.plots[col].getPlotItem().listDataItems()]

    def legend_names(self, col: str) -> list[str]:
        return [label.text for _sample, label in self.legends[col].items]

    # ------------------------------------------------------------------ table
    def set_table(self, names: list[str], rows: list[tuple[str, list[str], bool]], network_lines: list[str]) -> None:
        """``rows``: (label, one text per run, differs). Differing rows are highlighted and listed
        first within their order; ``network_lines`` say which layers/parameters differ."""
        t = self.table
        t.clear()
        t.setColumnCount(len(names))
        t.setRowCount(len(rows))
        t.setHorizontalHeaderLabels(names)
        t.setVerticalHeaderLabels([r[0] for r in rows])
        self.diff_rows = [label for label, _vals, differs in rows if differs]
        for r, (label, values, differs) in enumerate(rows):
            for c, v in enumerate(values):
                item = QTableWidgetItem(v)
                if differs:
                    item.setBackground(QBrush(DIFF_BRUSH))
                    f = item.font()
                    f.setBold(True)
                    item.setFont(f)
                item.setToolTip(f"{label}: {v}")
                t.setItem(r, c, item)
            head = t.verticalHeaderItem(r)
            if head is not None and differs:
                head.setBackground(QBrush(DIFF_BRUSH))
                head.setToolTip(f"{label} differs between the runs")
        t.resizeColumnsToContents()
        self.network_diff.setPlainText("\n".join(network_lines) if network_lines else "The networks are the same.")
        n = len(self.diff_rows)
        self.caption.setText(f"Comparing {len(names)} runs: " + ", ".join(names) + f" · {n} setting{'s' if n != 1 else ''} or result{'s' if n != 1 else ''} differ (highlighted)")
