"""`cnn-studio import MODEL.onnx -o NET.cnnstudio`: the project and its weights beside it (ready for
--init-from), nothing written on failure, and the Python-code import still behind the same command."""
from __future__ import annotations

import pytest
import torch
from torch import nn

pytest.importorskip("onnx")

from cnn_studio.cli import main  # noqa: E402
from cnn_studio.compiler import compile_model  # noqa: E402
from cnn_studio.compiler.importer import read_weights_file  # noqa: E402
from cnn_studio.core import load_project  # noqa: E402

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "compiler"))
from onnx_helpers import export_module, ort_run  # noqa: E402


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(torch.relu(self.conv(x))), 1))


class Odd(nn.Module):
    def forward(self, x):
        return torch.cat([torch.cos(x), torch.floor(x)], 1).flatten(1)


def test_import_onnx_writes_project_and_weights_for_init_from(tmp_path, capsys):
    onnx_path = export_module(Net(), (1, 8, 8), tmp_path / "net.onnx")
    out = tmp_path / "net.cnnstudio"
    assert main(["import", str(onnx_path), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    weights = tmp_path / "net.safetensors"
    assert f"-> {out}" in text and f"wrote weights to {weights}" in text
    assert f"cnn-studio train {out} --init-from {weights}" in text
    assert "outputs equal onnxruntime's" in text
    graph = load_project(out)
    assert graph.meta["initial_weights"] == str(weights.resolve())
    model = compile_model(graph).eval()
    model.load_state_dict(read_weights_file(weights), strict=True)  # what --init-from does
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(x), torch.from_numpy(ort_run(onnx_path, x)), atol=1e-5, rtol=0)


def test_import_onnx_weights_out_and_no_weights(tmp_path, capsys):
    onnx_path = export_module(Net(), (1, 8, 8), tmp_path / "net.onnx")
    assert main(["import", str(onnx_path), "-o", str(tmp_path / "a.cnnstudio"), "--weights-out", str(tmp_path / "w.pt")]) == 0
    assert set(torch.load(tmp_path / "w.pt", weights_only=True)) == {"conv.weight", "conv.bias", "fc.weight", "fc.bias"}
    assert main(["import", str(onnx_path), "-o", str(tmp_path / "b.cnnstudio"), "--no-weights"]) == 0
    assert not (tmp_path / "b.safetensors").exists() and "initial_weights" not in load_project(tmp_path / "b.cnnstudio").meta


def test_unsupported_operators_exit_2_and_write_nothing(tmp_path, capsys):
    onnx_path = export_module(Odd(), (1, 4, 4), tmp_path / "odd.onnx")
    out = tmp_path / "odd.cnnstudio"
    assert main(["import", str(onnx_path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cnn-studio: error: odd.onnx cannot be imported") and "(Cos)" in err and "(Floor)" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["odd.onnx"]


@pytest.mark.parametrize("extra,needle", [
    (["--class", "Net"], "--class applies to Python files"),
    (["--weights-out", "w.safetensors", "--no-weights"], "not both"),
    (["--weights-out", "w.txt"], "must end in .safetensors or .pt"),
    (["--input", "1x2"], "CxHxW"),
])
def test_bad_options_exit_2(tmp_path, monkeypatch, capsys, extra, needle):
    monkeypatch.chdir(tmp_path)
    export_module(Net(), (1, 8, 8), tmp_path / "net.onnx")
    assert main(["import", "net.onnx", "-o", "n.cnnstudio", *extra]) == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "n.cnnstudio").exists()


def test_not_an_onnx_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model at all" * 20)
    assert main(["import", str(bad), "-o", str(tmp_path / "x.cnnstudio")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.onnx" in err


def test_python_import_needs_class_and_input(tmp_path, capsys):
    (tmp_path / "net.py").write_text("import torch\n")
    assert main(["import", str(tmp_path / "net.py"), "-o", str(tmp_path / "o.cnnstudio")]) == 2
    assert "needs --class NAME" in capsys.readouterr().err
    assert main(["import", str(tmp_path / "net.py"), "--class", "Net", "-o", str(tmp_path / "o.cnnstudio")]) == 2
    assert "needs --input CxHxW" in capsys.readouterr().err


def test_a_file_that_is_neither_onnx_nor_python_is_named(tmp_path, capsys):
    png = tmp_path / "circle.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    assert main(["import", str(png), "-o", str(tmp_path / "h.cnnstudio")]) == 2
    err = capsys.readouterr().err
    assert "is not an .onnx or .py file" in err and "--class" not in err.split("file;")[0] and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "h.cnnstudio").exists()
