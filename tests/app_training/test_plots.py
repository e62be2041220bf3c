import math

import numpy as np
import pytest

from cnn_studio.app.training.series import Series, Smoother


def test_series_stays_bounded_and_keeps_recent_points_exact():
    s = Series(capacity=100)
    for i in range(20_000):
        s.append(i, i * 2.0)
    assert len(s) <= 101
    assert s.total == 20_000
    assert s.last() == (19_999, 39_998.0)
    assert np.all(np.diff(s.x) > 0)  # still ordered
    np.testing.assert_allclose(s.y, s.x * 2.0)  # pair-averaging keeps a linear relation exact
    assert s.x[0] < 200  # the start of the run is still represented
    assert s.x[-1] > 19_700  # and so is the end


def test_series_value_at_nearest():
    s = Series(capacity=8)
    s.extend([0, 1, 2], [5, 6, 7])
    assert s.value_at(1.4) == 6 and s.value_at(-3) == 5 and s.value_at(99) == 7
    assert Series(8).value_at(1) is None
    with pytest.raises(ValueError):
        Series(7)


def test_smoother_bias_corrected():
    sm = Smoother(0.9)
    assert sm(4.0) == pytest.approx(4.0)
    assert sm(4.0) == pytest.approx(4.0)
    assert math.isnan(Smoother()(float("nan")))


def test_plots_draw_batches_and_epochs(qtbot):
    from cnn_studio.app.training.plots import TrainingPlots

    w = TrainingPlots(fps=30, capacity=64)
    qtbot.addWidget(w)
    w.show()
    for i in range(500):
        w.add_batch(i / 100, 2.0 - i / 500, accuracy=i / 500, lr=0.1, samples_per_s=1000.0)
    w.add_epoch(1.0, {"train_loss": 1.5, "val_loss": 1.6, "train_accuracy": 0.5, "val_accuracy": 0.45})
    qtbot.waitUntil(lambda: len(w.curve_data("loss_val")[0]) == 1, timeout=2000)
    x, y = w.curve_data("loss_batch")
    assert 0 < len(x) <= 65  # bounded
    np.testing.assert_allclose(y, 2.0 - np.asarray(x) / 5)  # decimation averages x and y alike
    assert x[-1] > 4.8
    text = w.show_crosshair(1.0)
    assert "val loss 1.6" in text and "val acc 0.45" in text
    w.clear()
    assert len(w.curve_data("loss_val")[0]) == 0
    w.close()


def test_plots_export_png(qtbot, tmp_path):
    from cnn_studio.app.training.plots import TrainingPlots

    w = TrainingPlots()
    qtbot.addWidget(w)
    w.resize(600, 500)
    w.show()
    w.add_epoch(1, {"train_loss": 1.0})
    w.redraw()
    out = tmp_path / "plots.png"
    w.export_png(str(out))
    assert out.stat().st_size > 1000
    w.close()


# ---- axis ranges follow the run without pyqtgraph's per-frame auto-range ---------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from cnn_studio.app.training.plots import follow_range, nice_ceil  # noqa: E402

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(st.floats(min_value=1e-9, max_value=1e9))
def test_nice_ceil_is_a_small_step_above(v):
    c = nice_ceil(v)
    assert c >= v * (1 - 1e-9)
    assert c <= v * 4 / 3 * (1 + 1e-9)  # at most the widest gap between neighbouring nice numbers (1.5 -> 2)
    mantissa = c / 10 ** math.floor(math.log10(c) + 1e-12)
    assert any(abs(mantissa - m) < 1e-6 for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10))


@settings(max_examples=300)
@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=30))
def test_follow_range_always_holds_the_data_and_changes_rarely(batches):
    current = None
    changes = 0
    lo, hi = math.inf, -math.inf
    for a, b in batches:
        lo, hi = min(lo, a, b), max(hi, a, b)
        new = follow_range(current, lo, hi)
        assert new[0] <= min(lo, 0.0) and new[1] >= max(hi, 0.0) and new[1] > new[0]
        if new != current:
            changes += 1
        # a range that still fits is kept as it is
        assert follow_range(new, lo, hi) == new
        current = new
    assert changes <= len(batches)


def test_follow_range_keeps_a_falling_loss_steady():
    current, changes = None, 0
    for i in range(1000):  # a loss falling from 2.3 to 0.1 (the max stays in the data)
        hi = 2.3
        lo = 2.3 * math.exp(-i / 200) + 0.1
        new = follow_range(current, lo, hi)
        changes += new != current
        current = new
    assert changes == 1 and current == (0.0, 3.0)


def _shown_plots(qtbot, size=(900, 400), **kw):
    """A shown, exposed TrainingPlots of ``size``."""
    from cnn_studio.app.training.plots import TrainingPlots

    w = TrainingPlots(**kw)
    qtbot.addWidget(w)
    w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    return w


def _range(plot):
    (x0, x1), (y0, y1) = plot.vb.viewRange()
    return x0, x1, y0, y1


def test_axes_follow_the_run_until_the_user_zooms(qtbot):
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    w = _shown_plots(qtbot, fps=30)
    w.begin_run(5)
    x0, x1, _, _ = _range(w.plots["loss"])
    assert x0 <= 0 < 5 <= x1 < 5.2  # x spans the planned run from its start
    for i in range(200):
        w.add_batch(i / 100, 2.0 - i / 200, accuracy=i / 400, lr=0.01, samples_per_s=900.0 + i)
    w.redraw()
    for key in ("loss", "lr", "throughput"):
        _, _, y0, y1 = _range(w.plots[key])
        lo, hi = w._data_bounds(key)
        assert y0 <= min(lo, 0) and y1 >= hi
    assert _range(w.plots["loss"])[1] == x1  # x did not move although the data grew
    _, _, a0, a1 = _range(w.plots["acc"])
    assert a0 < 0.01 and 0.99 < a1 < 1.05  # accuracy is always 0..1

    # the user zooms the loss plot with the wheel: it stops following
    view = w.view
    centre = view.mapFromScene(w.plots["loss"].vb.sceneBoundingRect().center())
    ev = QWheelEvent(QPointF(centre), QPointF(view.mapToGlobal(centre)), QPoint(0, 0), QPoint(0, 240),
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), ev)
    zoomed = _range(w.plots["loss"])
    assert zoomed[1] - zoomed[0] < x1 - x0  # zoomed in
    assert not w.following("loss")
    for i in range(200, 400):
        w.add_batch(i / 100, 5.0, accuracy=0.5, lr=0.01, samples_per_s=900.0)
    w.redraw()
    assert _range(w.plots["loss"]) == pytest.approx(zoomed)  # new data do not undo the zoom

    # its "A" button (shown while the mouse is over the plot) follows the run again
    btn = w.plots["loss"].autoBtn
    at = view.mapFromScene(btn.sceneBoundingRect().center())
    qtbot.mouseMove(view.viewport(), centre)
    qtbot.mouseMove(view.viewport(), at)
    qtbot.waitUntil(btn.isVisible, timeout=2000)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=at)
    assert w.following("loss")
    _, x1b, y0, y1 = _range(w.plots["loss"])
    assert x1b == pytest.approx(x1) and y1 >= 5.0
    w.close()


def test_plots_follow_the_palette(qtbot):
    from PySide6.QtGui import QColor, QPalette

    from cnn_studio.app.training.plots import TrainingPlots

    w = TrainingPlots()
    qtbot.addWidget(w)
    pal = QPalette(w.palette())
    pal.setColor(QPalette.ColorRole.Base, QColor("#123456"))
    w.setPalette(pal)
    assert w.view.backgroundBrush().color().name() == "#123456"
    w.close()


def _screen_pixels(widget):
    """What the window shows (its backing store, as the offscreen screen holds it), as an array."""
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QApplication

    img = QApplication.primaryScreen().grabWindow(widget.winId()).toImage().convertToFormat(QImage.Format.Format_RGB32)
    return np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), -1).copy()


def test_frame_by_frame_drawing_shows_what_a_full_repaint_shows(qtbot):
    """Frames repaint only the strip of each plot where new points landed: after a run's worth of
    such frames (epoch points, a decimated series, a range change on the way) the window shows
    exactly the pixels of a full repaint: no stale or missing pieces of curve."""
    from PySide6.QtWidgets import QApplication

    w = _shown_plots(qtbot, (900, 320), capacity=64)
    w.begin_run(4)
    for e in range(4):
        for b in range(50):
            x = e + (b + 1) / 50
            w.add_batch(x, 2.3 * math.exp(-x) + 0.1 * math.sin(b), 0.1 + 0.2 * x, 1e-3 * (1 - x / 5), 6000 + 300 * math.sin(b / 5) + 2000 * (e == 3))
            w.redraw()
            QApplication.processEvents()
        w.add_epoch(e + 1, {"train_loss": 2.3 * math.exp(-e - 1), "val_loss": 2.4 * math.exp(-e - 1), "train_accuracy": 0.3 + 0.2 * e, "val_accuracy": 0.25 + 0.2 * e})
        w.redraw()
        QApplication.processEvents()
    assert len(w.series["loss_batch"]) < 200  # it was decimated on the way
    frames = _screen_pixels(w)
    w.view.viewport().repaint()
    QApplication.processEvents()
    full = _screen_pixels(w)
    assert frames.shape == full.shape and (full != 255).any()
    assert int((frames != full).sum()) == 0
    w.close()


def test_a_new_point_repaints_a_strip_and_a_changed_history_the_whole_view(qtbot):
    from PySide6.QtCore import QRectF

    from cnn_studio.app.training.plots import LiveCurve

    item = LiveCurve((0, 0, 0))
    item.set_view(QRectF(0.0, 0.0, 10.0, 2.0))
    dirty = []
    item.update = lambda *a: dirty.append(a[0] if a else None)
    x = np.linspace(0, 5, 51)
    item.set_data(x, np.sin(x))
    assert dirty[-1] is None  # first data: the whole item
    x2 = np.append(x, 5.1)  # one new point
    item.set_data(x2, np.sin(x2))
    strip = dirty[-1]
    assert strip is not None and strip.left() <= 5.0 and strip.right() >= 5.1
    assert strip.width() < 0.05 * 10.0 + 0.2  # a strip, not the view
    assert strip.top() == 0.0 and strip.height() == 2.0  # full height: the y range is not known here
    y3 = np.sin(x2)
    y3[3] += 1  # history changed (a decimated series): all of it
    item.set_data(x2, y3)
    assert dirty[-1] is None
    np.testing.assert_array_equal(item.getData()[1], y3)
    item.set_data(np.array([0.0, 1.0, 2.0]), np.array([1.0, np.nan, 2.0]))
    assert len(item.getData()[0]) == 2  # a NaN loss is not drawn


def test_frames_follow_the_data_and_an_idle_view_does_not_wake(qtbot):
    """New data draw at once when the last frame is old, else in one frame when it is due; with
    no new data no timer runs."""
    w = _shown_plots(qtbot, fps=0.5)  # a frame every 2 s: the second point below comes well within it
    assert not w.timer.isActive()
    w.add_batch(0.1, 2.0)
    assert len(w.curve_data("loss_batch")[0]) == 1  # drawn in the same call
    assert not w.timer.isActive()
    w.add_batch(0.2, 1.9)
    w.add_batch(0.3, 1.8)
    assert len(w.curve_data("loss_batch")[0]) == 1 and w.timer.isActive()  # one frame is due
    qtbot.waitUntil(lambda: len(w.curve_data("loss_batch")[0]) == 3, timeout=10_000)
    assert not w.timer.isActive()
    w.close()


def _drawn_tick_labels(axis) -> dict[str, object]:
    """The tick labels an axis really draws (pyqtgraph skips those that reach past its bounds),
    each with its rect in scene coordinates."""
    from PySide6.QtGui import QImage, QPainter

    img = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(img)
    try:
        _, _, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return {t: axis.mapRectToScene(rect) for rect, _, t in texts}


@pytest.mark.parametrize("epochs", [3, 10, 30])
def test_the_epoch_axis_labels_the_runs_last_epoch(qtbot, epochs):
    """The x axis of a 10-epoch run stopped at "8": the label of the last epoch, at the axis's
    end, was dropped. Both ends are labelled, inside the widget, at the curves dock's size."""
    from PySide6.QtWidgets import QApplication

    w = _shown_plots(qtbot, size=(520, 300))
    w.begin_run(epochs)
    for i in range(epochs * 4):
        w.add_batch((i + 1) / 4, 1.0, accuracy=0.5, lr=0.01, samples_per_s=900.0)
    w.redraw()
    QApplication.processEvents()
    scene_rect = w.view.mapToScene(w.view.viewport().rect()).boundingRect()
    for key in ("lr", "throughput"):  # the bottom row carries the "Epoch" labels
        labels = _drawn_tick_labels(w.plots[key].getAxis("bottom"))
        assert str(epochs) in labels and "0" in labels, (key, sorted(labels))
        assert scene_rect.contains(labels[str(epochs)]), (key, labels[str(epochs)], scene_rect)
    w.close()


def test_the_legend_and_the_readout_never_widen_the_curves(qtbot):
    """The one-line legend set the curves dock's least width (434 px), and the crosshair read-out
    beside it (~550 px of text) widened the dock while the mouse moved over the plots."""
    from PySide6.QtWidgets import QApplication

    w = _shown_plots(qtbot, size=(520, 300))
    least = w.minimumSizeHint().width()
    assert least <= 340
    w.begin_run(3)
    for i in range(30):
        w.add_batch((i + 1) / 10, 2.0 - i / 30, accuracy=i / 40, lr=0.001, samples_per_s=1234.5)
    w.add_epoch(1, {"train_loss": 1.5, "val_loss": 1.6, "train_accuracy": 0.4, "val_accuracy": 0.38})
    w.redraw()
    text = w.show_crosshair(1.0)
    QApplication.processEvents()
    assert len(text) > 60 and w.minimumSizeHint().width() == least
    shown = w.readout.text()
    assert w.readout.fontMetrics().horizontalAdvance(shown) <= w.readout.contentsRect().width()
    assert shown.startswith("epoch 1.00")  # elided at its end, not dropped
    # at the dock's default width the legend is one line
    assert w.legend.height() < 2 * w.legend.fontMetrics().height()
    w.close()


def test_a_runs_epoch_points_join_the_next_batchs_frame(qtbot):
    """While a run sends batch metrics every data_interval_s, an epoch's row does not draw a frame
    of its own: its points appear with the next batch's frame, or by the timer when no batch comes
    (the run's last epoch). Without a run (data_interval_s None) they draw at once."""
    w = _shown_plots(qtbot, fps=30)
    w.data_interval_s = 0.2
    w.add_batch(0.5, 2.0)
    assert len(w.curve_data("loss_batch")[0]) == 1
    w._last_frame -= 10.0  # the last frame is long past: an unheld point would draw at once
    w.add_epoch(1.0, {"train_loss": 1.5, "val_loss": 1.6})
    assert len(w.curve_data("loss_train")[0]) == 0 and w.timer.isActive()  # held
    assert w.timer.interval() == math.ceil(w.HOLD_INTERVALS * 0.2 * 1000)  # HOLD_INTERVALS intervals, not a frame
    w.add_batch(1.1, 1.4)  # the next epoch's first batch draws both
    assert len(w.curve_data("loss_train")[0]) == 1 and len(w.curve_data("loss_batch")[0]) == 2
    assert not w.timer.isActive()

    w.add_epoch(2.0, {"train_loss": 1.2})  # the last epoch: no batch follows, the timer draws it
    assert len(w.curve_data("loss_train")[0]) == 1
    qtbot.waitUntil(lambda: len(w.curve_data("loss_train")[0]) == 2, timeout=5_000)
    assert not w.timer.isActive()

    # a batch soon after a frame, while a held epoch's longer timer runs, waits only its frame
    w.data_interval_s = 2.0  # a hold of 3 s: longer than LATE_FRAME of the longest frame (1.5 s)
    w.add_epoch(3.0, {"train_loss": 1.0})
    held_ms = w.timer.interval()
    assert held_ms == math.ceil(w.HOLD_INTERVALS * 2.0 * 1000)
    w.add_batch(3.1, 0.9)  # within EARLY_FRAME of the timer's frame above: due in LATE_FRAME frames
    assert w.timer.interval() < held_ms  # restarted for the batch's frame
    qtbot.waitUntil(lambda: len(w.curve_data("loss_train")[0]) == 3 and len(w.curve_data("loss_batch")[0]) == 3, timeout=5_000)

    w.data_interval_s = None  # no run: an epoch row (a reopened run's history) draws at once
    w._last_frame -= 10.0
    w.add_epoch(4.0, {"train_loss": 0.8})
    assert len(w.curve_data("loss_train")[0]) == 4
    w.close()
