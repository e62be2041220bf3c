"""Stop while a run is still choosing its speed mode (issue 14): the app's Stop reaches the real
speed probe and a compile that cannot be interrupted, the training thread ends and is joined, the
window is back to idle with the project as it was, and the next run trains."""
import json
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from cnn_studio.app.training.panel import LIVE_METRICS_INTERVAL_S, PROBE_TEXT

from test_training_ui import _npz, _setup, _wait_idle


def _choose(combo, data):
    combo.setFocus()
    QTest.keyClick(combo, Qt.Key.Key_Home)
    while combo.currentData() != data:
        before = combo.currentIndex()
        QTest.keyClick(combo, Qt.Key.Key_Down)
        assert combo.currentIndex() != before, f"{data!r} is not in the box"


def _project(window):
    return json.dumps(window.graph.to_config(), sort_keys=True, default=str), window.document.undo_stack.index()


def _stop_when_probing(window, qtbot, feat, clicked: threading.Event, text: str = PROBE_TEXT):
    """F5, wait for the probe's ``text`` in the status line, then click Stop as a user does; returns the
    run's QThread."""
    switch = sys.getswitchinterval()
    QTest.keyClick(window, Qt.Key.Key_F5)
    try:
        qtbot.waitUntil(lambda: text in feat.panel.status.text(), timeout=60_000)
        thread = feat.panel.controller.thread
        assert thread is not None and thread.isRunning()
        assert not feat.panel.train_button.isEnabled() and not window.editing_enabled
        assert feat.panel.plots.data_interval_s == LIVE_METRICS_INTERVAL_S  # epoch points join batch frames
        qtbot.mouseClick(feat.panel.stop_button, Qt.MouseButton.LeftButton)
    finally:
        clicked.set()
    _wait_idle(qtbot, feat, timeout=60_000)
    # the thread has ended and was joined; the run's GIL switch interval is given back
    assert thread.isFinished() and feat.panel.controller.thread is None and feat.panel.worker is not None
    assert sys.getswitchinterval() == switch
    return thread


def _assert_idle_and_unchanged(window, feat, before):
    p = feat.panel
    assert p.train_button.isEnabled() and not p.stop_button.isEnabled() and not p.pause_button.isEnabled()
    assert p.settings.isEnabled() and window.editing_enabled and feat.act_train.isEnabled()
    assert p.plots.data_interval_s is None  # no run: a reopened run's epochs draw at once
    assert not feat.act_stop.isEnabled()
    assert p.last_summary["stop_reason"] == "stopped_by_user"
    assert p.status.text().startswith("Stopped by you")
    assert _project(window) == before  # nothing of the project (network, settings, undo steps) lost
    summary = json.loads((Path(p.run_dir) / "summary.json").read_text())
    assert summary["stop_reason"] == "stopped_by_user"


def _train_again(window, qtbot, feat):
    _choose(feat.panel.settings.speed, "eager")
    QTest.keyClick(window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: feat.panel.running, timeout=10_000)
    _wait_idle(qtbot, feat)
    assert feat.panel.last_summary["stop_reason"] == "finished"
    assert feat.panel.last_summary["epochs_completed"] == 1


def test_stop_during_the_real_speed_probe(window, qtbot, tmp_path, monkeypatch):
    """Auto: the real probe times real steps of each mode; Stop is seen between two of them."""
    from cnn_studio.training import speed as sp

    real = sp.measure
    clicked = threading.Event()
    seen = {}

    def measure(model, x, y, loss_fn, make_opt, cands, steps, device, cancel=None, max_seconds=sp.PROBE_SECONDS):
        def cancel_once_clicked():  # the probe's first check waits until the test has clicked Stop
            clicked.wait(30)
            return cancel()
        out = real(model, x, y, loss_fn, make_opt, cands, steps, device, cancel_once_clicked, max_seconds)
        seen["result"] = out
        return out

    monkeypatch.setattr(sp.choose_mode, "__kwdefaults__", {**sp.choose_mode.__kwdefaults__, "measure_fn": measure})
    monkeypatch.setattr(sp, "PROBE_SHARE", 1e9)  # this short run probes (as a long one would)
    feat = _setup(window, _npz(tmp_path, n=96), epochs=1)
    _choose(feat.panel.settings.speed, "auto")
    qtbot.wait(1600)  # the settings edits are their own undo step
    before = _project(window)
    _stop_when_probing(window, qtbot, feat, clicked)
    assert seen["result"] == ({}, {})  # the real probe returned at the stop, with nothing timed
    speed = feat.panel.last_summary["speed"]
    assert speed["source"] == "setting" and "cancelled" in speed["reason"]
    _assert_idle_and_unchanged(window, feat, before)
    _train_again(window, qtbot, feat)


def test_stop_during_a_compile_that_cannot_be_interrupted(window, qtbot, tmp_path, monkeypatch):
    """Compiled: the network compiles before the first step, and torch cannot interrupt a compile;
    here the compile hangs until the test ends it, and Stop still ends the run at once."""
    import torch

    from cnn_studio.training import speed as sp

    clicked = threading.Event()
    release = threading.Event()
    compiling = threading.Event()

    class Compiled(torch.nn.Module):  # as torch.compile's module: it compiles at its first call
        def __init__(self, module):
            super().__init__()
            self.module = module

        def forward(self, x):
            compiling.set()
            release.wait(60)  # a long compile, not interruptible
            return self.module(x)

    def hanging_compile(module):
        return Compiled(module)

    monkeypatch.setattr(sp, "compile_module", hanging_compile)
    monkeypatch.setattr(sp, "compiler_problem", lambda device: None)  # no C++ compiler needed
    feat = _setup(window, _npz(tmp_path, n=96), epochs=1)
    _choose(feat.panel.settings.speed, "compile")
    qtbot.wait(1600)
    before = _project(window)
    try:
        # the compile says so, with the time this machine expects it to take (nothing measured yet: the prior)
        _stop_when_probing(window, qtbot, feat, clicked, "Compiling the network for NCHW fp32 compiled (about ")
        assert compiling.is_set() and not release.is_set()  # it stopped while the compile still ran
    finally:
        release.set()
    assert any("stopped while compiling" in n for n in feat.panel.last_summary["notes"])
    _assert_idle_and_unchanged(window, feat, before)
    _train_again(window, qtbot, feat)


@pytest.fixture(autouse=True)
def _compile_threads_end():
    """The abandoned compile's daemon thread ends before the next test."""
    yield
    for t in threading.enumerate():
        if t.name == "cnn-studio-compile":
            t.join(30)
