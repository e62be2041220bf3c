"""Network > Speed caches…: the app shows what the speed and compile caches hold and clears them
with a click, never while a run goes, and a failure to remove names the file (issue 14)."""
from __future__ import annotations

import errno
import os

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from cnn_studio.training import speed


def _fill_caches() -> str:
    """A compile record in the speed cache and a kernel file in the studio's compile cache."""
    speed.record_compile("a-network", 30.0, 12)
    folder, ours = speed.compile_cache_dir()
    assert ours
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "kernel.bin"), "wb") as f:
        f.write(b"\0" * 4096)
    return folder


def _open(window):
    feat = window.training
    assert feat.act_caches in window.network_menu.actions()
    feat.act_caches.trigger()
    dlg = feat.caches_dialog
    assert dlg.isVisible()
    return dlg


def test_the_dialog_shows_both_caches_and_clears_them(window, qtbot):
    folder = _fill_caches()
    dlg = _open(window)
    assert "1 compile record" in dlg.entries_label.text()
    assert dlg.speed_label.text() == str(speed._cache_path())
    assert folder in dlg.compile_label.text() and "the studio's" in dlg.compile_label.text()
    assert dlg.compile_size_label.text() == "4.0 KiB"  # as the app writes sizes elsewhere (fmt.mem)
    assert dlg.clear_button.isEnabled()
    QTest.mouseClick(dlg.clear_button, Qt.MouseButton.LeftButton)
    assert not speed._cache_path().exists()
    assert not os.path.isdir(folder)
    assert "0 network(s) with a chosen mode, 0 compile record(s)" in dlg.entries_label.text()
    assert dlg.compile_size_label.text() == "empty"
    assert "Cleared" in dlg.note.text()
    # a second click: nothing left, and it says so
    QTest.mouseClick(dlg.clear_button, Qt.MouseButton.LeftButton)
    assert "Nothing to clear" in dlg.note.text()
    dlg.reject()
    assert not dlg.isVisible()
    # shown again, it reads the caches afresh
    speed.record_compile("another", 20.0, 8)
    dlg2 = _open(window)
    assert dlg2 is dlg and "1 compile record" in dlg.entries_label.text()
    dlg.reject()


def test_clear_is_refused_while_a_run_goes(window, qtbot, monkeypatch):
    folder = _fill_caches()
    running = {"on": True}
    monkeypatch.setattr(type(window.training.panel), "running", property(lambda self: running["on"]))
    dlg = _open(window)
    assert not dlg.clear_button.isEnabled()
    assert "waits for the run to end" in dlg.note.text()
    dlg.clear()  # even called directly (a run started after the dialog was drawn), nothing goes
    assert speed._cache_path().exists() and os.path.isdir(folder)
    # the run ends while the dialog is open: Clear comes back
    running["on"] = False
    window.training.panel.run_finished.emit({})
    assert dlg.clear_button.isEnabled()
    assert "waits" not in dlg.note.text()
    dlg.reject()


def test_a_file_that_cannot_be_removed_is_named(window, qtbot, monkeypatch):
    _fill_caches()
    shown = []

    def refuse():
        raise PermissionError(errno.EACCES, "Permission denied", str(speed._cache_path()))

    monkeypatch.setattr(speed, "clear_caches", refuse)
    monkeypatch.setattr("cnn_studio.app.training.caches_dialog.QMessageBox.warning",
                        lambda parent, title, text: shown.append(text))
    dlg = _open(window)
    QTest.mouseClick(dlg.clear_button, Qt.MouseButton.LeftButton)
    assert len(shown) == 1
    assert str(speed._cache_path()) in shown[0] and "Permission denied" in shown[0]
    assert "1 compile record" in dlg.entries_label.text()  # still there, still shown
    dlg.reject()


def test_a_real_run_disables_clear_until_it_ends(window, qtbot, tmp_path):
    from test_training_ui import _npz, _setup, _wait_idle

    folder = _fill_caches()
    feat = _setup(window, _npz(tmp_path), epochs=50)
    QTest.keyClick(window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: feat.panel.running, timeout=10_000)
    dlg = _open(window)
    assert not dlg.clear_button.isEnabled() and "waits for the run to end" in dlg.note.text()
    feat.act_stop.trigger()  # the run ends (stopped) while the dialog is open
    _wait_idle(qtbot, feat)
    qtbot.waitUntil(dlg.clear_button.isEnabled, timeout=10_000)
    assert "waits" not in dlg.note.text()
    QTest.mouseClick(dlg.clear_button, Qt.MouseButton.LeftButton)
    assert not os.path.isdir(folder)
    dlg.reject()
