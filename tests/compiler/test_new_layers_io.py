"""Issue 13's layers through every door out of and into the app: exported Python code that runs
and reproduces the outputs, ONNX export checked with onnxruntime, and torch.fx import of a
hand-written nn.Module that uses each of them (module and functional forms)."""
import importlib.util

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnn_studio.compiler import compile_model
from cnn_studio.compiler.codegen import class_name_for
from cnn_studio.compiler.export import export, export_python, source_from_graph
from cnn_studio.compiler.importer import import_module
from cnn_studio.core.analysis import analyze
from sample_graphs import new_layers_graph  # noqa: E402

NEW = {
    "conv_transpose2d", "separable_conv2d", "upsample", "groupnorm", "layernorm", "instancenorm2d", "relu6",
    "hardswish", "identity", "zeropad2d", "reshape", "multiply", "mean_hw",
}


def randomised_source():
    """The all-new-layers network with random (seeded) weights and running statistics, so every
    parameter and buffer changes the output."""
    src = source_from_graph(new_layers_graph(), seed=2)
    model = src.model()
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.rand(t.shape, generator=gen) * 0.5 + (0.75 if name.endswith("running_var") else -0.25))
    src.state_dict = model.state_dict()
    return src, model.eval()


def test_the_sample_network_holds_every_new_type():
    assert NEW <= {n.type for n in new_layers_graph().nodes.values()}


def test_separable_conv_state_dict_keys():
    model = compile_model(new_layers_graph())
    keys = [k for k in model.state_dict() if k.startswith("sep.")]
    assert keys == ["sep.depthwise.weight", "sep.depthwise.bias", "sep.pointwise.weight", "sep.pointwise.bias"]
    assert model.sep.depthwise.groups == 6 and model.sep.pointwise.kernel_size == (1, 1)


def test_python_export_runs_and_reproduces_the_outputs(tmp_path):
    src, model = randomised_source()
    py = tmp_path / "newlayers.py"
    export_python(src, py, weights=True)
    spec = importlib.util.spec_from_file_location("exported_newlayers", py)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    exported = getattr(mod, class_name_for(src.graph.name))()
    exported.load_state_dict(torch.load(tmp_path / "newlayers.pt", weights_only=True), strict=True)
    exported.eval()
    x = torch.randn(3, *src.input_shape)
    with torch.no_grad():
        assert torch.allclose(exported(x), model(x), atol=1e-5, rtol=1e-5)


def test_onnx_export_matches_onnxruntime(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    src, model = randomised_source()
    res = export(src, "onnx", tmp_path / "m.onnx")
    assert "ONNX opset 17, torchscript exporter" in res.notes[1]  # every new layer fits the default opset
    check_onnx(ort, res.files[0], model, src.input_shape)


def check_onnx(ort, path, model, shape) -> None:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        x = torch.randn(batch, *shape)
        got = sess.run(["logits"], {"input": x.numpy()})[0]
        with torch.no_grad():
            want = model(x).numpy()
        assert got.shape == want.shape
        assert abs(got - want).max() < 1e-4


def test_onnx_export_of_instance_norm_with_running_statistics_falls_back_to_opset_18(tmp_path):
    """torch's opset-17 exporter refuses InstanceNorm2d with running statistics ('instance_norm
    training for unknown batch size'); the export says so and writes opset 18, which matches."""
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from cnn_studio.core import Graph
    from cnn_studio.core.graph import chain

    g = Graph("in stats")
    last = chain(g, [("instancenorm2d", {"affine": True, "track_running_stats": True}), ("flatten", {}), ("linear", {"out_features": 3})],
                 start=g.add_node("input", {"channels": 2, "height": 4, "width": 4}).id)
    g.connect(last, g.add_node("cross_entropy").id)
    src = source_from_graph(g, seed=1)
    model = src.model()
    inorm = next(m for m in model.modules() if isinstance(m, nn.InstanceNorm2d))
    with torch.no_grad():
        inorm.running_mean.copy_(torch.tensor([0.3, -0.2]))
        inorm.running_var.copy_(torch.tensor([0.5, 2.0]))
    src.state_dict = model.state_dict()
    res = export(src, "onnx", tmp_path / "in.onnx")
    assert "opset 17 cannot express this network" in res.notes[-1] and "opset 18" in res.notes[1]
    check_onnx(ort, res.files[0], model.eval(), src.input_shape)


class HandWritten(nn.Module):
    """Written as people write PyTorch, not by CNN Studio: modules and functional calls."""

    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose2d(3, 6, 3, stride=2, padding=1, output_padding=1)
        self.gn = nn.GroupNorm(3, 6)
        self.act = nn.ReLU6()
        self.down = nn.Conv2d(6, 8, 3, stride=2, padding=1)
        self.inorm = nn.InstanceNorm2d(8, affine=True)
        self.hs = nn.Hardswish()
        self.pad = nn.ZeroPad2d((1, 0, 1, 0))
        self.resize = nn.Upsample(size=(10, 12), mode="bilinear")
        self.keep = nn.Identity()
        self.excite = nn.Conv2d(8, 8, 1)
        self.ln = nn.LayerNorm([8, 10, 12])
        self.head = nn.Linear(2 * 4 * 4, 5)

    def forward(self, x):
        x = self.act(self.gn(self.up(x)))
        x = self.hs(self.inorm(self.down(x)))
        x = self.keep(self.resize(self.pad(x)))
        gate = torch.sigmoid(self.excite(x.mean((2, 3), keepdim=True)))
        x = self.ln(x * gate)
        x = F.interpolate(x, scale_factor=2, mode="nearest")  # 8x20x24
        x = F.pad(F.hardswish(F.relu6(x)), (1, 1, 0, 0))  # 8x20x26
        pooled = torch.mean(x, dim=(2, 3))  # 8
        x = torch.reshape(pooled, (pooled.shape[0], 2, 2, 2))
        x = F.interpolate(x, size=(4, 4), mode="bilinear", align_corners=True)  # 2x4x4
        x = torch.reshape(x, (x.shape[0], -1))
        return self.head(x)


def test_fx_import_of_a_hand_written_module_with_the_new_layers():
    module = HandWritten().eval()
    graph, state = import_module(module, (3, 8, 8))  # checks the outputs agree before returning
    types = [n.type for n in graph.nodes.values()]
    for t in ("conv_transpose2d", "groupnorm", "relu6", "instancenorm2d", "hardswish", "zeropad2d", "upsample",
              "identity", "mean_hw", "multiply", "layernorm", "reshape"):
        assert t in types, t
    assert types.count("upsample") == 3 and types.count("zeropad2d") == 2 and types.count("mean_hw") == 2
    cfgs = {n.type + str(i): n.config for i, n in enumerate(graph.nodes.values())}
    ups = [c for k, c in cfgs.items() if k.startswith("upsample")]
    assert {"mode": "bilinear", "align_corners": True, "scale_factor": None, "size": 4} in ups
    model = compile_model(graph)
    model.load_state_dict(state, strict=True)
    model.eval()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(model(x), module(x), atol=1e-5)


def test_fx_import_of_the_studios_own_new_layer_modules():
    """A compiled network (its SeparableConv2d, Multiply, MeanHW, Reshape modules) imports back
    to the same outputs."""
    src, model = randomised_source()
    graph, state = import_module(model, src.input_shape)
    again = compile_model(graph)
    again.load_state_dict(state, strict=True)
    again.eval()
    x = torch.randn(2, *src.input_shape)
    with torch.no_grad():
        assert torch.allclose(again(x), model(x), atol=1e-5)
    assert analyze(graph).total_params == analyze(src.graph).total_params


class Xception(nn.Module):
    """A hand-written separable convolution, as in Xception/MobileNet code, next to a depthwise
    convolution that a batch norm separates from its 1x1 (that pair stays two convolutions)."""

    class Separable(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
            self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

        def forward(self, x):
            return self.pointwise(self.depthwise(x))

    def __init__(self):
        super().__init__()
        self.block = self.Separable(3, 8)
        self.dw = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.pw = nn.Conv2d(8, 4, 1, bias=False)
        self.head = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x):
        x = self.pw(self.bn(self.dw(self.block(x))))
        return self.head(x.flatten(1))


def test_fx_import_fuses_a_depthwise_and_its_pointwise_conv_into_one_node():
    module = Xception().eval()
    graph, state = import_module(module, (3, 8, 8))
    assert graph.nodes["block"].type == "separable_conv2d"
    assert graph.nodes["block"].config == {"out_channels": 8, "kernel_size": 3, "stride": 1, "padding": 1, "dilation": 1, "bias": False}
    assert graph.nodes["dw"].type == "conv2d" and graph.nodes["pw"].type == "conv2d"  # a BN between: not a separable conv
    assert {"block.depthwise.weight", "block.pointwise.weight"} <= set(state)
    model = compile_model(graph)
    model.load_state_dict(state, strict=True)
    model.eval()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(model(x), module(x), atol=1e-5)


def test_exported_code_imports_back_to_the_same_layer_types(tmp_path):
    """Python export -> fx import: the separable conv comes back as one node with its id, the SE
    Multiply, the Means and the Reshapes as themselves."""
    src, model = randomised_source()
    py = tmp_path / "newlayers.py"
    export_python(src, py, weights=False)
    spec = importlib.util.spec_from_file_location("exported_newlayers2", py)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    exported = getattr(mod, class_name_for(src.graph.name))().eval()
    graph, _ = import_module(exported, src.input_shape, source_file=str(py))
    want = {n.id: n.type for n in src.graph.nodes.values()}
    want["as_vector"] = "flatten"  # x.reshape(x.shape[0], -1) of a map is a Flatten, which the import prefers
    assert {n.id: n.type for n in graph.nodes.values()} == want
    assert graph.nodes["as_map"].config == {"channels": 2, "height": 2, "width": 2}  # the traced sizes
