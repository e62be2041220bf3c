"""File > Open's dialog starts on a filter listing everything Open accepts (projects and ONNX
models), then each type alone; Save / Save As offer only project files (QA defect 4)."""
from __future__ import annotations

import fnmatch
import re

from app_helpers import key
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication


def _patterns(entry: str) -> list[str]:
    """'Name (*.a *.b)' -> ['*.a', '*.b']."""
    m = re.fullmatch(r"[^()]+\(([^()]*)\)", entry.strip())
    assert m, f"filter entry without a pattern list: {entry!r}"
    return m.group(1).split()


def _matches(entry: str, name: str) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in _patterns(entry))


def _real_dialogs(window, monkeypatch):
    """Undo the fixture's scripted file choosers so the window's own ones (and QFileDialog) run;
    QFileDialog is replaced by a recorder that cancels."""
    from cnn_studio.app import mainwindow

    del window.get_open_path  # the fixture's instance attributes; the class methods remain
    del window.get_save_path
    calls = []

    def fake_open(parent, caption, start, filters, *a, **k):
        calls.append(("open", filters, a, k))
        return "", ""

    def fake_save(parent, caption, start, filters, *a, **k):
        calls.append(("save", filters, a, k))
        return "", ""

    monkeypatch.setattr(mainwindow.QFileDialog, "getOpenFileName", staticmethod(fake_open))
    monkeypatch.setattr(mainwindow.QFileDialog, "getSaveFileName", staticmethod(fake_save))
    return calls


def test_open_dialog_defaults_to_all_supported(window, monkeypatch):
    calls = _real_dialogs(window, monkeypatch)
    before = window.graph.to_config()
    key(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)  # File > Open, as a user would
    QApplication.processEvents()
    assert [c[0] for c in calls] == ["open"]
    filters, extra_args, extra_kw = calls[0][1], calls[0][2], calls[0][3]
    assert not extra_args and "selectedFilter" not in extra_kw  # so the first entry is the default
    entries = filters.split(";;")
    default = entries[0]
    assert default.startswith("All supported")
    for name in ("model.onnx", "net.cnnstudio"):  # everything File > Open accepts
        assert _matches(default, name), (default, name)
    assert not _matches(default, "notes.txt")
    # then each type alone, and a catch-all last
    assert any(_matches(e, "model.onnx") and not _matches(e, "net.cnnstudio") for e in entries[1:])
    assert any(_matches(e, "net.cnnstudio") and not _matches(e, "model.onnx") for e in entries[1:])
    assert _patterns(entries[-1]) == ["*"]
    assert window.graph.to_config() == before  # cancelled: nothing changed


def test_save_dialogs_offer_only_project_files(window, monkeypatch):
    calls = _real_dialogs(window, monkeypatch)
    window.files.act_save_as.trigger()  # Save As
    QApplication.processEvents()
    window.files.act_save.trigger()  # an unsaved document's Save goes through Save As
    QApplication.processEvents()
    assert [c[0] for c in calls] == ["save", "save"]
    for _, filters, _a, _k in calls:
        entries = filters.split(";;")
        assert entries == [e for e in entries if _matches(e, "net.cnnstudio") and not _matches(e, "model.onnx")]
        assert len(entries) == 1 and "ONNX" not in filters
    assert window.document.path is None  # cancelled: nothing saved
