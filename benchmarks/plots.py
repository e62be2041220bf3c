"""GUI-thread CPU per frame of the live training curves (the cost every redraw takes from training
on a small machine).

A shown ``TrainingPlots`` (1150x260 px, offscreen by default) receives one batch point per frame,
as during a run with metrics every 0.1 s, and repaints: the figure is the GUI thread's CPU time
(``time.thread_time``) per frame, median of 5 repeats, early in a run (a few hundred points) and
late in a long one (the 2,000-point series full). The issue's curves redraw at 10 Hz, so 1 ms per
frame is 1 % of a core.

    python benchmarks/plots.py [--json]
"""
from __future__ import annotations

import math
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from _util import report  # noqa: E402


def frames(app, plots, start_epoch: int, epochs: int, per_epoch: int, timed: bool) -> float:
    """Feed and draw one point per frame; returns GUI CPU ms per frame."""
    n = 0
    t0 = time.thread_time()
    for e in range(start_epoch, start_epoch + epochs):
        for b in range(per_epoch):
            x = e + (b + 1) / per_epoch
            plots.add_batch(x, 2.3 * math.exp(-x / 5) + 0.1 * math.sin(b), min(1.0, 0.1 + 0.03 * x), 1e-3, 12000 + 100 * math.sin(b))
            if timed:
                plots.redraw()
                app.processEvents()
                n += 1
        plots.add_epoch(e + 1, {"train_loss": 1.0, "val_loss": 1.1, "train_accuracy": 0.5, "val_accuracy": 0.45})
    return 1000 * (time.thread_time() - t0) / max(1, n)


def main() -> int:
    from PySide6.QtWidgets import QApplication

    from cnn_studio.app.training.plots import TrainingPlots

    app = QApplication.instance() or QApplication([])
    early, late = [], []
    for _ in range(5):
        p = TrainingPlots()
        p._data_changed = lambda: None  # this loop draws the frames itself (one per point)
        p.resize(1150, 260)
        p.show()
        app.processEvents()
        p.begin_run(30)
        early.append(frames(app, p, 0, 3, 100, timed=True))  # 300 points
        frames(app, p, 3, 26, 100, timed=False)  # fill: a long run, series at capacity
        p.redraw()
        app.processEvents()
        late.append(frames(app, p, 29, 1, 100, timed=True))
        p.close()
        p.deleteLater()
        app.processEvents()
    fig = {
        "gui_cpu_ms_per_frame_early": statistics.median(early),
        "gui_cpu_ms_per_frame_late": statistics.median(late),
        "points_per_series_late": float(len(p.series["loss_batch"])),
        "share_of_one_core_at_10hz_late_pct": statistics.median(late) * 10 / 1000 * 100,  # ms/frame x 10 frames/s
    }
    report("plots_frame_cost", fig, {"gui_cpu_ms_per_frame_late": "small: each ms at 10 Hz is 1% of a core taken from training"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
