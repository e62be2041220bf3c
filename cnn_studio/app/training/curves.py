"""The training curves as the app shows them: :class:`TrainingPlots` with a line naming the run they
belong to, following the app state (``show_source``): the run going, a finished run (its epoch
curves read back from metrics.csv when the plots do not hold it already), or nothing."""
from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtWidgets import QLabel, QSizePolicy

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
        self.source_banner.setWordWrap(False)
        self.source_banner.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.source_banner.setVisible(False)
        self.layout().insertWidget(0, self.source_banner)

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
            self.held_run = None
            return
        if src.run_dir == self.held_run:
            return  # the run going, or the same run now finished: its points are here
        self.clear()
        self.held_run = src.run_dir
        if src.kind == "run":  # a past run: its epoch curves (per-batch points are not saved)
            rows = read_metrics(src.run_dir)
            planned = (src.summary or {}).get("epochs") or (rows[-1]["epoch"] if rows else 1)
            self.begin_run(float(planned))
            for row in rows:
                self.add_epoch(row["epoch"], row)
            self.redraw()
