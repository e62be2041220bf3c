"""Files dropped on the window (real QDragEnter / QDragMove / QDrop events with QMimeData urls, sent to
the canvas viewport as a drop from a file manager arrives): an ONNX model opens as File > Open does,
after the unsaved-changes question; a project opens; a data folder still goes to the Data panel;
Python code and other files get one status-bar line saying what can be dropped, and change nothing."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from app_helpers import Cancel, Discard, norm
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "compiler"))


def drop_files(window, *paths, pos=QPoint(300, 300)) -> bool:
    """Drag-enter, drag-move and drop of ``paths`` on the canvas; True when the drop was accepted."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    target = window.view.viewport()
    action = Qt.DropAction.CopyAction
    args = (action, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(pos, *args)
    QApplication.sendEvent(target, enter)
    if not enter.isAccepted():
        return False
    QApplication.sendEvent(target, QDragMoveEvent(pos, *args))
    ev = QDropEvent(QPointF(pos), *args)
    QApplication.sendEvent(target, ev)
    QApplication.processEvents()  # the open runs after the drop has returned
    return ev.isAccepted()


def _edit(window) -> str:
    """Delete a ReLU with the keyboard: the document has unsaved changes."""
    gone = next(n for n, node in window.graph.nodes.items() if node.type == "relu")
    window.select_nodes([gone])
    QTest.keyClick(window.view, Qt.Key.Key_Delete)
    assert window.document.modified and gone not in window.graph.nodes
    return gone


@pytest.fixture
def onnx_file(tmp_path):
    pytest.importorskip("onnx")
    from onnx_helpers import export_module

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 5))
    return export_module(net, (3, 8, 8), tmp_path / "dropped.onnx")


def test_dropping_an_onnx_model_asks_first_then_opens_it(window, qtbot, onnx_file):
    _edit(window)
    window.answers.replies = [Discard]
    with qtbot.waitSignal(window.files.onnx_finished, timeout=120_000) as finished:
        assert drop_files(window, onnx_file)
        assert [t for t, _ in window.answers.asked] == ["Unsaved changes"]  # before the import ran
    assert finished.args == [True]
    assert {n.type for n in window.graph.nodes.values()} >= {"conv2d", "relu", "linear"}
    assert window.graph.meta["imported_from"] == str(onnx_file.resolve())
    assert window.document.path is None and window.document.modified


def test_keeping_the_changes_when_an_onnx_model_is_dropped_opens_nothing(window, onnx_file):
    gone = _edit(window)
    edited = norm(window.graph.to_config())
    window.answers.replies = [Cancel]
    assert drop_files(window, onnx_file)
    assert window.answers.asked and window.files.onnx_opening is None  # no import started
    assert norm(window.graph.to_config()) == edited
    window.undo()
    assert gone in window.graph.nodes


def test_dropping_a_project_opens_it_after_the_question(window, tmp_path):
    from cnn_studio.core import templates
    from cnn_studio.core.project import save_project

    path = tmp_path / "net.cnnstudio"
    save_project(templates.build("mlp", (1, 8, 8), 2), path)
    _edit(window)
    window.answers.replies = [Discard]
    assert drop_files(window, tmp_path / "notes.txt", path)  # the first file that opens is used
    assert window.answers.asked and window.document.path == path.resolve()
    assert "fc1" in window.graph.nodes


@pytest.mark.parametrize("name, said", [
    ("model.py", "File > Import > PyTorch Code"),
    ("notes.txt", "Cannot open notes.txt by dropping it"),
    ("cat.png", "Cannot open cat.png by dropping it"),
])
def test_other_files_say_what_can_be_dropped_and_change_nothing(window, tmp_path, name, said):
    path = tmp_path / name
    path.write_text("class Net: pass\n")
    before = norm(window.graph.to_config())
    source = window.training.data_panel.source.text()
    assert drop_files(window, path)
    message = window.statusBar().currentMessage()
    assert said in message and "\n" not in message
    assert ".cnnstudio" in message and ".onnx" in message and "image folder" in message
    assert norm(window.graph.to_config()) == before and not window.document.modified
    assert window.training.data_panel.source.text() == source and window.answers.asked == []


def test_a_dropped_folder_still_goes_to_the_data_panel(window, qtbot, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    panel = window.training.data_panel
    before = {k: v for k, v in norm(window.graph.to_config()).items() if k in ("nodes", "edges")}
    with qtbot.waitSignal(window.folder_dropped, timeout=5000) as dropped:
        assert drop_files(window, folder)
    assert dropped.args == [str(folder)] and panel.source.text() == str(folder)
    qtbot.waitUntil(lambda: not panel.loading, timeout=60_000)  # its preview load (an empty folder: an error)
    assert window.graph.training["data"]["source"] == str(folder)  # the data settings, not the network, changed
    assert {k: v for k, v in norm(window.graph.to_config()).items() if k in ("nodes", "edges")} == before


def test_palette_drops_on_the_canvas_still_add_layers(window):
    from app_helpers import drop, vp

    n = len(window.graph.nodes)
    drop(window, "relu", vp(window, window.view.visible_scene_rect().center()))
    assert len(window.graph.nodes) == n + 1
