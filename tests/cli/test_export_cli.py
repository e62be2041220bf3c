"""`cnn-studio export` and `cnn-studio import`: files written, messages, and bad input as exit 2
with one line on stderr."""
import json
import textwrap

import pytest
import torch

from cnn_studio.cli import main
from cnn_studio.compiler import compile_model
from cnn_studio.core import load_project, save_project, templates


def make_run(tmp_path):
    g = templates.build("tinyvgg", (3, 16, 16), 3)
    torch.manual_seed(0)
    model = compile_model(g)
    run = tmp_path / "runs" / "tinyvgg-1"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"graph": g.to_config(), "class_names": ["a", "b", "c"], "mean": [0.1, 0.2, 0.3],
                                                 "std": [1.0, 1.0, 1.0], "input_shape": [3, 16, 16], "data": {}, "training": {}}))
    torch.save({"model": model.state_dict(), "graph": g.to_config()}, run / "checkpoints" / "last.pt")
    return run, model


def test_export_python_from_run_dir_with_training_script(tmp_path, capsys):
    run, model = make_run(tmp_path)
    out = tmp_path / "tiny.py"
    assert main(["export", str(run), "--format", "python", "-o", str(out), "--with-training-script"]) == 0
    text = capsys.readouterr().out
    assert f"wrote {out}" in text and "train_tiny.py" in text and "trained weights from" in text
    weights = torch.load(tmp_path / "tiny.pt", weights_only=True)
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    src = out.read_text()
    assert "class Tinyvgg(nn.Module):" in src and "CLASS_NAMES = ['a', 'b', 'c']" in src
    assert "from tiny import INPUT_SHAPE, MEAN, STD, Tinyvgg, load_weights" in (tmp_path / "train_tiny.py").read_text()


def test_export_template_formats(tmp_path, capsys):
    for fmt, name in (("state_dict", "w.pt"), ("safetensors", "w.safetensors"), ("onnx", "m.onnx"), ("torchscript", "m.ts")):
        args = ["export", "lenet5", "--input", "1x28x28", "--classes", "4", "-f", fmt, "-o", str(tmp_path / name)]
        assert main(args + (["--opset", "13"] if fmt == "onnx" else [])) == 0, fmt
        assert (tmp_path / name).stat().st_size > 1000
    out = capsys.readouterr().out
    assert "freshly initialised with seed 0" in out and "ONNX opset 13" in out
    assert torch.load(tmp_path / "w.pt", weights_only=True)["output.weight"].shape == (4, 84)


def test_export_project_file_with_seed(tmp_path, capsys):
    proj = save_project(templates.build("mlp", (1, 8, 8), 3), tmp_path / "p.cnnstudio")
    for seed, name in ((1, "a.pt"), (1, "b.pt"), (2, "c.pt")):
        assert main(["export", str(proj), "-f", "state_dict", "-o", str(tmp_path / name), "--seed", str(seed)]) == 0
    a, b, c = (torch.load(tmp_path / n, weights_only=True)["fc1.weight"] for n in ("a.pt", "b.pt", "c.pt"))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize(
    "args,needle",
    [
        (["export", "lenet5", "-f", "python", "-o", "x.py", "--opset", "13"], "--opset applies to --format onnx only"),
        (["export", "lenet5", "-f", "onnx", "-o", "x.onnx", "--with-training-script"], "--with-training-script applies"),
        (["export", "lenet5", "-f", "zip", "-o", "x.zip"], "invalid choice"),
        (["export", "nope", "-f", "onnx", "-o", "x.onnx"], "neither a template"),
        (["export", "lenet5", "-f", "onnx", "-o", "x.onnx", "--opset", "99"], "opset must be"),
        (["export", "lenet5", "-f", "onnx", "-o", "missing_dir/x.onnx"], "does not exist"),
        (["export", "lenet5", "-f", "onnx", "-o", "x.onnx", "--input", "1x2"], "CxHxW"),
        (["export", "RUNDIR_EMPTY", "-f", "onnx", "-o", "x.onnx"], "no config.json"),
        (["import", "missing.py", "--class", "Net", "--input", "1x8x8", "-o", "o.cnnstudio"], "does not exist"),
        (["import", "net.py", "--class", "Net", "--input", "1x8x8", "-o", "o.json"], "must name a project file"),
        (["import", "net.py", "--class", "Bad", "--input", "1x8x8", "-o", "o.cnnstudio"], "unsupported operation"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, monkeypatch, capsys, args, needle):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "RUNDIR_EMPTY").mkdir()
    (tmp_path / "net.py").write_text(NET)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("cnn-studio: error: ") and err.count("\n") == 1
    assert needle in err
    assert not (tmp_path / "x.onnx").exists() and not (tmp_path / "o.cnnstudio").exists()


NET = textwrap.dedent(
    """
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2))
            self.classifier = nn.Linear(4 * 3 * 3, 2)

        def forward(self, x):
            return self.classifier(torch.flatten(self.features(x), 1))


    class Bad(nn.Module):
        def forward(self, x):
            return torch.sort(x.flatten(1), dim=1).values
    """
)


def test_import_writes_project_and_weights(tmp_path, capsys):
    (tmp_path / "net.py").write_text(NET)
    out, w = tmp_path / "net.cnnstudio", tmp_path / "net.safetensors"
    assert main(["import", str(tmp_path / "net.py"), "--class", "Net", "--input", "1x8x8", "-o", str(out), "--weights-out", str(w)]) == 0
    assert "imported Net: 7 nodes, 114 parameters" in capsys.readouterr().out
    graph = load_project(out)
    assert [graph.nodes[n].type for n in ("features_0", "features_1", "features_2", "flatten", "classifier", "loss")] == [
        "conv2d", "relu", "maxpool2d", "flatten", "linear", "cross_entropy"]
    model = compile_model(graph)
    from cnn_studio.compiler.importer import load_weights

    load_weights(model, w)
    # the exported project goes straight back out
    assert main(["export", str(out), "-f", "onnx", "-o", str(tmp_path / "net.onnx")]) == 0


@pytest.mark.parametrize("missing, opset", [(("onnx", "onnxscript"), None), (("onnx",), "17"), (("onnxscript",), "18")])
def test_onnx_export_without_the_onnx_packages_names_the_pip_command(tmp_path, capsys, monkeypatch, missing, opset):
    """onnx/onnxscript come with the 'export' extra only: the one-line error says how to get them."""
    import sys

    for name in missing:
        monkeypatch.setitem(sys.modules, name, None)  # 'import onnx' raises ImportError
    out = tmp_path / "m.onnx"
    argv = ["export", "lenet5", "--format", "onnx", "-o", str(out)] + (["--opset", opset] if opset else [])
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert 'pip install "cnn-studio[export]"' in err and 'pip install -e ".[export]"' in err
    assert missing[0] in err and not out.exists()


def test_pyproject_export_extra_brings_the_onnx_packages():
    import tomllib
    from pathlib import Path

    extras = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {e.split(">")[0].split("=")[0].strip() for e in extras["export"]}
    assert {"onnx", "onnxscript", "onnxruntime"} <= names
    assert names <= {e.split(">")[0].split("=")[0].strip() for e in extras["test"]}  # the tests export ONNX too
