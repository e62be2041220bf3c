"""The live curves space their frames by what a paint costs (a paint holds the GIL the training
thread needs): a real slow paint, measured by the view, lowers the frame rate; a cheap one keeps it.
Time is a fake clock here (no wall-clock assertion)."""
import time

import pytest
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QGraphicsRectItem


class SlowItem(QGraphicsRectItem):
    """An item whose paint really takes 20 ms (as a preempted paint on a busy machine does)."""

    def paint(self, painter, option, widget=None):
        time.sleep(0.02)
        super().paint(painter, option, widget)


def _frames(plots, monkeypatch, seconds=3.0, every=0.05):
    """Batches every ``every`` s of a fake clock for ``seconds``: how many frames were drawn."""
    from cnn_studio.app.training import plots as mod

    clock = [1000.0]
    monkeypatch.setattr(mod.time, "monotonic", lambda: clock[0])
    frames = []
    real = plots.redraw

    def redraw():
        frames.append(clock[0])
        real()

    monkeypatch.setattr(plots, "redraw", redraw)
    monkeypatch.setattr(plots.timer, "start", lambda ms: None)  # only data-driven frames count
    plots._last_frame = -1e9
    for i in range(int(seconds / every)):
        clock[0] += every
        plots.add_batch(i * 0.01, 1.0 / (i + 1), 0.5, 1e-3, 1000.0)
    monkeypatch.undo()
    return frames


@pytest.mark.parametrize("slow", [False, True])
def test_frame_rate_follows_the_measured_paint_cost(qtbot, monkeypatch, slow):
    from cnn_studio.app.training.plots import TrainingPlots

    p = TrainingPlots(fps=10)
    qtbot.addWidget(p)
    p.resize(700, 400)
    p.show()
    qtbot.waitExposed(p)
    if slow:
        item = SlowItem(QRectF(0, 0, 1, 1))
        p.plots["loss"].addItem(item)
    for _ in range(3):  # real paints, timed by the view
        p.view.viewport().update()
        qtbot.wait(20)
    assert isinstance(p.view.paint_s, float)  # real paints are timed by the view (its value is not asserted)
    if slow:  # what a 20 ms paint (SlowItem's) makes of the frame spacing; the value is set, not timed
        paint = 0.02
        p.view.paint_s = paint
        assert p.frame_s == pytest.approx(min(p.MAX_FRAME_S, paint / p.PAINT_SHARE))
        assert p.frame_s >= 0.99  # 20 ms a paint: at most about one frame a second (2 % of the time)
    else:  # an idle machine's strip repaint (this one's, measured, depends on its load)
        paint = 0.0005
        p.view.paint_s = paint
        assert p.frame_s == pytest.approx(0.1)  # 1/fps: 0.5 ms is under 2 % of a 100 ms frame
    p.view.paint_s = paint  # the fake clock run below repaints nothing; keep the cost
    frames = _frames(p, monkeypatch)
    gaps = [b - a for a, b in zip(frames, frames[1:])]
    assert frames, "no frame was drawn"
    assert min(gaps) >= p.EARLY_FRAME * p.frame_s - 1e-9
    if slow:
        assert len(frames) <= 3.0 / (p.EARLY_FRAME * p.frame_s) + 1  # 3 s of data: a few frames, not 60
    else:
        assert len(frames) >= 10  # a cheap paint keeps drawing at about the frame rate
