"""File > Open of a .onnx runs the import in a worker thread under the non-modal progress dialog of
File > Export: open_file returns before the network changes, Cancel (a real click on the dialog's
button) leaves the network, its undo history and the studio home as they were, an edit made while the
import runs brings the unsaved-changes question back, and closing the window mid-import quits and
waits for the thread. Where a test needs the worker to be inside the import at a known moment, the
file reader is held on an event (the file, the import and everything after it are real)."""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest
import torch
from app_helpers import Cancel, norm
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QPushButton
from torch import nn

pytest.importorskip("onnx")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "compiler"))
from onnx_helpers import export_module  # noqa: E402


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 8 * 8, 5)

    def forward(self, x):
        return self.fc(torch.flatten(torch.relu(self.bn(self.conv(x))), 1))


@pytest.fixture
def onnx_file(tmp_path):
    torch.manual_seed(0)
    return export_module(Small(), (3, 8, 8), tmp_path / "small.onnx")


@pytest.fixture
def held(monkeypatch):
    """The import's file reader waits until the test sets the returned event."""
    from cnn_studio.compiler import onnx_import

    release = threading.Event()
    entered = threading.Event()
    real = onnx_import.load_model

    def load_model(p):
        entered.set()
        assert release.wait(60), "the test never released the reader"
        return real(p)

    monkeypatch.setattr(onnx_import, "load_model", load_model)
    release.entered = entered
    yield release
    release.set()


def _imported_files(home: Path) -> list[Path]:
    folder = home / "imported"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def test_open_returns_at_once_and_the_network_appears_when_the_import_ends(window, qtbot, onnx_file):
    before = norm(window.graph.to_config())
    with qtbot.waitSignal(window.files.onnx_finished, timeout=120_000) as finished:
        assert window.open_file(onnx_file)
        # the import runs in the worker: nothing has changed yet, the progress dialog shows
        assert norm(window.graph.to_config()) == before
        assert window.files.onnx_opening == str(onnx_file)
        assert window.exchange.progress is not None and window.exchange.progress.isVisible()
        assert not window.exchange.act_import_code.isEnabled()  # no second job meanwhile
    assert finished.args == [True]
    # torch.onnx (eval mode) folded the BN into the conv: the file holds a biased conv, and so does the network
    assert {n.type for n in window.graph.nodes.values()} >= {"conv2d", "relu", "linear"}
    assert window.graph.nodes["conv"].config["bias"] is True
    assert window.document.modified and window.document.path is None
    assert not window.exchange.progress and window.exchange.act_import_code.isEnabled()
    assert window.files.onnx_opening is None


def test_cancel_leaves_the_network_untouched(window, qtbot, onnx_file, held):
    before = norm(window.graph.to_config())
    undo_index = window.document.undo_stack.index()
    with qtbot.waitSignal(window.files.onnx_finished, timeout=60_000) as finished:
        assert window.open_file(onnx_file)
        assert held.entered.wait(30)  # the worker is inside the import
        dlg = window.exchange.progress
        button = dlg.findChild(QPushButton)
        QTest.mouseClick(button, Qt.MouseButton.LeftButton)
        assert dlg.labelText() == "Cancelling…"
        held.set()
    assert finished.args == [False]
    assert norm(window.graph.to_config()) == before and window.document.undo_stack.index() == undo_index
    assert not window.document.modified
    assert window.answers.informed == []  # no error dialog for a cancel
    assert "cancelled" in window.statusBar().currentMessage() and "unchanged" in window.statusBar().currentMessage()
    assert _imported_files(Path(os.environ["CNN_STUDIO_HOME"])) == []  # no weights written
    assert window.exchange.attached_weights() is None and window.transfer.initial_weights() == {}
    # the worker thread is alive and free: the next open works
    with qtbot.waitSignal(window.files.onnx_finished, timeout=120_000) as again:
        assert window.open_file(onnx_file)
    assert again.args == [True] and "fc" in window.graph.nodes


def test_while_importing_no_other_network_replaces_the_document(window, qtbot, onnx_file, held, tmp_path):
    from cnn_studio.core import templates
    from cnn_studio.core.project import save_project

    other = tmp_path / "other.cnnstudio"
    save_project(templates.build("mlp", (1, 8, 8), 2), other)
    with qtbot.waitSignal(window.files.onnx_finished, timeout=60_000):
        assert window.open_file(onnx_file)
        assert held.entered.wait(30)
        assert not window.open_file(other)
        assert "being opened" in window.statusBar().currentMessage()
        held.set()
    assert "fc" in window.graph.nodes  # the ONNX model, not the project


def test_an_edit_during_the_import_brings_the_question_back(window, qtbot, onnx_file, held):
    with qtbot.waitSignal(window.files.onnx_finished, timeout=60_000) as finished:
        assert window.open_file(onnx_file)  # not modified yet: no question
        assert held.entered.wait(30)
        window.activateWindow()
        gone = next(n for n, node in window.graph.nodes.items() if node.type == "relu")
        window.select_nodes([gone])
        assert window.selected_node_ids() == [gone]
        QTest.keyClick(window.view, Qt.Key.Key_Delete)
        assert gone not in window.graph.nodes and window.document.modified
        edited = norm(window.graph.to_config())
        window.answers.replies = [Cancel]  # keep my edit
        held.set()
    assert finished.args == [False]
    assert window.answers.asked and window.answers.asked[-1][0] == "Unsaved changes"
    assert norm(window.graph.to_config()) == edited
    window.undo()
    assert gone in window.graph.nodes  # the edit is still an undo step


def test_closing_the_window_mid_import_quits_and_waits_for_the_thread(make_window, qtbot, onnx_file, held):
    w = make_window()
    before = norm(w.graph.to_config())
    assert w.open_file(onnx_file)
    assert held.entered.wait(30)
    threading.Timer(0.3, held.set).start()  # the reader returns while close() waits for the thread
    w._closing_ok = True
    assert w.close()
    runner = w.exchange.runner
    assert runner._thread is None and not runner.busy  # quit and waited
    assert norm(w.graph.to_config()) == before
    qtbot.wait(50)  # a late result would land here: nothing arrives
    assert norm(w.graph.to_config()) == before
