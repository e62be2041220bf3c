"""Templates built from blocks: ResNet-34, ResNet-50, MobileNetV2 (torchvision layouts) and a small U-Net.

Each network keeps torchvision's module tree as nested block instances whose inner node ids are the
module names (``layer1`` -> a ``Layer1`` instance holding ``0``, ``1``... BasicBlock instances, each
holding ``conv1``, ``bn1``...), so the compiled state_dict keys are torchvision's
(``layer1.0.conv1.weight``, ``features.3.conv.1.0.weight``) and its weights load 1:1 with strict=True.
One definition per distinct block (e.g. every 64-wide BasicBlock of ResNet-34 shares ``Basic64``), so
the canvas shows a handful of block types and the project file stores each once.

The templates are registered by :mod:`.templates` importing this module (``_template`` lives there).
"""
from __future__ import annotations

from .block_check import validate_definitions
from .graph import Graph, chain
from .templates import Shape3, _template

_ANY_SIZE = "any input size: padded convolutions and global average pooling fit every size"


class _Defs:
    """The definitions of one template build, gathered and then checked and loaded at once
    (``blocks.define`` checks the whole table on every call: MobileNetV2's 44 definitions took
    4x longer that way). Definitions are added dependencies first, as the table keeps them."""

    def __init__(self, g: Graph):
        self.g = g
        self.cfgs: dict[str, dict] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.cfgs

    def inner(self, name: str) -> Graph:
        return Graph(name, inner=True, blocks=self.g.blocks)

    def define(self, name: str, inner: Graph, inputs: list[list[tuple[str, int]]], output: str) -> None:
        cfg = inner.to_config()
        self.cfgs[name] = {"name": name, "nodes": cfg["nodes"], "edges": cfg["edges"],
                           "inputs": [[[n, p] for n, p in targets] for targets in inputs], "output": output}

    def commit(self) -> None:
        defs = list(self.cfgs.values())
        top = self.g.to_config()
        validate_definitions(defs, source=f"the {self.g.name} template", top_nodes=top["nodes"])
        self.g.replace_with({**top, "blocks": defs})


def _define_seq(g: _Defs, name: str, parts: list[str]) -> None:
    """A definition holding instances of ``parts`` in a chain, ids ``0``, ``1``... (an nn.Sequential of blocks)."""
    inner = g.inner(name)
    prev = None
    for i, part in enumerate(parts):
        inner.add_node("block", {"block": part, "inputs": 1}, node_id=str(i))
        if prev is not None:
            inner.connect(prev, str(i))
        prev = str(i)
    assert prev is not None
    g.define(name, inner, [[("0", 0)]], prev)


def _define_chain(g: _Defs, name: str, steps: list[tuple[str, dict, str]]) -> None:
    """A definition holding a chain of layers (ids given), one input into the first, output the last."""
    inner = g.inner(name)
    last = chain(inner, steps)
    g.define(name, inner, [[(steps[0][2], 0)]], last)


def _use(d: _Defs, name: str, node_id: str, after: str) -> str:
    """A top-level instance of ``name`` after node ``after`` (checked when the definitions are committed)."""
    d.g.add_node("block", {"block": name, "inputs": 1}, node_id=node_id)
    d.g.connect(after, node_id)
    return node_id


def _input(g: Graph, shape: Shape3) -> str:
    c, h, w = shape
    return g.add_node("input", {"channels": c, "height": h, "width": w}, node_id="input").id


def _conv(out: int, k: int, stride: int = 1, padding: int = 0, groups: int = 1) -> dict:
    cfg = {"out_channels": out, "kernel_size": k, "stride": stride, "padding": padding, "bias": False}
    if groups != 1:
        cfg["groups"] = groups
    return cfg


# ---------------------------------------------------------------------------------- ResNet
def _downsample(g: _Defs, name: str, out: int, stride: int) -> str:
    """torchvision's shortcut projection: ``downsample.0`` 1x1 conv (stride), ``downsample.1`` batch norm."""
    if name not in g:
        _define_chain(g, name, [("conv2d", _conv(out, 1, stride), "0"), ("batchnorm2d", {}, "1")])
    return name


def _residual(g: _Defs, name: str, steps: list[tuple[str, dict, str]], downsample: str | None) -> str:
    """main path ``steps`` + shortcut (identity or a ``downsample`` instance) -> add -> relu."""
    inner = g.inner(name)
    main = chain(inner, steps)
    inner.add_node("add", {"inputs": 2}, node_id="add")
    inner.connect(main, "add", 0, 0)
    chain(inner, [("relu", {}, "relu")], "add")
    targets = [(steps[0][2], 0)]
    if downsample:
        inner.add_node("block", {"block": downsample, "inputs": 1}, node_id="downsample")
        inner.connect("downsample", "add", 0, 1)
        targets.append(("downsample", 0))
    else:
        targets.append(("add", 1))
    g.define(name, inner, [targets], "relu")
    return name


def _basic(g: _Defs, planes: int, stride: int, downsample: str | None) -> str:
    name = f"Basic{planes}" + ("Down" if downsample else "")
    if name not in g:
        _residual(g, name, [
            ("conv2d", _conv(planes, 3, stride, 1), "conv1"), ("batchnorm2d", {}, "bn1"), ("relu", {}, "relu1"),
            ("conv2d", _conv(planes, 3, 1, 1), "conv2"), ("batchnorm2d", {}, "bn2"),
        ], downsample)
    return name


def _bottleneck(g: _Defs, planes: int, stride: int, downsample: str | None) -> str:
    """torchvision's Bottleneck (ResNet v1.5: the stride sits on the 3x3 conv2); expansion 4."""
    name = f"Bottleneck{planes}" + ("Down" if downsample else "")
    if name not in g:
        _residual(g, name, [
            ("conv2d", _conv(planes, 1), "conv1"), ("batchnorm2d", {}, "bn1"), ("relu", {}, "relu1"),
            ("conv2d", _conv(planes, 3, stride, 1), "conv2"), ("batchnorm2d", {}, "bn2"), ("relu", {}, "relu2"),
            ("conv2d", _conv(planes * 4, 1), "conv3"), ("batchnorm2d", {}, "bn3"),
        ], downsample)
    return name


def _resnet(top: Graph, shape: Shape3, nc: int, layers: tuple[int, ...], bottleneck: bool) -> None:
    """torchvision.models.ResNet: stem, four stages ``layer1``..``layer4`` of blocks, avgpool, fc."""
    g = _Defs(top)
    last = chain(top, [
        ("conv2d", _conv(64, 7, 2, 3), "conv1"), ("batchnorm2d", {}, "bn1"), ("relu", {}, "relu"),
        ("maxpool2d", {"kernel_size": 3, "stride": 2, "padding": 1}, "maxpool"),
    ], _input(top, shape))
    expansion = 4 if bottleneck else 1
    make = _bottleneck if bottleneck else _basic
    in_ch = 64
    for li, (planes, count) in enumerate(zip((64, 128, 256, 512), layers), start=1):
        stride = 1 if li == 1 else 2
        down = None
        if stride != 1 or in_ch != planes * expansion:
            down = _downsample(g, f"Down{planes * expansion}" + ("s2" if stride == 2 else ""), planes * expansion, stride)
        first = make(g, planes, stride, down)
        rest = make(g, planes, 1, None)
        _define_seq(g, f"Layer{li}", [first] + [rest] * (count - 1))
        last = _use(g, f"Layer{li}", f"layer{li}", last)
        in_ch = planes * expansion
    chain(top, [("adaptive_avgpool2d", {"output_size": 1}, "avgpool"), ("flatten", {}, "flatten"),
              ("linear", {"out_features": nc}, "fc"), ("cross_entropy", {}, "loss")], last)
    g.commit()


@_template("resnet34", "ResNet-34 as torchvision defines it, from blocks: 3-4-6-3 basic residual blocks; 21.8M parameters at 1000 classes",
           (3, 224, 224), 1000, fit_rule=_ANY_SIZE)
def _resnet34(g: Graph, shape: Shape3, nc: int) -> None:
    _resnet(g, shape, nc, (3, 4, 6, 3), bottleneck=False)


@_template("resnet50", "ResNet-50 as torchvision defines it, from blocks: 3-4-6-3 bottleneck blocks (1x1, 3x3, 1x1); 25.6M parameters at 1000 classes",
           (3, 224, 224), 1000, fit_rule=_ANY_SIZE)
def _resnet50(g: Graph, shape: Shape3, nc: int) -> None:
    _resnet(g, shape, nc, (3, 4, 6, 3), bottleneck=True)


# ----------------------------------------------------------------------------- MobileNetV2
# torchvision's inverted_residual_setting: expansion t, output channels c, repeats n, first stride s
_MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def _conv_bn_relu6(g: _Defs, out: int, k: int, stride: int = 1, depthwise: bool = False) -> str:
    """torchvision's Conv2dNormActivation: ``0`` conv (padding (k-1)/2, no bias), ``1`` batch norm, ``2`` ReLU6.
    A depthwise one has groups = its channels (= ``out``: it keeps the channel count)."""
    name = f"ConvBNReLU6_{out}k{k}" + (f"s{stride}" if stride != 1 else "") + ("dw" if depthwise else "")
    if name not in g:
        _define_chain(g, name, [("conv2d", _conv(out, k, stride, (k - 1) // 2, out if depthwise else 1), "0"),
                                ("batchnorm2d", {}, "1"), ("relu6", {}, "2")])
    return name


def _inverted_residual(g: _Defs, inp: int, oup: int, stride: int, t: int) -> str:
    """torchvision's InvertedResidual: ``conv`` = [1x1 expand (t > 1)], 3x3 depthwise, 1x1 linear
    projection ``conv.N``, its batch norm; the input is added back when the shape is kept."""
    tag = f"{inp}_{oup}" + (f"s{stride}" if stride != 1 else "")
    name = f"InvertedResidual{tag}"
    if name in g:
        return name
    hidden = inp * t
    steps: list[tuple[str, dict, str]] = []
    if t != 1:
        steps.append(("block", {"block": _conv_bn_relu6(g, hidden, 1), "inputs": 1}, "0"))
    steps.append(("block", {"block": _conv_bn_relu6(g, hidden, 3, stride, depthwise=True), "inputs": 1}, str(len(steps))))
    steps.append(("conv2d", _conv(oup, 1), str(len(steps))))
    steps.append(("batchnorm2d", {}, str(len(steps))))
    _define_chain(g, f"InvertedConv{tag}", steps)
    inner = g.inner(name)
    inner.add_node("block", {"block": f"InvertedConv{tag}", "inputs": 1}, node_id="conv")
    if stride == 1 and inp == oup:  # use_res_connect
        inner.add_node("add", {"inputs": 2}, node_id="add")
        inner.connect("conv", "add", 0, 0)
        g.define(name, inner, [[("conv", 0), ("add", 1)]], "add")
    else:
        g.define(name, inner, [[("conv", 0)]], "conv")
    return name


@_template("mobilenet_v2", "MobileNetV2 as torchvision defines it, from blocks: 17 inverted residuals (1x1 expand, 3x3 depthwise, "
           "linear 1x1 projection) with ReLU6; 3.5M parameters at 1000 classes", (3, 224, 224), 1000, fit_rule=_ANY_SIZE)
def _mobilenet_v2(top: Graph, shape: Shape3, nc: int) -> None:
    g = _Defs(top)
    parts = [_conv_bn_relu6(g, 32, 3, 2)]
    inp = 32
    for t, c, n, s in _MOBILENET_V2:
        for i in range(n):
            parts.append(_inverted_residual(g, inp, c, s if i == 0 else 1, t))
            inp = c
    parts.append(_conv_bn_relu6(g, 1280, 1))
    _define_seq(g, "Features", parts)
    _define_chain(g, "Classifier", [("dropout", {"p": 0.2}, "0"), ("linear", {"out_features": nc}, "1")])
    last = _use(g, "Features", "features", _input(top, shape))
    last = chain(top, [("adaptive_avgpool2d", {"output_size": 1}, "avgpool"), ("flatten", {}, "flatten")], last)
    chain(top, [("cross_entropy", {}, "loss")], _use(g, "Classifier", "classifier", last))
    g.commit()


# ---------------------------------------------------------------------------------- U-Net
_UNET_RULE = ("at least 8x8: three 2x2 max pools halve the map three times; a transposed convolution gets output "
              "padding 1 on an axis whose size before the pool was odd, so every skip concatenation matches")


def _double_conv(g: _Defs, out: int) -> str:
    """U-Net's unit: (3x3 conv, batch norm, ReLU) twice; the size is kept."""
    name = f"DoubleConv{out}"
    if name not in g:
        _define_chain(g, name, [("conv2d", _conv(out, 3, 1, 1), "conv1"), ("batchnorm2d", {}, "bn1"), ("relu", {}, "relu1"),
                                ("conv2d", _conv(out, 3, 1, 1), "conv2"), ("batchnorm2d", {}, "bn2"), ("relu", {}, "relu2")])
    return name


@_template("unet", "Small U-Net (Ronneberger 2015) for images: a DoubleConv encoder of 16-32-64 channels, a 128-channel "
           "bottom, a decoder of 2x2 transposed convolutions with concatenated skips, per-pixel class scores (1x1 conv) "
           "averaged into image scores for the cross-entropy loss", (3, 64, 64), 10, min_size=8, fit_rule=_UNET_RULE)
def _unet(top: Graph, shape: Shape3, nc: int) -> None:
    g = _Defs(top)
    widths = (16, 32, 64)
    sizes = [(shape[1], shape[2])]
    for _ in widths:
        sizes.append((sizes[-1][0] // 2, sizes[-1][1] // 2))
    last = _input(top, shape)
    skips = []
    for i, wd in enumerate(widths, start=1):
        last = _use(g, _double_conv(g, wd), f"enc{i}", last)
        skips.append(last)
        last = chain(top, [("maxpool2d", {"kernel_size": 2, "stride": 2}, f"pool{i}")], last)
    last = _use(g, _double_conv(g, 128), "bottom", last)
    for i in range(len(widths), 0, -1):
        before = sizes[i - 1]  # the skip's size: 2x the pooled size, plus 1 where it was odd
        up = chain(top, [("conv_transpose2d", {"out_channels": widths[i - 1], "kernel_size": 2, "stride": 2, "bias": True,
                                            "output_padding": [before[0] % 2, before[1] % 2]}, f"up{i}")], last)
        top.add_node("concat", {"inputs": 2}, node_id=f"cat{i}")
        top.connect(skips[i - 1], f"cat{i}", 0, 0)  # skip first, as in the paper's crop-and-copy
        top.connect(up, f"cat{i}", 0, 1)
        last = _use(g, _double_conv(g, widths[i - 1]), f"dec{i}", f"cat{i}")
    # the segmentation head: one score map per class (nc x H x W); the catalogue's cross-entropy takes
    # one score per class, so the maps are averaged over the image for classification datasets
    chain(top, [("conv2d", {"out_channels": nc, "kernel_size": 1}, "scores"), ("adaptive_avgpool2d", {"output_size": 1}, "avgpool"),
              ("flatten", {}, "flatten"), ("cross_entropy", {}, "loss")], last)
    g.commit()
