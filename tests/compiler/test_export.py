"""Export: Python code (checked in a fresh interpreter), TorchScript, ONNX, state_dict, safetensors,
run-directory loading and the generated training script."""
import json
import os
import socket
import subprocess
import sys
import textwrap
import warnings

import pytest
import torch

from cnn_studio.compiler import compile_model
from cnn_studio.compiler.codegen import class_name_for, generate_python
from cnn_studio.compiler.export import (
    ExportError,
    export,
    export_onnx,
    export_python,
    load_run,
    read_safetensors_metadata,
    source_from_graph,
    source_from_run,
)
from cnn_studio.core import Graph, StudioError, templates
from sample_graphs import clash_graph, concat_graph, randomise_bn  # noqa: E402


# ---------------------------------------------------------------------------------- fixtures
def make_run_dir(root, graph: Graph, best: bool = True, **extra) -> tuple:
    """A run directory as the training engine writes it: config.json + checkpoints/best.pt."""
    torch.manual_seed(3)
    model = compile_model(graph)
    randomise_bn(model)
    run = root / "run-1"
    (run / "checkpoints").mkdir(parents=True)
    config = {"graph": graph.to_config(), "data": {"source": "shapes"}, "training": {"epochs": 1},
              "class_names": [f"class{i}" for i in range(10)], "mean": [0.5], "std": [0.25],
              "input_shape": [1, 32, 32], **extra}
    (run / "config.json").write_text(json.dumps(config))
    ckpt = {"format": "cnn-studio-checkpoint", "version": 1, "model": model.state_dict(), "graph": graph.to_config(),
            "progress": {"epoch": 1}}
    torch.save(ckpt, run / "checkpoints" / ("best.pt" if best else "last.pt"))
    return run, model


def _eval_model(source):
    m = source.model()
    assert not m.training
    return m


# ---------------------------------------------------------------------------------- python
def test_class_name_from_graph_name():
    assert class_name_for("lenet5") == "Lenet5"
    assert class_name_for("my net-v2") == "MyNetV2"
    assert class_name_for("3d net") == "Net3dNet"
    assert class_name_for("") == "Network"


def test_generated_code_reads_like_handwritten_pytorch():
    src = generate_python(templates.build("lenet5", (1, 28, 28), 10), class_names=["zero", "one"], mean=[0.1307], std=[0.3081])
    assert "import torch\nfrom torch import nn\n" in src
    assert "class Lenet5(nn.Module):" in src and "def __init__(self):" in src
    assert "self.c1 = nn.Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2), bias=True)" in src
    assert "self.s2 = nn.AvgPool2d(kernel_size=(2, 2))" in src
    assert "c1 = self.c1(input)  # -> 6x28x28" in src
    assert "INPUT_SHAPE = (1, 28, 28)" in src and "MEAN = [0.1307]" in src and "CLASS_NAMES = ['zero', 'one']" in src
    assert "Parameters: 61,706" in src and "if __name__ == \"__main__\":" in src
    res = generate_python(templates.build("resnet18", (3, 32, 32), 10))
    assert "layer1_0_add = layer1_0_bn2 + maxpool" in res
    cat = generate_python(concat_graph())
    assert "merged = torch.cat([branch_a, branch_b_act], dim=1)" in cat
    clash = generate_python(clash_graph())
    assert "self.train_ = nn.ReLU()" in clash and "train = self.train_(eval)" in clash
    assert "lambda_ = float + train" in clash
    compile(clash, "clash.py", "exec")


def test_python_export_matches_app_model_in_fresh_interpreter(tmp_path):
    """The run's / app's state_dict loads (strict) into the exported class in a new interpreter and
    gives the GraphModule's outputs, for LeNet-5 (from a run dir), ResNet-18 (Add), Concat and clashing ids."""
    run, _ = make_run_dir(tmp_path, templates.build("lenet5", (1, 32, 32), 10))
    cases = [("lenet5", source_from_run(run))]
    for name, graph in (("resnet18", templates.build("resnet18", (3, 32, 32), 10)), ("concat", concat_graph()), ("clash", clash_graph())):
        src = source_from_graph(graph, seed=1)
        m = src.model()
        randomise_bn(m)
        src.state_dict = m.state_dict()
        cases.append((name, src))
    jobs = []
    for name, src in cases:
        py = tmp_path / f"{name}.py"
        files = export_python(src, py, weights=True)
        assert files == [py, tmp_path / f"{name}.pt"]
        x = torch.randn(3, *src.input_shape)
        torch.save(x, tmp_path / f"{name}_x.pt")
        with torch.no_grad():
            torch.save(_eval_model(src)(x), tmp_path / f"{name}_want.pt")
        jobs.append((str(py), class_name_for(src.graph.name), str(tmp_path / f"{name}.pt"), str(tmp_path / f"{name}_x.pt"), str(tmp_path / f"{name}_got.pt")))
    script = textwrap.dedent(
        """
        import importlib.util, json, sys, torch
        for path, cls, weights, x, out in json.loads(sys.argv[1]):
            spec = importlib.util.spec_from_file_location("exported_" + cls, path)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            model = getattr(mod, cls)()
            model.load_state_dict(torch.load(weights, weights_only=True), strict=True)
            model.eval()
            with torch.no_grad():
                torch.save(model(torch.load(x, weights_only=True)), out)
        assert "cnn_studio" not in sys.modules
        """
    )
    r = subprocess.run([sys.executable, "-c", script, json.dumps(jobs)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    for name, *_ in cases:
        want = torch.load(tmp_path / f"{name}_want.pt", weights_only=True)
        got = torch.load(tmp_path / f"{name}_got.pt", weights_only=True)
        assert got.shape == want.shape
        assert torch.allclose(got, want, atol=1e-5, rtol=1e-5), name
    lenet_src = (tmp_path / "lenet5.py").read_text()
    assert "'class0', 'class1'" in lenet_src and "MEAN = [0.5]" in lenet_src and "trained weights from" in lenet_src


def test_untrained_python_export_writes_no_weights_and_main_block_runs(tmp_path):
    src = source_from_graph(templates.build("lenet5", (1, 32, 32), 10))
    files = export(src, "python", tmp_path / "lenet.py").files
    assert files == [tmp_path / "lenet.py"]
    assert "Weights: not included" in files[0].read_text()
    export(src, "state_dict", tmp_path / "w.pt")
    r = subprocess.run([sys.executable, str(files[0]), str(tmp_path / "w.pt")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "loaded weights" in r.stdout and "-> output (2, 10)" in r.stdout


def test_training_script_trains_under_torchrun_environment(tmp_path):
    """The generated script takes the DistributedDataParallel path (gloo, world size 1) as under
    torchrun, trains one epoch on an image folder and saves weights that load into the class."""
    from PIL import Image

    data = tmp_path / "data"
    for ci, cname in enumerate(("dark", "light")):
        (data / cname).mkdir(parents=True)
        for i in range(4):
            Image.new("L", (20, 24), color=40 + 160 * ci + i).save(data / cname / f"{i}.png")
    src = source_from_graph(templates.build("lenet5", (1, 32, 32), 2), class_names=["dark", "light"], mean=[0.5], std=[0.25])
    files = export(src, "python", tmp_path / "lenet.py", with_training_script=True).files
    script = tmp_path / "train_lenet.py"
    assert script in files
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    out = tmp_path / "trained.pt"
    export(src, "state_dict", tmp_path / "init.pt")
    r = subprocess.run(
        [sys.executable, str(script), str(data), "--epochs", "2", "--batch-size", "3", "--optimizer", "adam", "--val-fraction", "0.25",
         "--weights", str(tmp_path / "init.pt"), "--out", str(out)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "1 process(es)" in r.stdout and "epoch 2/2" in r.stdout
    state = torch.load(out, weights_only=True)
    model = compile_model(src.graph)
    model.load_state_dict(state, strict=True)


def test_training_script_needs_a_module_name(tmp_path):
    src = source_from_graph(templates.build("mlp", (1, 8, 8), 2))
    with pytest.raises(ExportError, match="module name"):
        export(src, "python", tmp_path / "my-net.py", with_training_script=True)
    with pytest.raises(ExportError, match="python format only"):
        export(src, "onnx", tmp_path / "x.onnx", with_training_script=True)


# ---------------------------------------------------------------------------------- torchscript / onnx
def test_torchscript_round_trip(tmp_path):
    src = source_from_graph(concat_graph(), seed=2)
    m = src.model()
    randomise_bn(m)
    path = export(src, "torchscript", tmp_path / "r.pt").files[0]
    extra = {"cnn_studio.json": ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated in torch 2.13
        loaded = torch.jit.load(str(path), _extra_files=extra)
    assert json.loads(extra["cnn_studio.json"])["input_shape"] == [3, 8, 8]
    x = torch.randn(4, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(loaded(x), _eval_model(src)(x), atol=1e-5)


def _check_onnx(path, model, shape, opset):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    m = onnx.load(str(path))
    onnx.checker.check_model(m, full_check=True)
    assert [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")] == [opset]
    assert [i.name for i in m.graph.input] == ["input"] and [o.name for o in m.graph.output] == ["logits"]
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        x = torch.randn(batch, *shape)
        got = sess.run(["logits"], {"input": x.numpy()})[0]
        with torch.no_grad():
            want = model(x).numpy()
        assert got.shape == want.shape
        assert abs(got - want).max() < 1e-4
    return {p.key: p.value for p in m.metadata_props}


@pytest.mark.parametrize("name,shape", [("lenet5", (1, 32, 32)), ("resnet18", (3, 32, 32))])
def test_onnx_opset17_matches_pytorch_for_batch_1_and_3(tmp_path, name, shape):
    src = source_from_graph(templates.build(name, shape, 10), class_names=[str(i) for i in range(10)])
    m = src.model()
    randomise_bn(m)
    res = export(src, "onnx", tmp_path / "m.onnx")
    assert "ONNX opset 17, torchscript exporter" in res.notes[1]
    meta = _check_onnx(res.files[0], m, shape, 17)
    assert json.loads(meta["cnn_studio.class_names"])[:2] == ["0", "1"]


def test_onnx_dynamo_exporter_for_opset_18(tmp_path):
    pytest.importorskip("onnxscript")
    src = source_from_graph(concat_graph())
    info = export_onnx(src.model(), tmp_path / "c.onnx", src.input_shape, opset=18)
    assert info.exporter == "dynamo" and info.opset == 18
    _check_onnx(info.path, src.model(), src.input_shape, 18)


def test_onnx_bad_opset(tmp_path):
    src = source_from_graph(templates.build("mlp", (1, 8, 8), 2))
    with pytest.raises(ExportError, match="opset"):
        export(src, "onnx", tmp_path / "x.onnx", opset=3)
    with pytest.raises(ExportError, match="18 or newer"):
        export(src, "onnx", tmp_path / "x.onnx", opset=17, exporter="dynamo")
    assert not list(tmp_path.iterdir())  # nothing half-written


# ---------------------------------------------------------------------------------- weights files
def test_state_dict_and_safetensors_round_trip(tmp_path):
    from safetensors.torch import load_file

    g = templates.build("resnet18", (3, 32, 32), 10)
    src = source_from_graph(g, seed=5, class_names=[f"c{i}" for i in range(10)])
    pt = export(src, "state_dict", tmp_path / "w.pt").files[0]
    st = export(src, "safetensors", tmp_path / "w.safetensors").files[0]
    loaded_pt = torch.load(pt, weights_only=True)
    loaded_st = load_file(str(st))
    assert type(loaded_pt) is dict and list(loaded_pt) == list(src.state_dict)
    for k, v in src.state_dict.items():
        assert torch.equal(loaded_pt[k], v) and torch.equal(loaded_st[k], v)
    meta = read_safetensors_metadata(st)
    assert meta["class_names"] == [f"c{i}" for i in range(10)] and meta["input_shape"] == [3, 32, 32]
    assert Graph.from_config(meta["graph"]).structure() == g.structure()
    compile_model(g).load_state_dict(loaded_st, strict=True)


def test_fresh_weights_are_seeded_and_leave_global_rng_alone():
    g = templates.build("lenet5", (1, 32, 32), 10)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = source_from_graph(g, seed=7).state_dict
    assert torch.equal(torch.get_rng_state(), before)
    b = source_from_graph(g, seed=7).state_dict
    c = source_from_graph(g, seed=8).state_dict
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["c1.weight"], c["c1.weight"])


# ---------------------------------------------------------------------------------- run directories
def test_load_run_prefers_best_and_falls_back_to_last(tmp_path):
    g = templates.build("lenet5", (1, 32, 32), 10)
    run, model = make_run_dir(tmp_path, g, best=False)
    graph, state, config = load_run(run)
    assert graph.structure() == g.structure()
    assert config["checkpoint"].endswith("last.pt") and config["class_names"][0] == "class0"
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    torch.save({"model": {k: v * 0 for k, v in model.state_dict().items()}, "graph": g.to_config()}, run / "checkpoints" / "best.pt")
    _, state, config = load_run(run)
    assert config["checkpoint"].endswith("best.pt") and float(state["c1.weight"].abs().sum()) == 0.0


def test_load_run_errors_are_clear(tmp_path):
    with pytest.raises(StudioError, match="does not exist"):
        load_run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StudioError, match="no config.json"):
        load_run(tmp_path / "empty")
    run, _ = make_run_dir(tmp_path, templates.build("lenet5", (1, 32, 32), 10))
    (run / "checkpoints" / "best.pt").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(StudioError, match="corrupt or unreadable"):
        load_run(run)
    (run / "checkpoints" / "best.pt").unlink()
    with pytest.raises(StudioError, match="no checkpoint"):
        load_run(run)
    (run / "config.json").write_text("{ not json")
    with pytest.raises(StudioError, match="cannot read"):
        load_run(run)


def test_run_source_refuses_new_class_count_and_checks_weights(tmp_path):
    run, _ = make_run_dir(tmp_path, templates.build("lenet5", (1, 32, 32), 10))
    with pytest.raises(StudioError, match="--classes"):
        source_from_run(run, classes=3)
    with pytest.raises(StudioError, match="different shape"):
        source_from_run(run, input_shape=(1, 40, 40))
