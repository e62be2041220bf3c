"""The training curves as the app shows them: :class:`TrainingPlots` with a line naming the run they
belong to, following the app state (``show_source``): the run going, a finished run (its epoch
curves read back from metrics.csv when the plots do not hold it already), or nothing."""
from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QLabel, QMessageBox, QSizePolicy

from ..state import NOTHING_HINT
from .plots import TrainingPlots


def read_metrics(run_dir: str | None) -> list[dict]:
    """The epoch rows of a run folder's metrics.csv (numbers as floats); [] when there are none."""
    if not run_dir:
        return []
    rows = []
    try:
        with open(Path(run_dir) / "metrics.csv", newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                row = {}
                for k, v in r.items():
                    try:
                        row[k] = float(v)
                    except (TypeError, ValueError):
                        continue
                if "epoch" in row:
                    rows.append(row)
    except (OSError, csv.Error):
        return []
    return rows


class RunCurves(TrainingPlots):
    def __init__(self, parent=None, **kw) -> None:
        super().__init__(parent, **kw)
        self.held_run: str | None = None  # the run folder whose points the plots hold
        self.source_banner = QLabel("")
        self.source_banner.setObjectName("curvesSource")
        self.source_banner.setContentsMargins(6, 2, 6, 0)
        # wraps in a narrow dock (the run's name and weights were cut off at the right edge); the
        # label's width is ignored, so a long run name never widens the dock
        self.source_banner.setWordWrap(True)
        policy = QSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.source_banner.setSizePolicy(policy)
        self.source_banner.setVisible(False)
        self.layout().insertWidget(0, self.source_banner)
        # Save as PNG / CSV: on the view's context menu, and on each plot's own right-click menu
        self.act_save_png = QAction("Save as PNG…", self)
        self.act_save_png.triggered.connect(lambda *_: self.save_png())
        self.act_save_csv = QAction("Save as CSV…", self)
        self.act_save_csv.triggered.connect(lambda *_: self.save_csv())
        self.addActions([self.act_save_png, self.act_save_csv])
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for p in self.plots.values():
            p.vb.menu.addSeparator()
            p.vb.menu.addActions([self.act_save_png, self.act_save_csv])

    def hold(self, run_dir: str | None) -> None:
        """The plots were just cleared for ``run_dir`` (a run starting)."""
        self.held_run = run_dir

    def show_source(self, src) -> None:
        """Show the curves of the state's run, or none (and say so)."""
        text = src.describe() if src.kind != "nothing" else f"{src.network or 'This network'}: no curves yet. {NOTHING_HINT}."
        self.source_banner.setText(text)
        self.source_banner.setToolTip(text)
        self.source_banner.setVisible(True)
        if src.kind == "nothing":
            if self.held_run is not None or any(len(s) for s in self.series.values()):
                self.clear()
                self.reset_ranges()  # not the previous run's axes over empty plots
            self.held_run = None
            for key in ("lr", "throughput"):
                self.set_note(key, "")
            return
        if src.run_dir == self.held_run:
            return  # the run going, or the same run now finished: its points are here
        self.clear()
        self.reset_ranges()
        self.held_run = src.run_dir
        for key in ("lr", "throughput"):
            self.set_note(key, "")
        if src.kind == "run":  # a past run: its epoch curves (per-batch points are not saved)
            rows = read_metrics(src.run_dir)
            summary = src.summary or {}
            planned = summary.get("epochs") or (rows[-1]["epoch"] if rows else 1)
            self.begin_run(float(planned))
            for row in rows:
                self.add_epoch(row["epoch"], row)
            self._add_epoch_rates(rows, summary)
            self.redraw()

    def _add_epoch_rates(self, rows: list[dict], summary: dict) -> None:
        """The learning rate and samples/s of a past run, one point per epoch from metrics.csv:
        its lr column, and its samples_per_sec column or else the epoch's seconds with the
        samples an epoch holds (summary.json: samples_per_sec x train_seconds / epochs). A plot
        whose numbers the run did not record says so instead of staying blank."""
        lr = [(r["epoch"], r["lr"]) for r in rows if "lr" in r]
        for x, v in lr:
            self.series["lr"].append(x, v)
        sps = [(r["epoch"], r["samples_per_sec"]) for r in rows if r.get("samples_per_sec", 0) > 0]
        if not sps:
            try:
                per_epoch = float(summary["samples_per_sec"]) * float(summary["train_seconds"]) / float(summary["epochs_completed"])
            except (KeyError, TypeError, ValueError, ZeroDivisionError):
                per_epoch = 0.0
            if per_epoch > 0:
                sps = [(r["epoch"], per_epoch / r["seconds"]) for r in rows if r.get("seconds", 0) > 0]
        for x, v in sps:
            self.series["throughput"].append(x, v)
        self.set_note("lr", "" if lr or not rows else "learning rate not recorded")
        self.set_note("throughput", "" if sps or not rows else "samples/s not recorded")
        self._data_changed()

    # ------------------------------------------------------------------ saving (tests replace the dialogs)
    def get_save_path(self, caption: str, file_filter: str, suffix: str) -> str | None:
        start = str(Path.home() / (((Path(self.held_run).name + "-") if self.held_run else "") + "curves" + suffix))
        path, _ = QFileDialog.getSaveFileName(self, caption, start, file_filter)
        if path and not Path(path).suffix:
            path += suffix
        return path or None

    def report_error(self, title: str, text: str) -> None:
        QMessageBox.warning(self, title, text)

    def save_png(self, path: str | None = None) -> bool:
        """The plots as shown (legend and banner included), as a PNG image."""
        path = path or self.get_save_path("Save the curves as PNG", "PNG images (*.png)", ".png")
        if not path:
            return False
        try:
            self.export_png(path)
        except OSError as e:
            self.report_error("Cannot save the curves", f"{e}; choose a folder you can write to.")
            return False
        return True

    def save_csv(self, path: str | None = None) -> bool:
        """Every point the curves show, one row each: series, epoch, value (with a header)."""
        path = path or self.get_save_path("Save the curves as CSV", "CSV files (*.csv)", ".csv")
        if not path:
            return False
        try:
            self.write_csv(path)
        except OSError as e:
            self.report_error("Cannot save the curves", f"could not write '{path}' ({e.strerror or e}); choose a folder you can write to.")
            return False
        return True

    def write_csv(self, path: str) -> None:
        self.redraw()
        with open(path, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["series", "epoch", "value"])
            for name in self.series:
                x, y = self.curve_data(name)
                for xi, yi in zip(x, y):
                    out.writerow([name, repr(float(xi)), repr(float(yi))])
