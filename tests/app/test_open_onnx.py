"""File > Open of an .onnx model: the network appears as a new unsaved document, and its weights are
used: the next run (F5) starts from them, File > Export offers them, and a saved project that was
imported so starts from them again when it is reopened. A model that cannot be imported names
every unsupported operator and leaves the current network alone. The import runs in a worker thread
(test_onnx_open_async.py: the window stays responsive, Cancel, closing mid-import); ``opened`` waits
for its end."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from app_helpers import norm
from PySide6.QtCore import Qt
from torch import nn

pytest.importorskip("onnx")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "compiler"))
from onnx_helpers import export_module  # noqa: E402

from cnn_studio.compiler.importer import read_weights_file  # noqa: E402


class Net(nn.Module):
    """3x32x32 in, 10 classes out: the default data set's shape, so F5 asks no fitting question."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(4 * 8 * 8, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(torch.relu(self.bn(self.conv(x)))), 1))


def opened(qtbot, w, path=None) -> bool:
    """File > Open (``path`` None: through the open dialog's answer), waiting for the import."""
    with qtbot.waitSignal(w.files.onnx_finished, timeout=120_000) as blocker:
        assert w.open_file(path)
    return blocker.args[0]


def _capture_start(window, monkeypatch):
    started = []
    monkeypatch.setattr(window.training.panel, "start_training", lambda *a, **kw: started.append((a, kw)))
    return started


def test_open_onnx_shows_network_and_its_weights_start_the_next_run(make_window, tmp_path, qtbot, monkeypatch):
    torch.manual_seed(0)
    module = Net().eval()
    onnx_path = export_module(module, (3, 32, 32), tmp_path / "net.onnx")
    w = make_window()
    w.answers.open_path = str(onnx_path)
    assert opened(qtbot, w)
    types = {nid: n.type for nid, n in w.graph.nodes.items()}
    assert types["conv"] == "conv2d" and types["fc"] == "linear" and "maxpool2d" in types.values()
    assert set(types) <= set(w.scene.node_items)  # on the canvas
    assert w.document.path is None and w.document.modified  # a new, unsaved document
    weights = Path(w.graph.meta["initial_weights"])
    assert weights.is_file() and weights.suffix == ".safetensors"
    saved = read_weights_file(weights)
    torch.testing.assert_close(saved["fc.weight"], module.fc.weight.detach())
    # File > Export offers the model's weights
    attached = w.exchange.attached_weights()
    assert attached is not None and torch.equal(attached[0]["fc.bias"], module.fc.bias.detach())
    # and F5 starts a run from them
    assert w.transfer.initial_weights()["init_from"] == str(weights)
    started = _capture_start(w, monkeypatch)
    qtbot.keyClick(w, Qt.Key.Key_F5)
    assert started, "F5 did not start a run"
    assert started[0][1]["train_config"]["init_from"] == str(weights)


def test_saved_import_starts_from_its_weights_when_reopened(make_window, tmp_path, qtbot):
    onnx_path = export_module(Net(), (3, 32, 32), tmp_path / "net.onnx")
    w = make_window()
    assert opened(qtbot, w, onnx_path)
    weights = w.graph.meta["initial_weights"]
    project = tmp_path / "net.cnnstudio"
    w.answers.save_path = str(project)
    assert w.save()
    w2 = make_window()
    w2.answers.open_path = str(project)
    assert w2.open_file()
    assert w2.transfer.initial_weights()["init_from"] == weights


def test_unsupported_model_names_every_operator_and_keeps_the_network(window, tmp_path, qtbot):
    class Odd(nn.Module):
        def forward(self, x):
            return torch.cat([torch.cos(x), torch.floor(x)], 1).flatten(1)

    onnx_path = export_module(Odd(), (1, 4, 4), tmp_path / "odd.onnx")
    before = norm(window.graph.to_config())
    window.answers.open_path = str(onnx_path)
    assert not opened(qtbot, window)
    title, text = window.answers.informed[-1]
    assert title == "Cannot open ONNX model" and "(Cos)" in text and "(Floor)" in text
    assert norm(window.graph.to_config()) == before and window.transfer.initial_weights() == {}


def test_corrupt_onnx_is_one_message(window, tmp_path, qtbot):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 30)
    before = norm(window.graph.to_config())
    assert not opened(qtbot, window, bad)
    assert "bad.onnx" in window.answers.informed[-1][1]
    assert norm(window.graph.to_config()) == before
