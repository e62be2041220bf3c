"""Ready-made networks. ``build(name, input_shape=(C, H, W), num_classes=N)`` returns a Graph.

alexnet, vgg11, vgg16 and resnet18 follow torchvision's definitions, with node ids derived from
torchvision's module paths (``features.0`` -> ``features_0``, ``layer1.0.conv1`` ->
``layer1_0_conv1``), so a torchvision state_dict maps onto them key for key.

Every template states the smallest input it fits (``Template.min_size``, in pixels per side) and
the rule it applies to fit an input (``Template.fit_rule``); ``build`` refuses smaller inputs with a
:class:`TemplateInputError` naming that minimum, instead of padding or producing an invalid graph.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .errors import StudioError
from .graph import Graph
from .layout import apply_layout

Shape3 = tuple[int, int, int]


class TemplateInputError(StudioError):
    """The input shape is too small (or malformed) for a template."""


@dataclass(frozen=True)
class Template:
    name: str
    summary: str
    default_input: Shape3
    default_classes: int
    builder: Callable[[Graph, Shape3, int], None]
    min_size: int = 1  # smallest height and width the template fits
    fit_rule: str = "any input size: the layers keep their sizes and the shapes follow the input"


_TEMPLATES: dict[str, Template] = {}


def _template(name: str, summary: str, default_input: Shape3, default_classes: int = 10, min_size: int = 1, fit_rule: str = ""):
    def deco(fn):
        rule = fit_rule or Template.fit_rule
        _TEMPLATES[name] = Template(name, summary, default_input, default_classes, fn, min_size, rule)
        return fn

    return deco


def names() -> list[str]:
    return list(_TEMPLATES)


def get(name: str) -> Template:
    try:
        return _TEMPLATES[name]
    except KeyError:
        raise StudioError(f"unknown template '{name}'; choose one of {', '.join(_TEMPLATES)}") from None


def build(name: str, input_shape: tuple[int, int, int] | None = None, num_classes: int | None = None) -> Graph:
    t = get(name)
    shape = tuple(input_shape) if input_shape is not None else t.default_input
    if len(shape) != 3 or any((not isinstance(s, int)) or isinstance(s, bool) or s < 1 for s in shape):
        raise TemplateInputError(f"input shape must be three positive whole numbers C, H, W; got {shape}")
    if min(shape[1], shape[2]) < t.min_size:
        raise TemplateInputError(
            f"{name} needs an input of at least {t.min_size}x{t.min_size} pixels, got {shape[0]}x{shape[1]}x{shape[2]} "
            f"({t.fit_rule}); resize the data to at least {t.min_size}x{t.min_size} or choose a template for small "
            f"images ({', '.join(n for n, o in _TEMPLATES.items() if o.min_size <= min(shape[1], shape[2]))})"
        )
    classes = t.default_classes if num_classes is None else num_classes
    if not isinstance(classes, int) or isinstance(classes, bool) or classes < 2:
        raise TemplateInputError(f"class count must be a whole number of at least 2 (a classifier tells classes apart); got {classes}")
    g = Graph(name)
    t.builder(g, shape, classes)  # type: ignore[arg-type]
    apply_layout(g)
    return g


class _Chain:
    """Small helper: append nodes one after another."""

    def __init__(self, g: Graph, shape: Shape3):
        self.g = g
        c, h, w = shape
        self.last = g.add_node("input", {"channels": c, "height": h, "width": w}, node_id="input").id

    def add(self, node_id: str, type_id: str, **cfg) -> str:
        self.g.add_node(type_id, cfg, node_id=node_id)
        self.g.connect(self.last, node_id)
        self.last = node_id
        return node_id

    def head(self, num_classes: int, loss: str = "cross_entropy") -> None:
        self.add("loss", loss)


_LENET_RULE = ("inputs of 16 to 31 pixels get C1 zero padding that brings them to 32, as the paper pads 28x28 "
               "digits by 2; 32 and larger are used as they are")


def _lenet_pad(shape: Shape3) -> int:
    """C1's padding: up to 32 pixels (28x28 digits get the classic 2-pixel border); 32 and above
    none. build() has already refused inputs below 16, so the padding is at most 8."""
    return max(0, (32 - min(shape[1], shape[2]) + 1) // 2)


@_template("lenet5", "LeNet-5 (LeCun 1998): two conv + subsampling stages, C5, F6; ~62k parameters", (1, 32, 32),
           min_size=16, fit_rule=_LENET_RULE)
def _lenet5(g: Graph, shape: Shape3, nc: int) -> None:
    _lenet(g, shape, nc, "tanh", "avgpool2d")


def _lenet(g: Graph, shape: Shape3, nc: int, act: str, pool: str) -> None:
    c = _Chain(g, shape)
    pad = _lenet_pad(shape)
    c.add("c1", "conv2d", out_channels=6, kernel_size=5, padding=pad)
    c.add("c1_act", act)
    c.add("s2", pool, kernel_size=2)
    c.add("c3", "conv2d", out_channels=16, kernel_size=5)
    c.add("c3_act", act)
    c.add("s4", pool, kernel_size=2)
    c.add("c5", "conv2d", out_channels=120, kernel_size=5)
    c.add("c5_act", act)
    c.add("flatten", "flatten")
    c.add("f6", "linear", out_features=84)
    c.add("f6_act", act)
    c.add("output", "linear", out_features=nc)
    c.head(nc)


@_template("lenet5_relu", "LeNet-5 with ReLU and max pooling in place of tanh and average subsampling: over 90% on "
           "the built-in shapes in 10 epochs (the first-run network)", (3, 32, 32), min_size=16, fit_rule=_LENET_RULE)
def _lenet5_relu(g: Graph, shape: Shape3, nc: int) -> None:
    # the same layers, node ids and parameters as lenet5, so the two compare layer for layer
    _lenet(g, shape, nc, "relu", "maxpool2d")


@_template("tinyvgg", "Tiny VGG of CNN Explainer: two blocks of two 3x3 convs (10 filters) and a max pool", (3, 64, 64),
           min_size=16, fit_rule="four unpadded 3x3 convolutions and two 2x2 max pools leave a map of at least 1x1")
def _tinyvgg(g: Graph, shape: Shape3, nc: int) -> None:
    c = _Chain(g, shape)
    for block in (1, 2):
        for i in (1, 2):
            c.add(f"conv_{block}_{i}", "conv2d", out_channels=10, kernel_size=3)
            c.add(f"relu_{block}_{i}", "relu")
        c.add(f"max_pool_{block}", "maxpool2d", kernel_size=2)
    c.add("flatten", "flatten")
    c.add("output", "linear", out_features=nc)
    c.head(nc)


@_template("alexnet", "AlexNet as torchvision defines it (5 conv, 3 FC, dropout); needs at least 63x63 input", (3, 224, 224), 1000,
           min_size=63, fit_rule="the stride-4 11x11 convolution and three 3x3 stride-2 max pools need 63 pixels; adaptive pooling to 6x6 takes any larger size")
def _alexnet(g: Graph, shape: Shape3, nc: int) -> None:
    c = _Chain(g, shape)
    c.add("features_0", "conv2d", out_channels=64, kernel_size=11, stride=4, padding=2)
    c.add("features_1", "relu")
    c.add("features_2", "maxpool2d", kernel_size=3, stride=2)
    c.add("features_3", "conv2d", out_channels=192, kernel_size=5, padding=2)
    c.add("features_4", "relu")
    c.add("features_5", "maxpool2d", kernel_size=3, stride=2)
    c.add("features_6", "conv2d", out_channels=384, kernel_size=3, padding=1)
    c.add("features_7", "relu")
    c.add("features_8", "conv2d", out_channels=256, kernel_size=3, padding=1)
    c.add("features_9", "relu")
    c.add("features_10", "conv2d", out_channels=256, kernel_size=3, padding=1)
    c.add("features_11", "relu")
    c.add("features_12", "maxpool2d", kernel_size=3, stride=2)
    c.add("avgpool", "adaptive_avgpool2d", output_size=6)
    c.add("flatten", "flatten")
    c.add("classifier_0", "dropout", p=0.5)
    c.add("classifier_1", "linear", out_features=4096)
    c.add("classifier_2", "relu")
    c.add("classifier_3", "dropout", p=0.5)
    c.add("classifier_4", "linear", out_features=4096)
    c.add("classifier_5", "relu")
    c.add("classifier_6", "linear", out_features=nc)
    c.head(nc)


_VGG_CFG = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


def _vgg(cfg: list, g: Graph, shape: Shape3, nc: int) -> None:
    c = _Chain(g, shape)
    i = 0
    for v in cfg:
        if v == "M":
            c.add(f"features_{i}", "maxpool2d", kernel_size=2, stride=2)
            i += 1
        else:
            c.add(f"features_{i}", "conv2d", out_channels=v, kernel_size=3, padding=1)
            c.add(f"features_{i + 1}", "relu")
            i += 2
    c.add("avgpool", "adaptive_avgpool2d", output_size=7)
    c.add("flatten", "flatten")
    c.add("classifier_0", "linear", out_features=4096)
    c.add("classifier_1", "relu")
    c.add("classifier_2", "dropout", p=0.5)
    c.add("classifier_3", "linear", out_features=4096)
    c.add("classifier_4", "relu")
    c.add("classifier_5", "dropout", p=0.5)
    c.add("classifier_6", "linear", out_features=nc)
    c.head(nc)


@_template("vgg11", "VGG-11 (configuration A) as torchvision defines it; needs at least 32x32 input", (3, 224, 224), 1000,
           min_size=32, fit_rule="five 2x2 max pools halve the size five times; adaptive pooling to 7x7 takes any larger size")
def _vgg11(g: Graph, shape: Shape3, nc: int) -> None:
    _vgg(_VGG_CFG["vgg11"], g, shape, nc)


@_template("vgg16", "VGG-16 (configuration D) as torchvision defines it; needs at least 32x32 input", (3, 224, 224), 1000,
           min_size=32, fit_rule="five 2x2 max pools halve the size five times; adaptive pooling to 7x7 takes any larger size")
def _vgg16(g: Graph, shape: Shape3, nc: int) -> None:
    _vgg(_VGG_CFG["vgg16"], g, shape, nc)


@_template("resnet18", "ResNet-18 as torchvision defines it: residual basic blocks with Add skips, global pooling", (3, 224, 224), 1000,
           fit_rule="any input size: padded convolutions and global average pooling fit every size")
def _resnet18(g: Graph, shape: Shape3, nc: int) -> None:
    c = _Chain(g, shape)
    c.add("conv1", "conv2d", out_channels=64, kernel_size=7, stride=2, padding=3, bias=False)
    c.add("bn1", "batchnorm2d")
    c.add("relu", "relu")
    c.add("maxpool", "maxpool2d", kernel_size=3, stride=2, padding=1)
    in_planes = 64
    for li, planes in enumerate((64, 128, 256, 512), start=1):
        for bi in (0, 1):
            stride = 2 if (li > 1 and bi == 0) else 1
            p = f"layer{li}_{bi}_"
            block_in = c.last
            c.add(p + "conv1", "conv2d", out_channels=planes, kernel_size=3, stride=stride, padding=1, bias=False)
            c.add(p + "bn1", "batchnorm2d")
            c.add(p + "relu1", "relu")
            c.add(p + "conv2", "conv2d", out_channels=planes, kernel_size=3, stride=1, padding=1, bias=False)
            main = c.add(p + "bn2", "batchnorm2d")
            shortcut = block_in
            if stride != 1 or in_planes != planes:
                g.add_node("conv2d", {"out_channels": planes, "kernel_size": 1, "stride": stride, "bias": False}, node_id=p + "downsample_0")
                g.connect(block_in, p + "downsample_0")
                g.add_node("batchnorm2d", {}, node_id=p + "downsample_1")
                g.connect(p + "downsample_0", p + "downsample_1")
                shortcut = p + "downsample_1"
            g.add_node("add", {"inputs": 2}, node_id=p + "add")
            g.connect(main, p + "add", 0, 0)
            g.connect(shortcut, p + "add", 0, 1)
            c.last = p + "add"
            c.add(p + "relu2", "relu")
            in_planes = planes
    c.add("avgpool", "adaptive_avgpool2d", output_size=1)
    c.add("flatten", "flatten")
    c.add("fc", "linear", out_features=nc)
    c.head(nc)


@_template("mlp", "Multi-layer perceptron baseline: no convolution, every pixel wired to every unit", (3, 32, 32),
           fit_rule="any input size: the first layer takes every pixel")
def _mlp(g: Graph, shape: Shape3, nc: int) -> None:
    c = _Chain(g, shape)
    c.add("flatten", "flatten")
    c.add("fc1", "linear", out_features=512)
    c.add("relu1", "relu")
    c.add("fc2", "linear", out_features=256)
    c.add("relu2", "relu")
    c.add("output", "linear", out_features=nc)
    c.head(nc)


# templates built from blocks (ResNet-34/50, MobileNetV2, U-Net) register themselves on import
from . import templates_blocks  # noqa: E402,F401
