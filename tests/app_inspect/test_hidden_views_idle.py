"""Views in a hidden dock tab do no drawing while a run trains, and shown views redo nothing that did
not change (issue 14: every GUI-thread wake-up takes time from training on a small machine).

- Layer statistics: a live run's epoch that arrives while its tab is behind another is kept (and its
  problems go to the canvas badges at once) but drawn only when the tab comes forward, with the
  layer picked on the canvas meanwhile; a finished run's statistics are drawn at once, hidden or not.
- Feature maps: the grid's title is not set again (text, tooltip) when it says the same, and says
  "live" throughout a run that it follows (it lost and regained the word at every epoch end).
"""
import threading
from unittest import mock

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow

from cnn_studio.app.inspect.featuremaps import FeatureMapView
from cnn_studio.app.inspect.layerstats_view import LayerStatsView
from cnn_studio.app.state import ViewSource
from cnn_studio.app.visibility import on_screen, watch_dock

E = 10


def fake_stats(flag_last: bool = True) -> dict:
    """What read_stats returns for a 10-epoch run of two conv layers, c3 dead at the last epoch."""
    rng = np.random.default_rng(0)
    flags = [[] for _ in range(E)]
    if flag_last:
        flags[-1] = [{"node": "c3", "kind": "dead", "message": "40% dead units"}]
    s = {"run_dir": "/runs/a", "epochs": list(range(1, E + 1)), "types": {"c1": "conv2d", "c3": "conv2d"},
         "param_ids": ["c1", "c3"], "act_ids": ["c1"], "grad_norm": rng.uniform(100, 400, (E, 2)), "flags": flags}
    for k, n in (("weight", 2), ("grad", 2), ("act", 1)):
        s[f"{k}_hist"] = rng.integers(0, 50, (E, n, 32)).astype(float)
        s[f"{k}_range"] = np.tile(np.array([-0.4, 0.3]), (E, n, 1))
    return s


@pytest.fixture
def tabbed(qtbot):
    """A window whose bottom area holds the Layer statistics view and another tab, as the app's does."""
    win = QMainWindow()
    qtbot.addWidget(win)
    win.setCentralWidget(QLabel("canvas"))
    view = LayerStatsView()
    docks = []
    for title, widget in (("Layer statistics", view), ("Summary", QLabel("summary"))):
        d = QDockWidget(title, win)
        d.setObjectName(title)
        d.setWidget(widget)
        win.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, d)
        watch_dock(d)
        docks.append(d)
    win.tabifyDockWidget(docks[0], docks[1])
    win.resize(1000, 700)
    win.show()
    qtbot.waitExposed(win)
    yield win, view, docks[0], docks[1]
    view.shutdown()


def _behind(qtbot, view, front: QDockWidget) -> None:
    front.raise_()
    qtbot.waitUntil(lambda: not on_screen(view), timeout=3000)


def test_a_live_epoch_in_a_hidden_tab_waits_for_the_tab_and_its_flags_go_out_at_once(tabbed, qtbot, tmp_path):
    win, view, mine, other = tabbed
    _behind(qtbot, view, other)
    view._source = ViewSource("live", "net", run_dir=str(tmp_path), weights="live", status="running")
    sent = []
    view.flags_changed.connect(lambda flags, types: sent.append((flags, types)))
    stats = fake_stats()
    view.set_stats(stats)
    # kept, not drawn; the badges have the latest epoch's problems
    assert view.undrawn and view.stats is stats
    assert sent == [(stats["flags"][-1], stats["types"])]
    assert view.flags_at() == stats["flags"][-1]
    assert view.layer_combo.count() == 0 and view.epoch_label.text() == "epoch -"
    assert view.heat_image.image is None and not view.epoch_line.isVisible()
    assert view.problems_box.toPlainText() == ""
    # the canvas picks a layer while the tab is hidden: it is the one drawn later; an unknown one is refused
    assert view.set_layer("c3") and not view.set_layer("nope")
    # a newer epoch replaces the kept one
    newer = fake_stats()
    newer["epochs"] = list(range(1, E + 2))
    for k in ("weight", "grad", "act"):
        newer[f"{k}_hist"] = np.concatenate([newer[f"{k}_hist"], newer[f"{k}_hist"][-1:]])
        newer[f"{k}_range"] = np.concatenate([newer[f"{k}_range"], newer[f"{k}_range"][-1:]])
    newer["grad_norm"] = np.concatenate([newer["grad_norm"], newer["grad_norm"][-1:]])
    newer["flags"] = newer["flags"] + [[]]
    view.set_stats(newer)
    assert view.undrawn and view.stats is newer and len(sent) == 2 and sent[-1][0] == []
    # the tab comes forward: the newest statistics are drawn, on the layer picked meanwhile
    mine.raise_()
    qtbot.waitUntil(lambda: not view.undrawn, timeout=3000)
    assert view.epoch_label.text() == f"epoch {E + 1} of {E + 1}"
    assert view.layer() == "c3" and "c3" in view.heat_plot.titleLabel.text
    assert view.grid.shape == (E + 1, 64) and view.heat_image.image is not None
    assert view.epoch_line.isVisible() and view.epoch_line.value() == E + 1
    assert "No problem found at epoch 11" in view.problems_box.toPlainText()


def test_a_live_epoch_on_screen_and_a_finished_run_behind_a_tab_are_drawn_at_once(tabbed, qtbot, tmp_path):
    win, view, mine, other = tabbed
    mine.raise_()
    qtbot.waitUntil(lambda: on_screen(view), timeout=3000)
    view._source = ViewSource("live", "net", run_dir=str(tmp_path), weights="live", status="running")
    view.set_stats(fake_stats())
    assert not view.undrawn and view.epoch_label.text() == f"epoch {E} of {E}"
    assert "40% dead units" in view.problems_box.toPlainText()
    view.clear("")
    _behind(qtbot, view, other)
    view._source = ViewSource("run", "net", run_dir=str(tmp_path), weights="best", status="ready")
    view.set_stats(fake_stats(flag_last=False))
    assert not view.undrawn and view.epoch_label.text() == f"epoch {E} of {E}" and view.grid is not None


class _Count(QObject):
    def __init__(self, kinds):
        super().__init__()
        self.kinds, self.n = kinds, 0

    def eventFilter(self, obj, ev):  # noqa: N802 - Qt's name
        if ev.type() in self.kinds:
            self.n += 1
        return False


def test_the_maps_title_is_set_again_only_when_it_changes(view_factory, qtbot):
    v = view_factory(FeatureMapView, size=(700, 500))
    v.set_training_active(True)
    title = v.grid.title
    counter = _Count({QEvent.Type.ToolTipChange})
    title.installEventFilter(counter)
    rng = np.random.default_rng(3)
    v.add_snapshot(0, {"conv1": rng.standard_normal((8, 6, 6)).astype(np.float32)})
    qtbot.waitUntil(lambda: v.maps is not None, timeout=3000)
    first, n_first = title.text(), counter.n
    assert "8 channels of 6×6" in first and " · live" in first and n_first >= 1
    for e in range(1, 4):  # live refreshes and epoch-end snapshots of the same layer, as a run sends them
        v.add_snapshot(-1, {"conv1": rng.standard_normal((8, 6, 6)).astype(np.float32)})
        qtbot.waitUntil(lambda: v.maps_source == "live", timeout=3000)
        assert title.text() == first
        v.add_snapshot(e, {"conv1": rng.standard_normal((8, 6, 6)).astype(np.float32)})
        qtbot.waitUntil(lambda: v.maps_source == "snapshot", timeout=3000)
        assert title.text() == first  # still "live": the run goes on
    assert counter.n == n_first  # the same title: no tooltip set again
    v.add_snapshot(4, {"conv1": rng.standard_normal((4, 6, 6)).astype(np.float32)})
    qtbot.waitUntil(lambda: "4 channels" in title.text(), timeout=3000)
    assert counter.n == n_first + 1 and title.toolTip() == title.text()
    # the run over: its last epoch's snapshot is no longer called live
    v.set_training_active(False)
    assert " · live" not in title.text()


def test_a_live_refresh_a_frame_after_the_last_is_drawn_in_the_same_wake_up(view_factory, qtbot):
    """A run's live maps come about once a second: each is drawn when it arrives, not by a timer
    that wakes the GUI thread again; only a burst within one frame waits for the frame's end."""
    v = view_factory(FeatureMapView, size=(700, 500), live_fps=10.0)
    v.set_training_active(True)
    rng = np.random.default_rng(4)
    first = rng.standard_normal((8, 6, 6)).astype(np.float32)
    v.add_snapshot(-1, {"conv1": first})
    np.testing.assert_array_equal(v.maps, first)  # no event loop turn in between
    assert not v._live_timer.isActive()
    burst = rng.standard_normal((8, 6, 6)).astype(np.float32)
    v.add_snapshot(-1, {"conv1": burst})  # within the frame: kept for the frame's end
    np.testing.assert_array_equal(v.maps, first)
    assert v._live_timer.isActive() and v._live_timer.remainingTime() <= 100
    qtbot.waitUntil(lambda: np.array_equal(v.maps, burst), timeout=3000)
    qtbot.wait(120)  # a frame later: drawn at once again
    later = rng.standard_normal((8, 6, 6)).astype(np.float32)
    v.add_snapshot(-1, {"conv1": later})
    np.testing.assert_array_equal(v.maps, later)


def test_the_models_maps_do_not_replace_a_runs_newer_ones(imodel, view_factory, qtbot):
    """At a run's start the view may still be computing the model's maps; once the run's own maps
    came, that older result does not replace them (its prediction still updates the caption)."""
    v = view_factory(FeatureMapView, imodel)
    assert v.wait_idle()
    v.set_node("conv1")
    assert v.wait_idle()
    release = threading.Event()
    real = imodel.feature_maps

    def slow(*args, **kwargs):  # the model's maps land only after the run's
        release.wait(10)
        return real(*args, **kwargs)

    with mock.patch.object(imodel, "feature_maps", side_effect=slow):
        v.set_training_active(True)  # asks for the model's maps (none from the run yet)
        live = np.random.default_rng(5).standard_normal((16, 16, 16)).astype(np.float32)
        v.add_snapshot(-1, {"conv1": live})
        qtbot.waitUntil(lambda: v.maps_source == "live", timeout=3000)
        release.set()
        assert v.wait_idle()
        qtbot.wait(50)
    assert v.maps_source == "live"
    np.testing.assert_array_equal(v.maps, live)
