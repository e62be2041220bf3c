"""Speed and precision settings in the Training panel (issue 14): chosen with the keyboard, saved
with the project and undoable, used by the run (config.json), BF16 off where the CPU has no native
bf16, and the speed probe of Auto shown in the progress text and cancelled by Stop."""
import json
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from cnn_studio.app.training.panel import LIVE_METRICS_INTERVAL_S, PROBE_TEXT
from cnn_studio.training import TrainConfig
from cnn_studio.training.speed import progress_text as probe_progress_text

from test_training_ui import _npz, _setup, _wait_idle


def _pick(combo, key, steps=1):
    """Change a combo box's choice with the arrow keys, as a user tabbing through the form does."""
    combo.setFocus()
    for _ in range(steps):
        QTest.keyClick(combo, key)


def test_speed_and_precision_are_chosen_saved_and_undone(window, qtbot, tmp_path):
    feat = _setup(window, _npz(tmp_path), epochs=1)
    qtbot.wait(1600)  # the set-up edits are one undo step of their own
    s = feat.panel.settings
    assert (s.speed.currentText(), s.precision.currentText()) == ("Eager", "FP32")
    assert "channels" in s.speed.toolTip().lower() and "bit-reproducible" in s.speed.toolTip()
    assert "autocast" in s.precision.toolTip()
    _pick(s.speed, Qt.Key.Key_Down, 3)  # Eager -> Auto (timed probe) -> Compiled -> Channels last
    _pick(s.precision, Qt.Key.Key_Down, 2)  # FP32 -> BF16 -> (FP16: off without CUDA) -> Auto
    assert window.graph.training["train"]["speed"] == "channels_last"
    assert window.graph.training["train"]["precision"] == "auto"
    path = tmp_path / "speed.cnnstudio"
    window.answers.save_path = str(path)
    assert window.save_as(str(path))
    saved = json.loads(path.read_text())["training"]["train"]
    assert (saved["speed"], saved["precision"]) == ("channels_last", "auto")
    window.undo()
    assert window.graph.training["train"]["speed"] == "eager" and window.graph.training["train"]["precision"] == "fp32"
    assert (s.speed.currentText(), s.precision.currentText()) == ("Eager", "FP32")
    window.redo()
    assert s.speed.currentData() == "channels_last" and s.precision.currentData() == "auto"


def test_a_hand_edited_unknown_mode_reads_as_the_default(window):
    s = window.training.panel.settings
    s.set_config({"speed": "warp", "precision": 16})
    assert s.config()["speed"] == "eager" and s.config()["precision"] == "fp32"


def test_bf16_is_off_with_a_reason_where_the_cpu_has_no_native_bf16(window, qtbot):
    import torch

    from cnn_studio.training.speed import bf16_native

    s = window.training.panel.settings
    probe = s.probe_devices()  # the real device probe (torch in its thread) says what this CPU has
    qtbot.waitUntil(lambda: s._bf16 is not None, timeout=30_000)
    probe.wait()
    assert s._bf16["cpu"] == bf16_native(torch.device("cpu"))
    s._on_probe_bf16({"auto": False, "cpu": False})  # a CPU without AVX-512 BF16 / AMX
    item = s.precision.model().item(s.precision.findData("bf16"))
    assert not item.isEnabled() and "native bf16" in item.toolTip()
    assert "BF16 is off" in s.precision.toolTip()
    _pick(s.precision, Qt.Key.Key_Down)  # the keyboard steps over the disabled BF16
    assert s.precision.currentData() == "auto"
    s._on_probe_bf16({"auto": True, "cpu": True})
    assert item.isEnabled() and "BF16 is off" not in s.precision.toolTip()


def test_a_channels_last_run_records_its_mode(window, qtbot, tmp_path):
    feat = _setup(window, _npz(tmp_path, n=96), epochs=1)
    _pick(feat.panel.settings.speed, Qt.Key.Key_End)  # Channels last
    QTest.keyClick(window, Qt.Key.Key_F5)
    _wait_idle(qtbot, feat)
    cfg = json.loads((Path(feat.panel.run_dir) / "config.json").read_text())
    assert cfg["train"]["speed"] == "channels_last" and cfg["speed"]["memory_format"] == "channels_last"
    assert "speed: channels_last fp32 as set" in feat.panel.status.text()
    # the app's live metrics come less often than the command line's (fewer GUI wake-ups mid-run)
    assert cfg["train"]["metrics_interval"] == LIVE_METRICS_INTERVAL_S > TrainConfig().metrics_interval


@pytest.fixture
def gated_probe(monkeypatch):
    """The speed probe's timing replaced by one that waits for the test (and sees Stop): the run
    then probes even though it is short, and the test decides the timings."""
    from cnn_studio.training import speed as sp

    gate = threading.Event()
    seen = {"cancelled": False}

    def measure(model, x, y, loss_fn, make_opt, cands, steps, device, cancel=None, max_seconds=0.0, progress=None):
        if progress is not None:  # as the real probe reports before a step (speed.measure)
            progress({"stage": "timing", "mode": "channels_last fp32", "round": 1, "rounds": 5, "modes": 2, "fraction": 0.3})
        while not gate.wait(0.02):
            if cancel is not None and cancel():
                seen["cancelled"] = True
                return {}, {}
        times = {c: (0.001 if c[0] == "channels_last" else 0.002) for c in cands}
        return times, {c: [1.0] * steps for c in cands}

    monkeypatch.setattr(sp.choose_mode, "__kwdefaults__", {**sp.choose_mode.__kwdefaults__, "measure_fn": measure})
    monkeypatch.setattr(sp, "PROBE_SHARE", 1e9)  # a tiny run still probes
    return gate, seen


def test_auto_shows_the_probe_then_the_chosen_mode_and_why(window, qtbot, tmp_path, gated_probe):
    gate, _ = gated_probe
    feat = _setup(window, _npz(tmp_path, n=96), epochs=1)
    _pick(feat.panel.settings.speed, Qt.Key.Key_Down)  # Auto (timed probe)
    QTest.keyClick(window, Qt.Key.Key_F5)
    try:
        # the probe says which mode it times and how far it is (speed.measure's progress)
        qtbot.waitUntil(lambda: "timing channels_last fp32 (round 2 of 5, 2 modes left)" in feat.panel.status.text(),
                        timeout=60_000)
        assert "Stop cancels" in feat.panel.status.text() and feat.panel.progress.value() == 300
        assert "channels_last" in feat.panel.progress.format() or "Timing" in feat.panel.progress.format()
    finally:
        gate.set()
    _wait_idle(qtbot, feat)
    assert feat.panel.last_summary["stop_reason"] == "finished"
    assert "speed: channels_last fp32 2.0x faster than NCHW fp32" in feat.panel.status.text()
    cfg = json.loads((Path(feat.panel.run_dir) / "config.json").read_text())
    assert cfg["speed"]["source"] == "probe" and cfg["speed"]["memory_format"] == "channels_last"


def test_stop_cancels_the_probe(window, qtbot, tmp_path, gated_probe):
    gate, seen = gated_probe
    feat = _setup(window, _npz(tmp_path, n=96), epochs=1)
    _pick(feat.panel.settings.speed, Qt.Key.Key_Down)
    QTest.keyClick(window, Qt.Key.Key_F5)
    try:
        qtbot.waitUntil(lambda: "Choosing the fastest way" in feat.panel.status.text(), timeout=60_000)
        qtbot.mouseClick(feat.panel.stop_button, Qt.MouseButton.LeftButton)
        _wait_idle(qtbot, feat)
    finally:
        gate.set()
    assert seen["cancelled"]
    assert feat.panel.last_summary["stop_reason"] == "stopped_by_user"


def test_fp16_is_offered_on_cuda_only_and_compiled_is_a_speed_mode(window):
    s = window.training.panel.settings
    assert s.speed.findData("compile") >= 0 and "torch.compile" in s.speed.toolTip()
    fp16 = s.precision.model().item(s.precision.findData("fp16"))
    s._on_probe_bf16({"auto": True, "cpu": True})  # no CUDA device found
    assert not fp16.isEnabled() and "CUDA only" in fp16.toolTip()
    s._on_probe_bf16({"auto": True, "cpu": True, "cuda:0": True})  # Auto would train on the GPU
    assert fp16.isEnabled()
    s.set_config({"speed": "compile", "precision": "fp16"})
    assert s.config()["speed"] == "compile" and s.config()["precision"] == "fp16"


def test_the_app_text_names_the_mode_the_round_and_a_compile():
    assert probe_progress_text({"stage": "timing", "mode": "NCHW fp32", "round": 0, "rounds": 4, "modes": 2}) == \
        "Choosing the fastest way: timing NCHW fp32 (round 1 of 4, 2 modes left)"
    assert probe_progress_text({"stage": "timing", "mode": "NCHW fp32", "round": 3, "rounds": 4, "modes": 1}) == \
        "Choosing the fastest way: timing NCHW fp32 (round 4 of 4)"
    assert probe_progress_text({"stage": "compiling", "mode": "channels_last fp32 compiled", "expected_s": 41.6}) == \
        "Compiling the network for channels_last fp32 compiled (about 42 s expected)"
    assert "a few seconds" in probe_progress_text({"stage": "compiling", "mode": "x", "expected_s": None})
    assert probe_progress_text({"stage": "other"}) == ""
