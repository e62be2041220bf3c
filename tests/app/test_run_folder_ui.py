"""The app creates each run's folder when the run starts (exclusively, never shared); when it
cannot, the user gets one dialog naming the folder, not a traceback, and no run starts."""
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest


def test_a_runs_folder_that_cannot_be_created_is_one_dialog(window, qtbot, tmp_path, monkeypatch):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the runs folder should go")
    feat = window.training
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=(rng.random((64, 32, 32, 3)) * 255).astype(np.uint8), y=np.arange(64) % 10)  # the Input's shape
    feat.data_panel.set_source(str(tmp_path / "d.npz"))
    monkeypatch.setattr(feat, "run_root", lambda: blocker / "runs")
    QTest.keyClick(window, Qt.Key.Key_F5)
    titles = [t for t, _ in window.answers.informed]
    assert "Cannot create the run folder" in titles, window.answers.informed
    text = dict(window.answers.informed)["Cannot create the run folder"]
    assert str(blocker / "runs") in text and "\n" not in text
    assert not feat.panel.running and window.editing_enabled
