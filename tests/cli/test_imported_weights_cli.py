"""An ONNX model imported with `cnn-studio import` keeps its weights on the command line: `export`
writes them (same outputs as the ONNX file in onnxruntime), `train` starts from them (one line says
so; an explicit --init-from wins), and a missing or no-longer-fitting weights file is one clear line."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from cnn_studio.cli import main  # noqa: E402
from cnn_studio.compiler.importer import read_weights_file  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "compiler"))
from onnx_helpers import export_module, ort_run  # noqa: E402

BASE = ["--data", "shapes:train=64,test=16,size=8,channels=1", "--epochs", "1", "--batch-size", "32", "--device", "cpu",
        "--threads", "1", "--layer-stats-every", "0"]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(4 * 4 * 4, 10)  # the shapes data set: 10 classes

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(torch.relu(self.conv(x))), 1))


@pytest.fixture
def imported(tmp_path, capsys):
    torch.manual_seed(3)
    onnx_path = export_module(Net(), (1, 8, 8), tmp_path / "hand.onnx")
    proj = tmp_path / "hand.cnnstudio"
    assert main(["import", str(onnx_path), "-o", str(proj)]) == 0
    capsys.readouterr()
    return onnx_path, proj, tmp_path / "hand.safetensors"


def test_export_onnx_of_an_imported_project_gives_the_imported_outputs(imported, tmp_path, capsys):
    onnx_path, proj, weights = imported
    out = tmp_path / "re.onnx"
    assert main(["export", str(proj), "-f", "onnx", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"weights: imported from {weights.resolve()}" in text and "untrained" not in text
    x = torch.randn(5, 1, 8, 8)
    torch.testing.assert_close(torch.from_numpy(ort_run(out, x)), torch.from_numpy(ort_run(onnx_path, x)), atol=1e-5, rtol=0)
    # safetensors too: the imported tensors themselves, not fresh ones
    st = tmp_path / "re.safetensors"
    assert main(["export", str(proj), "-f", "safetensors", "-o", str(st)]) == 0
    capsys.readouterr()
    got, want = read_weights_file(st), read_weights_file(weights)
    assert set(want) <= set(got) and all(torch.equal(got[k], want[k]) for k in want)


def test_export_weights_option_wins_and_missing_file_is_said(imported, tmp_path, capsys):
    _, proj, weights = imported
    other = tmp_path / "other.pt"
    torch.save({k: torch.zeros_like(v) for k, v in read_weights_file(weights).items()}, other)
    st = tmp_path / "o.safetensors"
    assert main(["export", str(proj), "-f", "safetensors", "-o", str(st), "--weights", str(other)]) == 0
    assert f"weights: from {other}" in capsys.readouterr().out
    assert all(not v.any() for v in read_weights_file(st).values())
    weights.unlink()
    assert main(["export", str(proj), "-f", "state_dict", "-o", str(tmp_path / "f.pt")]) == 0
    text = capsys.readouterr().out
    assert f"the imported weights '{weights.resolve()}' (meta.initial_weights) are missing" in text and "freshly initialised" in text


def test_train_starts_from_the_imported_weights_unless_init_from_is_given(imported, tmp_path, capsys):
    _, proj, weights = imported
    run = tmp_path / "run"
    assert main(["train", str(proj), *BASE, "--out", str(run)]) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if "imported weights" in ln]
    assert len(lines) == 1 and str(weights.resolve()) in lines[0] and "4 of 4 matched" in lines[0]
    cfg = json.loads((run / "config.json").read_text())["train"]
    assert cfg["init_from"] == str(weights.resolve()) and cfg["init_partial"] is True
    assert any("initialised from" in n for n in json.loads((run / "summary.json").read_text())["notes"])
    # an explicit --init-from wins (and gets the full key report)
    other = tmp_path / "other.pt"
    torch.save(read_weights_file(weights), other)
    run2 = tmp_path / "run2"
    assert main(["train", str(proj), *BASE, "--out", str(run2), "--init-from", str(other)]) == 0
    out = capsys.readouterr().out
    assert "imported weights" not in out and f"weights: {other}" in out
    assert json.loads((run2 / "config.json").read_text())["train"]["init_from"] == str(other)


def test_train_with_missing_or_changed_imported_weights_says_so_in_one_line(imported, tmp_path, capsys):
    _, proj, weights = imported
    from safetensors.torch import save_file

    save_file({"other.weight": torch.zeros(3)}, str(weights))  # the file was replaced: nothing in it fits now
    changed = proj
    assert main(["train", str(changed), *BASE, "--out", str(tmp_path / "r1")]) == 0
    err = capsys.readouterr().err
    assert len([ln for ln in err.splitlines() if "imported weights" in ln]) == 1
    assert "fits the network any more" in err and "fresh weights" in err
    assert "init_from" not in json.loads((tmp_path / "r1" / "config.json").read_text())["train"] or \
        json.loads((tmp_path / "r1" / "config.json").read_text())["train"]["init_from"] is None
    weights.unlink()
    assert main(["train", str(proj), *BASE, "--out", str(tmp_path / "r2")]) == 0
    err = capsys.readouterr().err
    assert f"the imported weights '{weights.resolve()}' (meta.initial_weights) are missing" in err and "Traceback" not in err
