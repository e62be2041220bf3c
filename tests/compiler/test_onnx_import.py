"""ONNX import of models exported by torch.onnx from hand-written nn.Modules (not this project's
export): the imported graph, compiled with the imported weights (strict load), gives the outputs
onnxruntime gives on the file, within 1e-5; unsupported operators are all named at once."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from cnn_studio.compiler.onnx_import import OnnxImportError, import_onnx  # noqa: E402
from cnn_studio.core.analysis import analyze  # noqa: E402

from onnx_helpers import export_module, imported_run, ort_run  # noqa: E402


class LeNet(nn.Module):
    """The classic: tanh, average pooling, x.view(x.size(0), -1) and a log_softmax at the end."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.avg_pool2d(torch.tanh(self.conv1(x)), 2)
        x = F.avg_pool2d(torch.tanh(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)
        x = torch.tanh(self.fc1(x))
        x = torch.tanh(self.fc2(x))
        return F.log_softmax(self.fc3(x), dim=1)


class SmallVGG(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
            nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(16 * 3 * 3, 32), nn.ReLU(), nn.Linear(32, 5))

    def forward(self, x):
        return self.classifier(self.features(x))


class Residual(nn.Module):
    """Two residual blocks (identity and a strided 1x1 projection), global average pooling."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.a1 = nn.Conv2d(8, 8, 3, padding=1)
        self.a2 = nn.Conv2d(8, 8, 3, padding=1)
        self.b1 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.b2 = nn.Conv2d(16, 16, 3, padding=1)
        self.proj = nn.Conv2d(8, 16, 1, stride=2)
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        x = F.relu(self.bn(self.stem(x)))
        x = F.relu(x + self.a2(F.relu(self.a1(x))))
        x = F.relu(self.proj(x) + self.b2(F.relu(self.b1(x))))
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


class Inception(nn.Module):
    """Concatenated branches: 1x1, 3x3 dilated, 5x5 grouped, and pooling."""

    def __init__(self):
        super().__init__()
        self.b1 = nn.Conv2d(4, 4, 1)
        self.b3 = nn.Conv2d(4, 6, 3, padding=2, dilation=2)
        self.b5 = nn.Conv2d(4, 8, 5, padding=2, groups=2)
        self.pool = nn.AvgPool2d(3, stride=1, padding=1)
        self.head = nn.Linear(18 * 8 * 8 + 4 * 8 * 8, 3)

    def forward(self, x):
        y = torch.cat([F.leaky_relu(self.b1(x), 0.2), F.elu(self.b3(x)), torch.sigmoid(self.b5(x)), self.pool(x)], dim=1)
        return torch.softmax(self.head(y.flatten(1)), dim=1)


class BNHead(nn.Module):
    """BatchNorm in 2-D and 1-D, GELU, a MatMul + bias written by hand, max pooling as global pooling."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 6, 3, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(6, eps=1e-3, momentum=0.01)
        self.bn1 = nn.BatchNorm1d(6)
        self.w = nn.Parameter(torch.randn(6, 3))
        self.b = nn.Parameter(torch.randn(3))

    def forward(self, x):
        x = F.gelu(self.bn(self.conv(x)))
        x = F.adaptive_max_pool2d(x, 1).flatten(1)
        return torch.tanh(self.bn1(x)) @ self.w + self.b


def _randomise_bn(m: nn.Module) -> nn.Module:
    """Running statistics and affine parameters away from their defaults, so the import must carry them."""
    g = torch.Generator().manual_seed(1)
    for mod in m.modules():
        if isinstance(mod, nn.modules.batchnorm._BatchNorm):
            mod.running_mean.copy_(torch.randn(mod.running_mean.shape, generator=g))
            mod.running_var.copy_(torch.rand(mod.running_var.shape, generator=g) + 0.5)
            mod.weight.data.copy_(torch.randn(mod.weight.shape, generator=g))
            mod.bias.data.copy_(torch.randn(mod.bias.shape, generator=g))
    return m


CASES = [
    ("lenet", LeNet, (1, 28, 28)),
    ("vgg", SmallVGG, (3, 11, 11)),
    ("residual", Residual, (3, 8, 8)),
    ("concat", Inception, (4, 8, 8)),
    ("bn", BNHead, (2, 9, 9)),
]


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
@pytest.mark.parametrize("name,cls,shape", CASES, ids=[c[0] for c in CASES])
def test_hand_written_module_imports_with_onnxruntime_outputs(tmp_path, name, cls, shape, exporter):
    torch.manual_seed(0)
    module = _randomise_bn(cls()).eval()
    opset = 20 if (exporter == "dynamo" and cls is BNHead) else None  # opset 20 has a Gelu operator
    path = export_module(module, shape, tmp_path / f"{name}.onnx", exporter, opset)
    imp = import_onnx(path)
    assert analyze(imp.graph).ok
    x = torch.randn(3, *shape, generator=torch.Generator().manual_seed(5))
    ours, ref = imported_run(imp, x), ort_run(path, x)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-5, rtol=0)
    # and the module itself agrees (the ONNX file is faithful to it)
    with torch.no_grad():
        np.testing.assert_allclose(ours, module(x).numpy(), atol=1e-5, rtol=0)
    assert imp.max_diff is not None and imp.max_diff <= 1e-5


def test_lenet_maps_onto_catalogue_layers_with_module_names(tmp_path):
    m = LeNet()
    path = export_module(m, (1, 28, 28), tmp_path / "lenet.onnx")
    imp = import_onnx(path)
    types = {nid: n.type for nid, n in imp.graph.nodes.items()}
    # weights named by the module (conv1.weight) give the node ids; the view() is a Flatten
    assert types["conv1"] == "conv2d" and types["fc3"] == "linear"
    assert list(types.values()).count("avgpool2d") == 2 and list(types.values()).count("tanh") == 4
    assert "flatten" in types.values() and types["loss"] == "cross_entropy"
    assert imp.graph.nodes["conv1"].config["padding"] == 2
    assert imp.log_softmax_dropped and any("LogSoftmax" in n for n in imp.notes)
    assert set(imp.state) == {f"{m}.{p}" for m in ("conv1", "conv2", "fc1", "fc2", "fc3") for p in ("weight", "bias")}
    torch.testing.assert_close(imp.state["conv1.weight"], m.conv1.weight.detach())
    torch.testing.assert_close(imp.state["fc1.bias"], m.fc1.bias.detach())


def test_batchnorm_statistics_and_settings_are_carried(tmp_path):
    m = _randomise_bn(BNHead()).eval()
    path = export_module(m, (2, 9, 9), tmp_path / "bn.onnx", dynamic=False)
    imp = import_onnx(path)
    bn1d = [n for n in imp.graph.nodes.values() if n.type == "batchnorm1d"]
    assert len(bn1d) == 1
    node = bn1d[0]
    torch.testing.assert_close(imp.state[f"{node.id}.running_mean"], m.bn1.running_mean)
    torch.testing.assert_close(imp.state[f"{node.id}.running_var"], m.bn1.running_var)
    # the MatMul + Add became one Fully connected layer with a bias
    lin = [n for n in imp.graph.nodes.values() if n.type == "linear"]
    assert len(lin) == 1 and lin[0].config["bias"] is True
    torch.testing.assert_close(imp.state[f"{lin[0].id}.weight"], m.w.detach().T)


class Unsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.fc = nn.Linear(12 * 6 * 6, 3)

    def forward(self, x):
        y = self.conv(x)
        a = torch.sin(y)  # no layer: Sin
        b = torch.abs(y)  # no layer: Abs
        c = y * 2.0  # scaling by a constant neither
        return self.fc(torch.cat([a, b, c], 1).flatten(1))


def test_every_unsupported_operator_is_named_at_once(tmp_path):
    path = export_module(Unsupported(), (1, 8, 8), tmp_path / "u.onnx")
    with pytest.raises(OnnxImportError) as e:
        import_onnx(path)
    text = str(e.value)
    assert "3 operators have no CNN Studio layer" in text and "nothing was imported" in text
    for op in ("(Sin)", "(Abs)", "(Mul)"):
        assert op in text
    assert "'/Sin'" in text  # by the ONNX node's name
    assert "Gemm" not in text and "Flatten" not in text  # nodes after them are not blamed


def test_input_shape_left_symbolic_needs_to_be_given(tmp_path):
    import onnx

    path = export_module(LeNet(), (1, 28, 28), tmp_path / "lenet.onnx")
    m = onnx.load(str(path))
    m.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "h"
    onnx.save(m, str(path))
    with pytest.raises(OnnxImportError, match="height is not fixed"):
        import_onnx(path)
    imp = import_onnx(path, input_shape=(1, 28, 28))
    assert imp.graph.nodes["input"].config == {"channels": 1, "height": 28, "width": 28}
    with pytest.raises(OnnxImportError, match="channels is fixed at 1"):
        import_onnx(path, input_shape=(3, 28, 28))


class NewLayers(nn.Module):
    """Issue 13's newer layers as torch.onnx writes them: GroupNorm (Reshape + InstanceNormalization
    + Reshape + Mul + Add), ReLU6 (Clip 0..6), an SE block (mean over H,W, 1x1 convs, Mul), a
    transposed conv, InstanceNorm, Hardswish, an asymmetric F.pad, LayerNorm over C,H,W, a view back
    to a map (Reshape) and nearest and bilinear upsampling (Resize)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.gn = nn.GroupNorm(2, 8)
        self.se1, self.se2 = nn.Conv2d(8, 4, 1), nn.Conv2d(4, 8, 1)
        self.up = nn.ConvTranspose2d(8, 6, 2, stride=2)
        self.inorm = nn.InstanceNorm2d(6, affine=True)
        self.c2 = nn.Conv2d(6, 4, 3, stride=2)
        self.ln = nn.LayerNorm([4, 8, 8])
        self.fc = nn.Linear(4 * 8 * 8, 4 * 4 * 4)
        self.c3 = nn.Conv2d(4, 5, 3, padding=1)

    def forward(self, x):
        x = F.relu6(self.gn(self.c1(x)))
        x = x * torch.sigmoid(self.se2(F.relu(self.se1(x.mean((2, 3), keepdim=True)))))
        x = F.hardswish(self.inorm(self.up(x)))
        x = self.ln(self.c2(F.pad(x, (0, 1, 0, 1))))
        x = self.fc(x.flatten(1)).view(-1, 4, 4, 4)
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = F.interpolate(self.c3(x), scale_factor=2, mode="bilinear", align_corners=False)
        return x.mean((2, 3))


def _randomise_affine(m: nn.Module) -> nn.Module:
    g = torch.Generator().manual_seed(2)
    for mod in m.modules():
        if isinstance(mod, (nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d)):
            mod.weight.data.copy_(torch.randn(mod.weight.shape, generator=g))
            mod.bias.data.copy_(torch.randn(mod.bias.shape, generator=g))
    return m


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
def test_newer_layers_import_as_their_catalogue_types(tmp_path, exporter):
    module = _randomise_affine(NewLayers()).eval()
    path = export_module(module, (3, 8, 8), tmp_path / "new.onnx", exporter)
    imp = import_onnx(path)
    types = [n.type for n in imp.graph.nodes.values()]
    for t in ("groupnorm", "relu6", "mean_hw", "multiply", "conv_transpose2d", "instancenorm2d", "hardswish",
              "zeropad2d", "layernorm", "reshape", "upsample"):
        assert t in types, t
    gn = next(n for n in imp.graph.nodes.values() if n.type == "groupnorm")
    assert gn.config["num_groups"] == 2 and gn.config["affine"] is True
    torch.testing.assert_close(imp.state[f"{gn.id}.weight"], module.gn.weight.detach())
    pad = next(n for n in imp.graph.nodes.values() if n.type == "zeropad2d")
    assert (pad.config["left"], pad.config["right"], pad.config["top"], pad.config["bottom"]) == (0, 1, 0, 1)
    x = torch.randn(3, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    np.testing.assert_allclose(imported_run(imp, x), ort_run(path, x), atol=1e-5, rtol=0)
