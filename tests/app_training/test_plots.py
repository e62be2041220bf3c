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
