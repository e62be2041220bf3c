"""The training curves follow the app state's source: a past run opened from Runs fills the
learning-rate and samples/s plots from its metrics.csv (or says they were not recorded), and File >
New (nothing shown) or another run does not keep the previous run's axes."""
import csv
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from cnn_studio.app.state import ViewSource
from cnn_studio.app.training.curves import RunCurves


def make_run(path, rows, columns, summary=None):
    path.mkdir(parents=True, exist_ok=True)
    with open(path / "metrics.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    summary = summary or {"epochs": len(rows), "epochs_completed": len(rows)}
    (path / "summary.json").write_text(json.dumps(summary))
    return ViewSource("run", "net", run_dir=str(path), weights="best", status="ready", summary=summary)


def rows_of(n, loss_scale=1.0):
    return [{"epoch": e, "train_loss": loss_scale * 2.0 / e, "val_loss": loss_scale * 2.2 / e, "train_accuracy": 0.1 * e,
             "val_accuracy": 0.09 * e, "lr": 0.001 * e, "seconds": 2.0 + e} for e in range(1, n + 1)]


@pytest.fixture
def curves(qtbot):
    c = RunCurves()
    qtbot.addWidget(c)
    c.resize(700, 400)
    c.show()
    qtbot.waitExposed(c)
    return c


def test_opened_run_fills_lr_and_samples_per_s(curves, tmp_path):
    summary = {"epochs": 4, "epochs_completed": 4, "samples_per_sec": 1000.0, "train_seconds": 4 * 6.0}
    curves.show_source(make_run(tmp_path / "r", rows_of(4), list(rows_of(1)[0]), summary))
    x, y = curves.curve_data("lr")
    assert list(x) == [1, 2, 3, 4] and list(y) == pytest.approx([0.001, 0.002, 0.003, 0.004])
    x, y = curves.curve_data("throughput")
    # 6000 samples an epoch (1000/s over 24 s, 4 epochs), each epoch's own seconds
    assert list(x) == [1, 2, 3, 4] and list(y) == pytest.approx([6000 / 3, 6000 / 4, 6000 / 5, 6000 / 6])
    assert curves.note("lr") == "" and curves.note("throughput") == ""
    lo, hi = curves.plots["lr"].viewRange()[1]
    assert lo <= 0.001 and hi >= 0.004


def test_a_samples_per_sec_column_is_used_as_recorded(curves, tmp_path):
    rows = [dict(r, samples_per_sec=500.0 + r["epoch"]) for r in rows_of(3)]
    curves.show_source(make_run(tmp_path / "r", rows, list(rows[0])))
    assert list(curves.curve_data("throughput")[1]) == pytest.approx([501, 502, 503])


def test_columns_missing_say_not_recorded(curves, tmp_path):
    cols = ["epoch", "train_loss", "val_loss"]
    curves.show_source(make_run(tmp_path / "r", rows_of(3), cols))
    assert len(curves.curve_data("loss_val")[0]) == 3
    assert len(curves.curve_data("lr")[0]) == 0 and "not recorded" in curves.note("lr")
    assert "not recorded" in curves.note("throughput")
    curves.show_source(ViewSource.nothing("untitled"))
    assert curves.note("lr") == "" and curves.note("throughput") == ""


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(2, 40), scale=st.floats(5.0, 1e4))
def test_nothing_shown_resets_the_axes(qtbot, tmp_path_factory, n, scale):
    c = RunCurves()
    qtbot.addWidget(c)
    c.resize(700, 400)
    c.show()
    c.show_source(make_run(tmp_path_factory.mktemp("run"), rows_of(n, scale), list(rows_of(1)[0])))
    assert c.plots["loss"].viewRange()[1][1] >= 2.2 * scale
    assert c.plots["loss"].viewRange()[0][1] >= n
    c.show_source(ViewSource.nothing("untitled"))  # File > New
    for key in ("loss", "lr", "throughput"):
        (x0, x1), (y0, y1) = c.plots[key].viewRange()
        assert x1 <= 1.1 and y1 <= 1.1, key  # the empty [0, 1], not the old run's epochs and values
    # another run after that fits its own data, not the first run's
    c.show_source(make_run(tmp_path_factory.mktemp("run"), rows_of(2, 1.0), list(rows_of(1)[0])))
    assert c.plots["loss"].viewRange()[1][1] < 5 and c.plots["loss"].viewRange()[0][1] <= 2.1
    c.close()
